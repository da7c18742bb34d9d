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
import time
from dataclasses import dataclass
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html

from backend.access import FieldInfo
from backend.i18n import N_, t
from backend.records import RecordError, records
from backend.store import Store
from dashboard import charts
from dashboard.api.context import current_principal, services
from dashboard.api.fields import NotAllowed, record_on_field
from dashboard.data import ForecastView, latest_forecasts
from dashboard.reads import Answer
from dashboard.shell import reads
from dashboard.ui import attr, clock, colour, crop_stage, freshness, language, stale_banner

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

    def fetch(store: Store) -> FieldData:
        until = int(time.time() * 1000)
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


def _advice(views: list[ForecastView], lang: str) -> list[Any]:
    """Each forecast's words, with its source and when it was computed."""
    out = []
    for v in views:
        if v.kind.startswith("pest_") and v.level == 0:
            continue
        source = t("source", lang, model=v.model)
        computed = t("advice.computed_at", lang, hhmm=clock(v.time_ms))
        citation = v.values.get("citation")
        if isinstance(citation, str):
            source = f"{source} · {citation}"
        out.append(
            html.Div(
                [
                    html.Div(v.text(lang)),
                    html.Div(
                        f"{source} · {computed}",
                        className="small text-muted",
                    ),
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
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=HISTORY_S)
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
    now_ms = int(time.time() * 1000)
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
    out += _advice(views, lang)
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
            html.Div(body(field_id, lang), id="field-body"),
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
