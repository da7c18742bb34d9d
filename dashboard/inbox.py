"""The inbox of the commune overview (dashboard/pages/commune.py): the alerts firing on the
fields of the officer's communes, the unacknowledged first, each acknowledged in place with
what was done, through the API's own path (dashboard.api.alerts.acknowledge_alert).

The page hands in how the caller and their fields are resolved: every callback resolves
them on the server, and an alert outside those fields gets nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from dash import MATCH, Dash, Input, Output, State, ctx, dcc, html, no_update
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access import FieldInfo
from backend.alerts.model import Alert, Subject, SubjectKind
from backend.alerts.store import AlertStore, AlertView
from backend.i18n import ago, render, t
from backend.identity import Principal
from backend.schema import User
from dashboard import site_clock
from dashboard.api.alerts import AlertNotFound, acknowledge_alert, visible_alerts
from dashboard.api.context import services
from dashboard.ui import LOCAL, attr, clock, colour, language, level_dot

NOTE_MAX = 2000  # as the API's AckIn


def inbox_alerts(
    principal: Principal, fields: Sequence[FieldInfo]
) -> list[tuple[AlertView, datetime]]:
    """The alerts firing on the commune's `fields` that the API lists for the principal
    (dashboard/api/alerts.py), with when each fired: those not yet acknowledged first, then
    the most severe, then the newest."""
    ids = {f.id for f in fields}
    firing = AlertStore(services().engine).alerts("firing")
    mine = [a for a in visible_alerts(principal, firing) if a.field_id in ids]
    started = _started(mine)
    out = [(a, started.get(a.id, a.updated_at)) for a in mine]
    return sorted(out, key=lambda p: (p[0].acked_at is not None, -p[0].level, -p[1].timestamp()))


def _started(alerts: Sequence[AlertView]) -> dict[int, datetime]:
    """When each alert fired, from its lifecycle state (AlertView's `updated_at` is the last
    evaluation: a minute ago for every firing alert)."""
    if not alerts:
        return {}
    states = AlertStore(services().engine).live_states()
    out = {}
    for a in alerts:
        kind, _, ident = a.subject.partition(":")
        try:
            subject = Subject(cast(SubjectKind, kind), ident)
            state = states.get(Alert(a.rule, a.version, subject).fingerprint)
        except ValueError:  # not a subject reference: no start time to show
            continue
        if state is not None:
            out[a.id] = state.fired_at or state.started_at
    return out


def _names(user_ids: set[int]) -> dict[int, str]:
    """How the people who acknowledged are shown: their name, else their login."""
    if not user_ids:
        return {}
    query = select(User.id, User.name, User.username, User.phone).where(
        User.id.in_(sorted(user_ids))
    )
    with Session(services().engine) as session:
        return {i: n or u or p or "" for i, n, u, p in session.execute(query)}


def _moment(moment: datetime, now: datetime) -> str:
    """HH:MM in the province's time, with the day when it is not today."""
    local, today = moment.astimezone(LOCAL), now.astimezone(LOCAL)
    hhmm = clock(int(moment.timestamp() * 1000))
    return hhmm if local.date() == today.date() else f"{hhmm} {local:%d/%m}"


def acked_view(alert: AlertView, names: dict[int, str], lang: str) -> html.Div:
    """What an acknowledged alert shows instead of its form: who, when, what they did."""
    when = _moment(alert.acked_at or site_clock.now(), site_clock.now())
    who = names.get(alert.acked_by) if alert.acked_by is not None else None
    if who:
        words = t("inbox.acked", lang, who=who, when=when)
    else:  # acknowledged from the command line
        words = t("inbox.acked_anon", lang, when=when)
    parts: list[Any] = [html.Div(words, className="fw-semibold")]
    if alert.ack_note:
        parts.append(html.Div(t("inbox.did", lang, note=alert.ack_note)))
    return html.Div(parts, className="small text-success inbox-acked")


def ack_form(alert_id: int, lang: str) -> html.Div:
    """What was done (optional) and the button that acknowledges."""
    return html.Div(
        [
            dcc.Input(
                id={"type": "ack-note", "alert": alert_id},
                type="text",
                maxLength=NOTE_MAX,
                placeholder=t("inbox.note", lang),
                className="form-control form-control-sm",
            ),
            html.Button(
                t("inbox.ack", lang),
                id={"type": "ack", "alert": alert_id},
                className="btn btn-success btn-sm text-nowrap",
            ),
        ],
        className="d-flex gap-2",
    )


def inbox_view(principal: Principal, fields: Sequence[FieldInfo], lang: str) -> list[Any]:
    """The children of `alert-inbox`: one item per firing alert, its words in `lang`."""
    alerts = inbox_alerts(principal, fields)
    if not alerts:
        return [html.P(t("inbox.empty", lang), className="small text-muted mb-0", id="inbox-empty")]
    names = {f.id: f.name for f in fields}
    who = _names({a.acked_by for a, _ in alerts if a.acked_by is not None})
    now = site_clock.now()
    items = []
    for a, started in alerts:
        since = ago(max(0.0, (now - started).total_seconds()), lang)
        box = acked_view(a, who, lang) if a.acked_at is not None else ack_form(a.id, lang)
        head = [
            level_dot(a.level),
            html.A(
                t("field", lang, field=names.get(a.field_id or 0, "")),
                href=f"/field/{a.field_id}",
                className="fw-semibold me-2",
            ),
            html.Span(t("inbox.since", lang, ago=since), className="small text-muted"),
        ]
        items.append(
            html.Div(
                [
                    html.Div(head, className="d-flex flex-wrap align-items-center"),
                    html.Div(render(a.message, lang), className="my-1"),
                    html.Div(box, id={"type": "ack-box", "alert": a.id}),
                ],
                className="list-group-item inbox-item",
                style={"borderLeft": f"4px solid var(--bs-{colour(a.level)})"},
                **attr("data-alert", str(a.id)),
            )
        )
    return [html.Div(items, className="list-group")]


def inbox_panel(principal: Principal, fields: Sequence[FieldInfo], lang: str) -> html.Div:
    """The inbox as the page first draws it (`alert-inbox`, redrawn by its callback)."""
    return html.Div(inbox_view(principal, fields, lang), id="alert-inbox", className="mb-3")


def acknowledge(
    principal: Principal, fields: Sequence[FieldInfo], alert_id: int, note: str | None
) -> AlertView | None:
    """Acknowledge as POST /api/v1/alerts/{id}/ack does, through its own path: only an alert
    the API lists for the caller, here also on one of their commune's `fields`; kept with
    the note, audited. None: no such alert for this caller."""
    try:
        return acknowledge_alert(principal, alert_id, note, fields={f.id for f in fields})
    except AlertNotFound:
        return None


def register(
    app: Dash,
    principal: Callable[[], Principal | None],
    fields: Callable[[Principal], Sequence[FieldInfo]],
) -> None:
    """The inbox's callbacks; `principal` resolves the caller (None: not for them) and
    `fields` the fields whose alerts they see and acknowledge here."""

    @app.callback(
        Output("alert-inbox", "children"),
        Input("pulse", "data"),
        Input("lang", "data"),
        prevent_initial_call=True,
    )
    def inbox(_pulse: object, lang: str | None) -> list[Any]:
        caller = principal()
        if caller is None:
            return []
        return inbox_view(caller, fields(caller), language(lang))

    @app.callback(
        Output({"type": "ack-box", "alert": MATCH}, "children"),
        Input({"type": "ack", "alert": MATCH}, "n_clicks"),
        State({"type": "ack-note", "alert": MATCH}, "value"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def ack(n_clicks: int | None, note: object, lang: str | None) -> Any:
        """Acknowledge the alert of the button pressed, with what was done."""
        lang = language(lang)
        pressed = ctx.triggered_id
        if not n_clicks or not isinstance(pressed, dict):  # drawn anew, not pressed
            return no_update
        caller = principal()
        try:
            alert_id = int(str(pressed.get("alert")))
        except ValueError:
            alert_id = 0
        text = (note.strip()[:NOTE_MAX] or None) if isinstance(note, str) else None
        view = acknowledge(caller, fields(caller), alert_id, text) if caller is not None else None
        if view is None:
            return html.Div(t("inbox.not_found", lang), className="small text-muted")
        return acked_view(view, _names({view.acked_by} if view.acked_by else set()), lang)
