"""`/api/v1/alerts` and `/api/v1/alerts/{id}/ack`: the alerts a caller may see (those about
their fields, and for technicians and admins their organisation's nodes and the gateway),
and their acknowledgement, which stops the reminders and the escalation and is kept: who,
when, and what they did (the season report's "alerts acted on")."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.access import NODE_ROLES
from backend.alerts.store import AlertStore, AlertView
from backend.i18n import render
from backend.identity import Principal
from dashboard import site_clock
from dashboard.api.context import client_address, require_principal, services

blp = Blueprint("alerts", __name__, url_prefix="/api/v1", description="Alerts")


class AlertsQuery(Schema):
    state = fields.String(validate=validate.OneOf(["pending", "firing", "resolved", "expired"]))
    lang = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))


class AckIn(Schema):
    note = fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "what was done"},
    )


class AlertOut(Schema):
    id = fields.Integer(required=True)
    rule = fields.String(required=True)
    version = fields.Integer(required=True)
    subject = fields.String(required=True)
    state = fields.String(required=True)
    level = fields.Integer(required=True)
    field_id = fields.Integer(allow_none=True)
    node_id = fields.String(allow_none=True)
    commune = fields.String(allow_none=True)
    text = fields.String(required=True)
    updated_at = fields.DateTime(required=True)
    acked_at = fields.DateTime(allow_none=True)
    ack_note = fields.String(allow_none=True)


def visible_alerts(principal: Principal, alerts: list[AlertView]) -> list[AlertView]:
    """Those of `alerts` the principal may see: about their fields, and for technicians and
    admins their organisation's nodes and the gateway."""
    api = services()
    field_ids = {f.id for f in api.scope.fields(principal)}
    node_ids = {str(n["node"]) for n in api.scope.nodes(principal)}
    health = principal.has(*NODE_ROLES)
    return [
        a
        for a in alerts
        if (a.field_id is not None and a.field_id in field_ids)
        or (a.node_id is not None and a.node_id in node_ids)
        or (health and a.subject.startswith("gateway:"))
    ]


def _json(alert: AlertView, lang: str) -> dict[str, Any]:
    """The alert for AlertOut (which dumps only its own fields), its words in `lang`."""
    return {**vars(alert), "text": render(alert.message, lang)}


@blp.route("/alerts", methods=["GET"])
@blp.arguments(AlertsQuery, location="query")
@blp.response(200, AlertOut(many=True))
@blp.alt_response(401, description="not logged in")
def list_alerts(query: dict[str, str]) -> list[dict[str, Any]]:
    principal = require_principal()
    alerts = AlertStore(services().engine).alerts(query.get("state"))
    return [_json(a, query["lang"]) for a in visible_alerts(principal, alerts)]


@blp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
@blp.arguments(AckIn)
@blp.response(200, AlertOut)
@blp.alt_response(401, description="not logged in")
@blp.alt_response(404, description="no such alert in the caller's scope")
def ack_alert(body: dict[str, Any], alert_id: int) -> dict[str, Any]:
    try:
        view = acknowledge_alert(require_principal(), alert_id, body.get("note"))
    except AlertNotFound as exc:
        abort(404, message=str(exc))
        raise AssertionError("unreachable: abort raises") from exc
    return _json(view, "vi")


class AlertNotFound(LookupError):
    """No such alert in the caller's scope."""


def acknowledge_alert(
    principal: Principal,
    alert_id: int,
    note: str | None,
    *,
    fields: Collection[int] | None = None,
) -> AlertView:
    """Acknowledge the alert `alert_id` as `principal`, with what they did (`note`), and
    audit it; AlertNotFound unless it is an alert the principal may see (visible_alerts)
    and, with `fields`, about one of those fields. The API's POST and the commune page's
    inbox (dashboard/inbox.py) both acknowledge through here."""
    api = services()
    store = AlertStore(api.engine, site_clock.site_clock())  # acknowledged at the site's now
    seen = visible_alerts(principal, store.alerts(ids=[alert_id])) if 0 < alert_id < 2**31 else []
    if not any(fields is None or a.field_id in fields for a in seen):
        raise AlertNotFound(f"alert {alert_id} not found")
    view = store.acknowledge(alert_id, principal.user_id, note)
    assert view is not None  # it was there a moment ago; alerts are never deleted
    api.audit.record(
        principal.login,
        "alert.ack",
        "success",
        target=f"alert:{alert_id}",
        client=client_address(),
    )
    return view
