"""A field's page, `/field/<field id>` (the id the API uses): how full the root-zone "tank" is,
14 days of soil moisture with its field-capacity and refill lines and the 72 h forecast band,
a paddy's water level against the soil surface and the −15 cm safe-AWD line, rain and
recorded irrigation on the same time axis, the advice with its source, and buttons to record
what was done (through the API's own record path, dashboard.api.fields.record_on_field).

Every callback takes the field id from the page and looks it up in the caller's scope on the
server: an id outside it answers exactly as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from backend.access import FieldInfo
from backend.i18n import N_, t
from backend.records import RecordError, records
from backend.store import Store
from dashboard import charts, site_clock
from dashboard.api.context import current_principal, services
from dashboard.api.fields import NotAllowed, record_on_field
from dashboard.data import ForecastView, latest_forecasts
from dashboard.events import DetectedEvent, question, read_events, unrecorded
from dashboard.reads import Answer
from dashboard.shell import reads
from dashboard.ui import (
    attr,
    clock,
    colour,
    crop_stage,
    freshness,
    language,
    reading_note,
    stale_banner,
)

PATH = "/field/<field_id>"
ROLES = ("farmer", "officer", "technician", "admin")
HISTORY_S = 14 * 86400
RECENT_S = 6 * 3600  # the newest reading is looked for this far back, then in the hourly means
# what the scouting form counts (per m²): the pests a count decides on (forecasting.pest)
SCOUTED = {
    "brown_planthopper": N_("pest.brown_planthopper.name"),
    "leaf_folder": N_("pest.leaf_folder.name"),
}
# the record buttons and the kind of record each makes (backend.schema.RECORD_KINDS)
RECORD_BUTTONS = {
    "rec-irrigate": "irrigation",
    "rec-drain": "drainage",
    "rec-spray": "spraying",
    "rec-scout": "scouting",
}
# what the page says after a record: saved, or refused as it stands (backend.records.check)
SAVED = {
    "irrigation": N_("record.saved.irrigation"),
    "drainage": N_("record.saved.drainage"),
    "spraying": N_("record.saved.spraying"),
    "scouting": N_("record.saved.scouting"),
}
INVALID = {
    "irrigation": N_("record.invalid.irrigation"),
    "drainage": N_("record.invalid.drainage"),
    "spraying": N_("record.invalid.spraying"),
    "scouting": N_("record.invalid.scouting"),
}


def _field(field_id: object) -> FieldInfo | None:
    """The field if the caller may see it, else None (also for a malformed id)."""
    principal = current_principal()
    if principal is None or not principal.has(*ROLES):
        return None
    try:
        wanted = int(str(field_id))
    except ValueError:
        return None
    return services().scope.field(principal, wanted)


@dataclass(frozen=True)
class FieldData:
    """What the page draws of one field, read in one go from the store."""

    series: dict[str, list[tuple[int, float]]]  # hourly soil_vwc, water_level; daily rain
    forecasts: list[ForecastView]  # the newest of each kind
    last_ms: int | None  # the newest reading or node status (Unix ms)


def _read(field: FieldInfo) -> Answer[FieldData]:
    """The field's 14 days (hourly soil moisture and water level, daily rain summed), its
    newest forecasts and its newest reading: queries on this field's series only, so that
    the page costs the same with 100 fields in the store as with one."""
    where = {"farm": field.farm, "field": field.name}
    until = site_clock.now_ms()  # here: `fetch` runs on a pool thread, outside the app

    def fetch(store: Store) -> FieldData:
        since = until - HISTORY_S * 1000
        series = {
            "soil_vwc": store.aggregate("readings", "soil_vwc", where, since, until, 3600),
            "water_level": store.aggregate("readings", "water_level", where, since, until, 3600),
            "rain": store.aggregate("readings", "rain", where, since, until, 86400, fn="sum"),
        }
        recent = [
            row.time_ms
            for measurement in ("readings", "node_status")
            for row in store.rows(measurement, where, since_ms=until - RECENT_S * 1000)
        ]
        windows = [s[-1][0] for s in series.values() if s]  # older: the last hour with data
        last = max(recent) if recent else (max(windows) if windows else None)
        views = latest_forecasts(store, until, where).get((field.farm, field.name), [])
        return FieldData(series, views, last)

    return reads().get(("field", field.farm, field.name), fetch)


def _tank(irrigation: ForecastView | None, lang: str) -> html.Div | None:
    """The root zone as a tank: % of the available water left (FAO-56: 1 − Dr/TAW), with the
    refill point (1 − RAW/TAW) below which the crop starts to suffer."""
    if irrigation is None:
        return None
    dr, taw, raw = (irrigation.number(k) for k in ("dr_mm", "taw_mm", "raw_mm"))
    if dr is None or raw is None or not taw:
        return None
    left = max(0.0, min(100.0, 100.0 * (1 - dr / taw)))
    refill = 100.0 * (1 - raw / taw)
    bar = "bg-danger" if left < refill else "bg-success"
    return html.Div(
        [
            html.Div(
                t("tank.left", lang, pct=round(left), refill=round(refill)),
                className="small mb-1",
                id="tank-text",
            ),
            html.Div(
                [
                    html.Div(className=f"ruong-tank-fill {bar}", style={"width": f"{left:.0f}%"}),
                    html.Div(className="ruong-tank-refill", style={"left": f"{refill:.0f}%"}),
                ],
                className="ruong-tank",
                id="tank",
                **attr("data-pct", f"{left:.0f}"),
            ),
        ],
        className="mb-3",
    )


def _advice(views: list[ForecastView], lang: str, now_ms: int) -> list[Any]:
    """Each forecast's words, with its source, when it was computed and, when the advice
    says, the reading it was computed from ("theo số đo lúc 14:05"): a farmer compares it
    with the reading at the top of the page (`now_ms`: the site's now, for the date)."""
    out = []
    for v in views:
        if v.kind.startswith("pest_") and v.level == 0:
            continue
        source = t("source", lang, model=v.model)
        computed = t("advice.computed_at", lang, hhmm=clock(v.time_ms))
        citation = v.values.get("citation")
        if isinstance(citation, str):
            source = f"{source} · {citation}"
        reading = reading_note(v.reading_ms, now_ms, lang)
        out.append(
            html.Div(
                [
                    html.Div(v.text(lang)),
                    *([html.Div(reading, className="small advice-reading")] if reading else []),
                    html.Div(f"{source} · {computed}", className="small text-muted"),
                ],
                className=f"alert alert-{colour(v.level)} py-2 mb-2",
                **attr("data-kind", v.kind),
            )
        )
    quiet = [v for v in views if v.kind.startswith("pest_") and v.level == 0]
    if quiet:
        out.append(html.Div(t("pests_quiet", lang, n=len(quiet)), className="small text-success"))
    return out


def _band(soil: ForecastView | None) -> list[tuple[int, float, float, float]]:
    """The soil-moisture forecast's (time, lo, mid, hi) at each horizon, in %."""
    if soil is None:
        return []
    out = []
    for hours in (24, 48, 72):
        lo, mid, hi = (soil.number(f"{p}_{hours}h_pct") for p in ("lo", "vwc", "hi"))
        if lo is not None and mid is not None and hi is not None:
            out.append((soil.time_ms + hours * 3_600_000, lo, mid, hi))
    return out


def _lines(
    soil: ForecastView | None, irrigation: ForecastView | None
) -> tuple[float | None, float | None]:
    """Field capacity and the refill point as volumetric water content (%): the refill point
    is FC − p (FC − WP), with p = RAW / TAW (FAO-56 eq. 83)."""
    if soil is None:
        return None, None
    fc, wp = soil.number("fc_pct"), soil.number("wp_pct")
    if fc is None or wp is None:
        return None, None
    refill = None
    if irrigation is not None:
        raw, taw = irrigation.number("raw_mm"), irrigation.number("taw_mm")
        if raw is not None and taw:
            refill = round(fc - raw / taw * (fc - wp), 1)
    return fc, refill


def _irrigation_bars(field: FieldInfo) -> list[tuple[int, float]]:
    """The irrigation the field's people recorded over the last 14 days, mm per day."""
    since = site_clock.now() - dt.timedelta(seconds=HISTORY_S)
    per_day: dict[int, float] = {}
    for r in records(services().engine, field.id, since):
        if r.kind == "irrigation" and r.amount_mm:
            day = int(r.time.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
            per_day[day] = per_day.get(day, 0.0) + r.amount_mm
    return sorted(per_day.items())


def body(field_id: object, lang: str | None) -> list[Any]:
    lang = language(lang)
    field = _field(field_id)
    if field is None:
        return [
            html.Div(
                t("field.not_found", lang), className="alert alert-secondary", id="field-not-found"
            )
        ]
    answer = _read(field)
    read = answer.value or FieldData({}, [], None)
    views = read.forecasts
    by_kind = {v.kind: v for v in views}
    irrigation, soil = by_kind.get("irrigation"), by_kind.get("soil_vwc")
    stage = irrigation.values.get("stage") if irrigation is not None else None
    now_ms = site_clock.now_ms()
    data = read.series
    out: list[Any] = []
    banner = stale_banner((answer,), lang)
    if banner is not None:
        out.append(banner)
    out += [
        html.H1(t("field", lang, field=field.name), className="h5 mt-2 mb-0", id="field-title"),
        html.Div(
            [
                html.Span(crop_stage(field.crop, stage if isinstance(stage, str) else None, lang)),
                html.Span(f" · {field.commune}" if field.commune else ""),
                html.Span(" · "),
                freshness(read.last_ms, now_ms, lang),
            ],
            className="small text-muted mb-2",
        ),
    ]
    tank = _tank(irrigation, lang)
    if tank is not None:
        out.append(tank)
    out += _advice(views, lang, now_ms)
    config = charts.graph_config(lang)
    if data.get("soil_vwc"):
        fc, refill = _lines(soil, irrigation)
        band = _band(soil)
        if band:  # the band starts at the last measured value, so that it joins the line
            last_ms, last = data["soil_vwc"][-1]
            band.insert(0, (last_ms, last, last, last))
        figure = charts.moisture_figure(
            lang, data["soil_vwc"], data.get("rain", []), _irrigation_bars(field), fc, refill, band
        )
        out += [
            html.H2(t("chart.moisture_title", lang), className="h6 mt-3"),
            dcc.Graph(id="chart-moisture", figure=figure, config=config),
        ]
    if data.get("water_level") and (field.crop or "").startswith("rice"):  # paddies only
        awd = by_kind.get("awd")
        start = awd.values.get("flowering_start") if awd else None
        end = awd.values.get("flowering_end") if awd else None
        flowering = (start, end) if isinstance(start, str) and isinstance(end, str) else None
        out += [
            html.H2(t("chart.water_title", lang), className="h6 mt-3"),
            dcc.Graph(
                id="chart-water",
                figure=charts.water_figure(lang, data.get("water_level", []), flowering),
                config=config,
            ),
        ]
    return out


DISMISSED_KEPT = 50  # "not me" answers remembered per field in the browser (newest)


def _offered(field: FieldInfo) -> list[DetectedEvent]:
    """The field's detected events of the last 48 h that the caller may record and that no
    record accounts for yet (dashboard/events.py)."""
    principal = current_principal()
    if principal is None:
        return []
    now_ms = site_clock.now_ms()
    where = {"farm": field.farm, "field": field.name}
    answer = reads().get(
        ("events", field.farm, field.name), lambda s: read_events(s, where, now_ms)
    )
    found = answer.value or []
    if not found:
        return []
    scope = services().scope
    allowed = {e.kind for e in found if scope.may_record(principal, field, e.kind)}
    since = dt.datetime.fromtimestamp(min(e.at_ms for e in found) / 1000, dt.UTC)
    done = records(services().engine, field.id, since - dt.timedelta(hours=6))
    return [e for e in unrecorded(found, done) if e.kind in allowed]


def _dismissed_of(dismissed: object, field_id: object) -> set[str]:
    """The events the reader answered "not me" to on this field (the browser's store)."""
    if not isinstance(dismissed, dict):
        return set()
    keys = dismissed.get(str(field_id))
    return {k for k in keys if isinstance(k, str)} if isinstance(keys, list) else set()


def events(field_id: object, lang: str | None, dismissed: object = None) -> list[Any]:
    """A card per detected event to confirm: the question, "Đúng, ghi lại" (recorded at the
    event's time) and "Không phải" (hidden on this phone: the browser's local storage keeps
    the answer, the server keeps nothing of it)."""
    lang = language(lang)
    field = _field(field_id)
    if field is None:
        return []
    hidden = _dismissed_of(dismissed, field_id)
    now_ms = site_clock.now_ms()
    out: list[Any] = []
    for e in _offered(field):
        if e.key in hidden:
            continue
        out.append(
            html.Div(
                [
                    html.Div(question(e, now_ms, lang), className="mb-2"),
                    html.Div(
                        [
                            # the depth, filled in when the event estimates it; a paddy's
                            # rise alone does not say how much water went in (a record of
                            # irrigation needs its mm: backend.records.check)
                            html.Div(
                                dcc.Input(
                                    id={"type": "event-mm", "key": e.key},
                                    type="number",
                                    min=1,
                                    max=500,
                                    step=1,
                                    placeholder="mm",
                                    value=round(e.amount_mm) if e.amount_mm else None,
                                    className="form-control form-control-sm ruong-num",
                                ),
                                hidden=e.kind != "irrigation",
                            ),
                            html.Button(
                                t("event.yes", lang),
                                id={"type": "event-yes", "key": e.key},
                                className="btn btn-success btn-sm",
                            ),
                            html.Button(
                                t("event.no", lang),
                                id={"type": "event-no", "key": e.key},
                                className="btn btn-outline-secondary btn-sm",
                            ),
                        ],
                        className="d-flex gap-2",
                    ),
                ],
                className="alert alert-info py-2 mb-2 event-card",
                **attr("data-event", e.key),
            )
        )
    return out


def confirm_event(
    field_id: object, key: str, lang: str, amount_mm: object = None
) -> tuple[str, bool]:
    """Record the detected event `key` of the field as the caller's record, at the event's
    time, an irrigation with `amount_mm` (what the farmer typed, mm) or else the event's
    estimate; what the page says, and whether a record was made. The event is looked up
    again on the server: a crafted key records nothing that was not detected and offered
    to this caller on this field."""
    field, principal = _field(field_id), current_principal()
    if field is None or principal is None:
        return t("field.not_found", lang), False
    event = next((e for e in _offered(field) if e.key == key), None)
    if event is None:
        return t("event.gone", lang), False
    body_: dict[str, Any] = {
        "kind": event.kind,
        "time": dt.datetime.fromtimestamp(event.at_ms / 1000, dt.UTC),
    }
    if event.kind == "irrigation":
        typed = float(amount_mm) if isinstance(amount_mm, int | float) else None
        body_["amount_mm"] = typed if typed is not None else event.amount_mm
    try:
        record_on_field(principal, field, body_)
    except NotAllowed:
        return t("record.not_allowed", lang), False
    except RecordError:
        return t(INVALID[event.kind], lang), False
    return t("event.saved", lang), True


def form(field_id: object, lang: str | None) -> list[Any]:
    """The buttons to record what was done: "I irrigated (mm)", "I drained", "I sprayed
    (what)", a scouting count. Those the caller's role may not use on this field (an officer
    records scouting only) are drawn hidden, so that the record callback always has its
    inputs; the server checks the role again when one is pressed."""
    lang = language(lang)
    field, principal = _field(field_id), current_principal()
    allowed: set[str] = set()
    if field is not None and principal is not None:
        scope = services().scope
        allowed = {k for k in RECORD_BUTTONS.values() if scope.may_record(principal, field, k)}
    button = "btn btn-outline-success btn-sm"
    number_input = "form-control form-control-sm ruong-num"
    return [
        html.H2(t("record.title", lang), className="h6 mt-3", hidden=not allowed),
        html.Div(
            [
                dcc.Input(
                    id="rec-mm",
                    type="number",
                    min=1,
                    max=500,
                    step=1,
                    placeholder="mm",
                    className=number_input,
                ),
                html.Button(t("record.irrigated", lang), id="rec-irrigate", className=button),
            ],
            className="d-flex gap-2 mb-2",
            hidden="irrigation" not in allowed,
        ),
        html.Div(
            html.Button(t("record.drained", lang), id="rec-drain", className=button),
            className="mb-2",
            hidden="drainage" not in allowed,
        ),
        html.Div(
            [
                dcc.Input(
                    id="rec-product",
                    type="text",
                    maxLength=80,
                    placeholder=t("record.product", lang),
                    className="form-control form-control-sm",
                ),
                html.Button(t("record.sprayed", lang), id="rec-spray", className=button),
            ],
            className="d-flex gap-2 mb-2",
            hidden="spraying" not in allowed,
        ),
        html.Div(
            [
                dcc.RadioItems(
                    id="rec-pest",
                    options=[{"label": t(name, lang), "value": p} for p, name in SCOUTED.items()],
                    value=next(iter(SCOUTED)),
                    inline=True,
                    inputClassName="me-1",
                    labelClassName="me-3 small",
                ),
                html.Div(
                    [
                        dcc.Input(
                            id="rec-count",
                            type="number",
                            min=0,
                            step=1,
                            placeholder=t("record.count", lang),
                            className=number_input,
                        ),
                        html.Button(t("record.scouted", lang), id="rec-scout", className=button),
                    ],
                    className="d-flex gap-2",
                ),
            ],
            className="mb-2",
            hidden="scouting" not in allowed,
        ),
    ]


def layout(lang: str | None = None, field_id: str | None = None, **_: object) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="field-id", data=field_id),
            dcc.Store(id="field-version", data=0),
            dcc.Store(id="event-dismissed", storage_type="local"),
            html.Div(body(field_id, lang), id="field-body"),
            html.Div(id="field-events"),  # drawn once the browser's "not me" answers are read
            html.Div(id="event-result", className="small", role="status"),
            html.Div(form(field_id, lang), id="field-form"),
            html.Div(id="rec-result", className="small", role="status"),
        ]
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("field-body", "children"),
        Input("pulse", "data"),
        Input("lang", "data"),
        Input("field-version", "data"),
        State("field-id", "data"),
        prevent_initial_call=True,
    )
    def refresh(_pulse: object, lang: str | None, _version: object, field_id: object) -> list[Any]:
        return body(field_id, lang)

    @app.callback(
        Output("field-events", "children"),
        Input("event-dismissed", "data"),
        Input("lang", "data"),
        Input("field-version", "data"),
        Input("pulse", "data"),
        State("field-id", "data"),
    )
    def offer_events(
        dismissed: object, lang: str | None, _version: object, _pulse: object, field_id: object
    ) -> list[Any]:
        return events(field_id, lang, dismissed)

    @app.callback(
        Output("event-result", "children"),
        Output("field-version", "data", allow_duplicate=True),
        Input({"type": "event-yes", "key": ALL}, "n_clicks"),
        State({"type": "event-mm", "key": ALL}, "value"),
        State("field-id", "data"),
        State("field-version", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def event_yes(
        clicks: list[int | None],
        _amounts: list[object],
        field_id: object,
        version: object,
        lang: str | None,
    ) -> tuple[Any, Any]:
        pressed = ctx.triggered_id
        if not any(clicks) or not isinstance(pressed, dict):  # cards drawn anew, none pressed
            return no_update, no_update
        key = str(pressed.get("key", ""))
        typed = next(
            (s.get("value") for s in ctx.states_list[0] if s["id"].get("key") == key), None
        )
        said, made = confirm_event(field_id, key, language(lang), typed)
        current = version if isinstance(version, int) else 0
        return said, current + 1 if made else current

    @app.callback(
        Output("event-dismissed", "data"),
        Input({"type": "event-no", "key": ALL}, "n_clicks"),
        State("event-dismissed", "data"),
        State("field-id", "data"),
        prevent_initial_call=True,
    )
    def event_no(clicks: list[int | None], dismissed: object, field_id: object) -> Any:
        """Remember "not me" for this field in the browser (local storage)."""
        pressed = ctx.triggered_id
        if not any(clicks) or not isinstance(pressed, dict) or _field(field_id) is None:
            return no_update
        kept = dict(dismissed) if isinstance(dismissed, dict) else {}
        keys = [k for k in kept.get(str(field_id), []) if isinstance(k, str)]
        key = str(pressed.get("key", ""))
        if key not in keys:
            keys.append(key)
        kept[str(field_id)] = keys[-DISMISSED_KEPT:]
        return kept

    @app.callback(
        Output("field-form", "children"),
        Input("lang", "data"),
        State("field-id", "data"),
        prevent_initial_call=True,
    )
    def relabel(lang: str | None, field_id: object) -> list[Any]:
        return form(field_id, lang)

    @app.callback(
        Output("rec-result", "children"),
        Output("field-version", "data"),
        Input("rec-irrigate", "n_clicks"),
        Input("rec-drain", "n_clicks"),
        Input("rec-spray", "n_clicks"),
        Input("rec-scout", "n_clicks"),
        State("rec-mm", "value"),
        State("rec-product", "value"),
        State("rec-pest", "value"),
        State("rec-count", "value"),
        State("field-id", "data"),
        State("field-version", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def record(*args: Any) -> tuple[str, int]:
        mm, product, pest, count, field_id, version, lang = args[4:]
        lang = language(lang)
        if not any(args[:4]):  # a button drawn anew (n_clicks None), not pressed
            return "", version or 0
        kind = RECORD_BUTTONS.get(str(ctx.triggered_id))
        field, principal = _field(field_id), current_principal()
        if kind is None or field is None or principal is None:
            return t("field.not_found", lang), version or 0
        body_: dict[str, Any] = {"kind": kind}
        if kind == "irrigation":
            body_["amount_mm"] = float(mm) if isinstance(mm, int | float) else None
        elif kind == "spraying":
            body_["product"] = product
        elif kind == "scouting":
            body_["counts"] = {str(pest): int(count)} if isinstance(count, int | float) else None
        try:
            record_on_field(principal, field, body_)
        except NotAllowed:
            return t("record.not_allowed", lang), version or 0
        except RecordError:
            return t(INVALID[kind], lang), version or 0
        return t(SAVED[kind], lang), (version or 0) + 1
