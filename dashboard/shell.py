"""What every page sits in: the header (the caller's pages, the language toggle, log out), the
reader's language, and the pulse that tells the pages when new data has arrived.

No page polls its data: nodes report every 15 minutes, so a slow clock (`refresh_s`) asks
the server one small question, "when is the newest reading?" (a few bytes), and the pages
redraw only when the answer changes, or when the store's state does (stale or back).
"""

from __future__ import annotations

import logging
from typing import Any

from dash import (
    Dash,
    Input,
    Output,
    State,
    ctx,
    dcc,
    html,
    no_update,
    page_container,
    set_props,
)
from flask import current_app, request

from backend.i18n import N_, t
from backend.identity import Principal
from backend.node_health import NodeView, latest_by_node
from dashboard import site_clock
from dashboard.api.context import current_principal, services
from dashboard.data import ForecastView, latest_forecasts
from dashboard.reads import Answer, Reads
from dashboard.ui import language

log = logging.getLogger(__name__)

READS = "ruong_reads"  # where create_app keeps the Reads in the Flask app's extensions
LANG_COOKIE = "ruong_lang"  # the reader's language, for the login page (dashboard/login.py)

# (path, message id of its name, the roles it is for), in the header's order
NAV = (
    ("/today", N_("nav.today"), ("farmer",)),
    ("/commune", N_("nav.commune"), ("officer",)),
    ("/fleet", N_("nav.fleet"), ("technician", "admin")),
    ("/admin", N_("nav.admin"), ("admin",)),
    ("/report", N_("nav.report"), ("officer", "viewer", "admin")),
)


def reads() -> Reads:
    """The app's store reads (one per server, shared by every page and session)."""
    found: Reads = current_app.extensions[READS]
    return found


def latest_nodes() -> Answer[list[NodeView]]:
    """Every node's newest values (backend.node_health), cached; callers filter by scope."""
    return reads().get(("latest_by_node",), latest_by_node)


def forecasts() -> Answer[dict[tuple[str, str], list[ForecastView]]]:
    """The newest forecast of each kind per (farm, field), cached; callers filter by scope."""
    now = now_ms()  # here: the read runs on a pool thread, outside the app (no clock there)
    return reads().get(("forecasts",), lambda store: latest_forecasts(store, now))


def now_ms() -> int:
    """The site's now (Unix ms): the demo's clock may run ahead of the real one."""
    return site_clock.now_ms()


def layout(refresh_s: float) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="lang", storage_type="local"),
            dcc.Store(id="pulse"),
            dcc.Interval(id="pulse-clock", interval=int(refresh_s * 1000)),
            html.Header(
                [
                    html.A("Ruộng", href="/", className="navbar-brand fw-bold me-2"),
                    html.Nav(id="nav", className="d-flex flex-wrap align-items-center gap-2"),
                    html.Button(id="lang-toggle", className="btn btn-link btn-sm ms-auto p-0"),
                    html.A(id="logout", href="/logout", className="link-secondary small ms-2"),
                ],
                className="d-flex flex-wrap align-items-center border-bottom py-2 mb-2",
            ),
            html.Div(id="page-error", role="alert"),
            page_container,
        ],
        className="container-fluid ruong",
    )


def pulse_value(principal: Principal | None) -> dict[str, Any]:
    """The newest reading time of the caller's nodes and whether it is stale."""
    if principal is None:
        return {"t": None, "stale": False}
    answer = latest_nodes()
    fields = {(f.farm, f.name) for f in services().scope.fields(principal)}
    times = [v.time_ms for v in answer.value or [] if (v.farm, v.field) in fields]
    return {"t": max(times) if times else None, "stale": answer.stale}


def on_error(error: Exception) -> None:
    """Any callback's failure: logged with its traceback on the server, and the reader gets
    one sentence in their language (the callback's outputs stay as they were)."""
    log.error("dashboard callback failed", exc_info=error)
    lang = language(request.cookies.get(LANG_COOKIE))
    set_props(
        "page-error", {"children": t("ui.error", lang), "className": "alert alert-danger py-2"}
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("lang", "data"),
        Input("lang-toggle", "n_clicks"),
        State("lang", "data"),
    )
    def choose_language(n_clicks: int | None, current: str | None) -> str:
        """Vietnamese unless the reader chose English; the choice stays in the browser
        (local storage) and in a cookie for the login page."""
        lang = language(current)
        if ctx.triggered_id == "lang-toggle" and n_clicks:
            lang = "en" if lang == "vi" else "vi"
        ctx.response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax")
        return lang

    @app.callback(
        Output("nav", "children"),
        Output("lang-toggle", "children"),
        Output("logout", "children"),
        Input("lang", "data"),
    )
    def nav(lang: str | None) -> tuple[list[Any], str, str]:
        """The pages of the caller's roles, the other language's name, log out."""
        lang = language(lang)
        principal = current_principal()
        links = [
            html.A(t(name, lang), href=path, className="link-secondary small")
            for path, name, roles in NAV
            if principal is not None and principal.has(*roles)
        ]
        return links, t("language", lang), t("nav.logout", lang)

    @app.callback(
        Output("pulse", "data"),
        Input("pulse-clock", "n_intervals"),
        State("pulse", "data"),
    )
    def pulse(_n: int | None, current: dict[str, Any] | None) -> Any:
        value = pulse_value(current_principal())
        return no_update if value == current else value
