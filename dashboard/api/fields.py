"""`/api/v1/fields...` and `/api/v1/nodes`: what a caller may see of fields and nodes, each
checked against the caller's scope on the server (backend/access.py). A field outside the
scope answers 404, exactly as one that does not exist."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_smorest import Blueprint, abort

from backend.access import FIELD_ROLES, NODE_ROLES, FieldInfo
from backend.alerts.thresholds import ThresholdError, add_threshold
from backend.i18n import Message, render
from backend.identity import Principal
from backend.quantities import QUANTITIES
from backend.records import Record, RecordError, add_record, records
from backend.store import StoreError
from dashboard import site_clock
from dashboard.api.context import client_address, require_principal, services
from dashboard.api.schemas import (
    FieldOut,
    ForecastOut,
    LangQuery,
    NodeOut,
    ReadingsOut,
    ReadingsQuery,
    RecordIn,
    RecordOut,
    RecordsQuery,
    ThresholdIn,
    ThresholdOut,
)

blp = Blueprint("fields", __name__, url_prefix="/api/v1", description="Fields and nodes")

HISTORY = timedelta(days=14)
MAX_WINDOWS = 20_000  # one answer's points at most: a year of 30-minute means
FORECAST_MAX_AGE = timedelta(hours=36)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
NOT_LOGGED_IN = "not logged in, or the session or token has ended"


def _visible_field(field_id: int) -> FieldInfo:
    principal = require_principal()
    if not principal.has(*FIELD_ROLES):
        abort(404, message=f"field {field_id} not found")
    found = services().scope.field(principal, field_id)
    if found is None:
        abort(404, message=f"field {field_id} not found")
    assert found is not None
    return found


def _store_rows_where(field: FieldInfo) -> dict[str, str]:
    return {"farm": field.farm, "field": field.name}


@blp.route("/fields", methods=["GET"])
@blp.response(200, FieldOut(many=True))
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(403, description="the caller's role sees no per-field data (viewer)")
def list_fields() -> list[dict[str, Any]]:
    principal = require_principal()
    if not principal.has(*FIELD_ROLES):
        abort(403, message="this role sees aggregated reports only, no per-field data")
    return [f.as_json() for f in services().scope.fields(principal)]


@blp.route("/fields/<int:field_id>", methods=["GET"])
@blp.response(200, FieldOut)
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(404, description="no such field in the caller's scope")
def get_field(field_id: int) -> dict[str, Any]:
    return _visible_field(field_id).as_json()


def every_seconds(text: str) -> int:
    match = re.fullmatch(r"([1-9][0-9]*)([smhd])", text)
    if match is None:
        abort(422, message=f"every={text!r}: a duration such as 15m, 1h or 1d")
    assert match is not None
    return int(match.group(1)) * _UNIT_S[match.group(2)]


@blp.route("/fields/<int:field_id>/readings", methods=["GET"])
@blp.arguments(ReadingsQuery, location="query")
@blp.response(200, ReadingsOut)
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(404, description="no such field in the caller's scope")
@blp.alt_response(503, description="the time-series store does not answer")
def get_readings(query: dict[str, Any], field_id: int) -> dict[str, Any]:
    field = _visible_field(field_id)
    until: datetime = query.get("until") or site_clock.now()
    since: datetime = query.get("since") or until - HISTORY
    every_s = every_seconds(query["every"])
    if since >= until:
        abort(422, message="since must be before until")
    if (until - since).total_seconds() / every_s > MAX_WINDOWS:
        abort(422, message=f"more than {MAX_WINDOWS} windows: a longer `every`, or less time")
    quantity = query["quantity"]
    try:
        means = services().store.aggregate(
            "node_status" if quantity in ("battery", "rssi") else "readings",
            quantity,
            _store_rows_where(field),
            int(since.timestamp() * 1000),
            int(until.timestamp() * 1000),
            every_s,
        )
    except StoreError as exc:
        abort(503, message=f"the readings store does not answer: {exc}")
    return {
        "field": field.id,
        "quantity": quantity,
        "unit": QUANTITIES[quantity].unit,
        "every_s": every_s,
        "points": [{"time": datetime.fromtimestamp(t / 1000, UTC), "value": v} for t, v in means],
    }


@blp.route("/fields/<int:field_id>/forecasts", methods=["GET"])
@blp.arguments(LangQuery, location="query")
@blp.response(200, ForecastOut(many=True))
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(404, description="no such field in the caller's scope")
@blp.alt_response(503, description="the time-series store does not answer")
def get_forecasts(query: dict[str, str], field_id: int) -> list[dict[str, Any]]:
    field = _visible_field(field_id)
    since = site_clock.now() - FORECAST_MAX_AGE
    try:
        rows = services().store.rows(
            "forecasts", _store_rows_where(field), since_ms=int(since.timestamp() * 1000)
        )
    except StoreError as exc:
        abort(503, message=f"the forecasts store does not answer: {exc}")
    newest: dict[str, Any] = {}
    for row in rows:  # oldest first: the last of each kind wins
        newest[row.tags.get("kind", "")] = row
    out = []
    for kind, row in sorted(newest.items()):
        values = {k: v for k, v in row.fields.items() if k not in ("msg", "text_vi", "text_en")}
        level = values.pop("level", None)
        raw = row.fields.get("msg")
        if isinstance(raw, str):
            text = render(Message.from_json(json.loads(raw)), query["lang"])
        else:  # a point from before the catalogue
            text = str(row.fields.get(f"text_{query['lang']}", row.fields.get("text_vi", "")))
        out.append(
            {
                "kind": kind,
                "model": row.tags.get("model", ""),
                "level": int(level) if isinstance(level, int | float) else None,
                "text": text,
                "time": datetime.fromtimestamp(row.time_ms / 1000, UTC),
                "values": values,
            }
        )
    return out


@blp.route("/fields/<int:field_id>/records", methods=["GET"])
@blp.arguments(RecordsQuery, location="query")
@blp.response(200, RecordOut(many=True))
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(404, description="no such field in the caller's scope")
def list_records(query: dict[str, Any], field_id: int) -> list[Record]:
    field = _visible_field(field_id)
    return list(records(services().engine, field.id, query.get("since")))


@blp.route("/fields/<int:field_id>/records", methods=["POST"])
@blp.arguments(RecordIn)
@blp.response(201, RecordOut)
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(403, description="the caller's role may not record this on the field")
@blp.alt_response(404, description="no such field in the caller's scope")
def post_record(body: dict[str, Any], field_id: int) -> Record:
    field = _visible_field(field_id)
    try:
        return record_on_field(require_principal(), field, body)
    except NotAllowed as exc:
        abort(403, message=str(exc))
    except RecordError as exc:
        abort(422, message=str(exc))
    raise AssertionError("unreachable: abort raises")


class NotAllowed(PermissionError):
    """The caller's role may not record this kind on this field."""


def record_on_field(principal: Principal, field: FieldInfo, body: dict[str, Any]) -> Record:
    """Store what `principal` records on `field` (in their scope: the caller checked) and
    audit it; NotAllowed or RecordError when it may not or cannot be. The API's POST and the
    field page's buttons both record through here. `body["time"]` (aware) is when it was
    done (a detected event's time when the farmer confirms one); default the site's now."""
    api = services()
    if not api.scope.may_record(principal, field, body["kind"]):
        raise NotAllowed(f"your role may not record {body['kind']} on this field")
    record = add_record(
        api.engine,
        field.id,
        body["kind"],
        time=body.get("time") or site_clock.now(),
        amount_mm=body.get("amount_mm"),
        product=body.get("product"),
        counts=body.get("counts"),
        note=body.get("note"),
        recorded_by=principal.user_id,
    )
    api.audit.record(
        principal.login,
        "record.add",
        "success",
        organisation=field.organisation,
        target=f"field:{field.id}",
        client=client_address(),
        details={"kind": record.kind},
    )
    return record


@blp.route("/fields/<int:field_id>/thresholds", methods=["POST"])
@blp.arguments(ThresholdIn)
@blp.response(201, ThresholdOut)
@blp.alt_response(401, description="not logged in")
@blp.alt_response(403, description="the caller's role may not set thresholds on the field")
@blp.alt_response(404, description="no such field in the caller's scope")
def post_threshold(body: dict[str, Any], field_id: int) -> dict[str, object]:
    """A reading threshold on the field ("alert me when soil_vwc goes below 20"): its farmer,
    the officers of its commune and its organisation's admins may set one."""
    field = _visible_field(field_id)
    principal = require_principal()
    api = services()
    if not api.scope.may_record(principal, field, "scouting"):  # the officers' rule too
        abort(403, message="your role may not set thresholds on this field")
    try:
        made = add_threshold(
            api.engine,
            field.id,
            body["quantity"],
            body["below"],
            body["value"],
            body["level"],
            principal.user_id,
        )
    except ThresholdError as exc:
        abort(422, message=str(exc))
    api.audit.record(
        principal.login,
        "threshold.add",
        "success",
        organisation=field.organisation,
        target=f"field:{field.id}",
        client=client_address(),
    )
    return made.as_json()


@blp.route("/nodes", methods=["GET"])
@blp.response(200, NodeOut(many=True))
@blp.alt_response(401, description=NOT_LOGGED_IN)
@blp.alt_response(403, description="nodes are for technicians and admins")
def list_nodes() -> list[dict[str, object]]:
    principal = require_principal()
    if not principal.has(*NODE_ROLES):
        abort(403, message="nodes are for technicians and admins")
    return services().scope.nodes(principal)
