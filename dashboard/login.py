"""The dashboard's door: `/login` (phone number or username and password; a plain HTML form,
a few kB on a 3G phone), `/logout`, and the gate that sends anyone without a live session to
it, so no page and no Dash callback answers a stranger.

The form posts to the same login as the API (backend/accounts.py: Argon2id, throttling) and
the same audit events are written; the session is the API's HttpOnly cookie.
"""

from __future__ import annotations

import math
from html import escape

from flask import Flask, Response, make_response, redirect, request

from backend.i18n import t
from backend.identity import AuthError, Throttled
from dashboard.api.context import current_principal, log_in, log_out, set_session_cookie
from dashboard.shell import LANG_COOKIE

# reachable without a session: the door itself, the API (which answers 401 by itself), and
# static files that hold no data
OPEN_PREFIXES = ("/login", "/ack/", "/api/", "/_dash-component-suites/", "/assets/", "/vendor/")
# /metrics holds counts only, no data of anyone's (bind the server to an address your
# Prometheus reaches, not the world)
OPEN_PATHS = frozenset({"/_favicon.ico", "/favicon.ico", "/metrics"})
# Dash's own data endpoints: a stranger gets 401, not the login page's HTML
DASH_DATA = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ruộng — {title}</title>
<link rel="stylesheet" href="/vendor/bootstrap.min.css"></head>
<body class="bg-light"><main class="container" style="max-width: 26rem">
<h1 class="h4 my-4">Ruộng</h1>
{message}
<form method="post" action="/login?lang={lang}" id="login-form">
<div class="mb-3"><label class="form-label" for="login">{login_label}</label>
<input class="form-control" id="login" name="login" autocomplete="username"
 inputmode="tel" required value="{login}"></div>
<div class="mb-3"><label class="form-label" for="password">{password_label}</label>
<input class="form-control" id="password" name="password" type="password"
 autocomplete="current-password" required></div>
<button class="btn btn-success w-100" type="submit" id="login-submit">{submit}</button>
</form>
<p class="mt-3 small"><a href="/login?lang={other}">{other_name}</a></p>
</main></body></html>
"""


def _lang() -> str:
    lang = request.args.get("lang") or request.cookies.get(LANG_COOKIE) or "vi"
    return lang if lang in ("vi", "en") else "vi"


def _page(lang: str, message: str = "", login: str = "", status: int = 200) -> Response:
    alert = f'<div class="alert alert-warning" id="login-error">{escape(message)}</div>'
    html = _PAGE.format(
        lang=lang,
        title=escape(t("login.title", lang)),
        message=alert if message else "",
        login_label=escape(t("login.login", lang)),
        password_label=escape(t("login.password", lang)),
        submit=escape(t("login.submit", lang)),
        login=escape(login),
        other="en" if lang == "vi" else "vi",
        other_name=escape(t("language", lang)),
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def login_page() -> Response:
    lang = _lang()
    if request.method == "GET":
        return _page(lang)
    login = request.form.get("login", "")[:64]
    try:
        result = log_in(login, request.form.get("password", ""))
    except Throttled as exc:
        wait = math.ceil(exc.retry_after_s)
        response = _page(lang, t("login.throttled", lang, s=wait), login, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    except AuthError:
        return _page(lang, t("login.wrong", lang), login, 401)
    return set_session_cookie(make_response(redirect("/", 303)), result)


def logout_page() -> Response:
    return log_out(make_response(redirect("/login", 303)))


def gate() -> Response | None:
    """Before every request: a page without a live session goes to /login; Dash's data
    endpoints answer 401."""
    path = request.path
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    if current_principal() is not None:
        return None
    if path.startswith(DASH_DATA):
        return make_response({"message": "log in first"}, 401)
    return make_response(redirect("/login", 303))


def install(server: Flask) -> None:
    server.add_url_rule("/login", "login", login_page, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout_page, methods=["GET", "POST"])
    server.before_request(gate)
