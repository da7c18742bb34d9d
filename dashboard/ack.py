"""`/ack/<alert id>`: the page a message's signed one-tap link opens (backend/alerts/links.py).
GET shows the alert and one button; only the button's POST acknowledges, as the person the
link was made for, with what they write they did (kept for the season report). No login: the
signature is the proof; a forged, altered or expired link is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from flask import Flask, Response, make_response, request

from backend.alerts.links import verify
from backend.alerts.store import AlertStore
from backend.i18n import render, t
from dashboard import site_clock
from dashboard.api.context import client_address, services

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ruộng</title><link rel="stylesheet" href="/vendor/bootstrap.min.css"></head>
<body class="bg-light"><main class="container" style="max-width: 26rem">
<h1 class="h4 my-4">Ruộng</h1>{body}</main></body></html>
"""


def _page(body: str, status: int = 200) -> Response:
    response = make_response(_PAGE.format(body=body), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the signature stays off other sites
    return response


def ack_page(alert_id: int) -> Response:
    lang = "vi"
    args = request.values
    person = verify(
        services().link_secret,
        alert_id,
        args.get("p", ""),
        args.get("e", ""),
        args.get("s", ""),
        datetime.now(UTC),  # real: the link's lifetime is a credential's (backend/alerts/links.py)
    )
    store = AlertStore(services().engine, site_clock.site_clock())
    alerts = store.alerts(ids=[alert_id]) if person is not None else []
    if person is None or not alerts:
        refused = escape(t("ack.refused", lang))
        return _page(f'<div class="alert alert-warning" id="ack-refused">{refused}</div>', 403)
    (alert,) = alerts
    text = escape(render(alert.message, lang))
    if request.method == "GET":
        note_label, button = escape(t("ack.note", lang)), escape(t("ack.button", lang))
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{escape(args.get(k, ""))}">' for k in "pes"
        )
        return _page(
            f'<div class="alert alert-danger">{text}</div>'
            f'<form method="post" id="ack-form">{hidden}'
            f'<label class="form-label" for="note">{note_label}</label>'
            '<input class="form-control mb-3" id="note" name="note" maxlength="2000">'
            f'<button class="btn btn-success w-100" id="ack-submit">{button}</button>'
            "</form>"
        )
    note = (request.form.get("note") or "").strip()[:2000] or None
    store.acknowledge(alert_id, person, note)
    services().audit.record(
        f"user:{person}",
        "alert.ack",
        "success",
        target=f"alert:{alert_id}",
        client=client_address(),
    )
    done = escape(t("ack.done", lang))
    return _page(f'<div class="alert alert-success" id="ack-done">{done}</div>')


def install(server: Flask) -> None:
    server.add_url_rule("/ack/<int:alert_id>", "ack", ack_page, methods=["GET", "POST"])
