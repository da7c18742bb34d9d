"""The season report (issue 17): per field, commune, organisation and the province, what the
season's water regime was, the methane it emitted and avoided (IPCC 2019 Tier 1), the water
applied, the advice delivered and the alerts acted on; and how well the network reported.

Place in the data path: the I/O edge around the pure science. :func:`build_season_report`
reads the registry (fields, plantings, records, alerts, nodes) and the store (hourly water
levels, forecasts, node status), calls `backend.report.water_regime` and
`backend.report.methane`, and returns a :class:`SeasonReport` whose `to_json` is the contract
of the PDF, the API and the dashboard (keys as issue 17 names them) and `to_csv` one row per
field.

Definitions (what each number counts):

- *Season of a field*: [transplanting day, harvest day) in the site's zone. The harvest is the
  planting's `season_days` after transplanting; when that is unknown, or falls after the
  report's end or today, `harvested` is null and the season runs to the report's last day
  (included) or the start of today, whichever is first; `days` counts to there.
- *Paddy field*: a rice crop (`rice_*` keys of forecasting/data/crops.csv); every other crop is
  upland: `water_regime` "no_data", CH4 null. A paddy without a single water-level reading in
  its season is "no_data" too.
- *Water level*: the hourly means of `water_level` (store.aggregate, every 3600 s); the
  regime is classified on them (an hour is one sample). `coverage` is the share of the
  season's hours with at least one reading: an upper bound of the share of the node's
  15-minute readings received (the `network` section gives that share per organisation).
- *Irrigation events*: the farmer's irrigation records in the season, and the irrigations the
  forecast job detected (`forecasts` points of kind `event`, event "irrigation") that no
  irrigation record within 6 h accounts for (the match window of forecasting/events.py).
  mm: the records' amounts plus the detected events' estimates; m3 = mm x area / 1000.
- *Advice delivered*: a distinct piece of action advice at level >= 2 (kinds `awd`,
  `irrigation`, `pest_*`): counted when a kind's level rises to 2 or more, or changes while
  at 2 or more, or its words (the message id, not its numbers) change; the forecast job's
  hourly rewrites of the same advice are not counted again.
- *activity.Alerts*: an alert's episode that fired in the season (its `firing` event); by rule id and
  by the highest level it reached; acknowledged when an acknowledgement followed; minutes from
  firing to the first acknowledgement; followed within 48 h when a matching record followed the
  firing within 48 h (an `irrigation` or `awd` alert: an irrigation record; `pest_*`: a
  spraying record; other rules are not counted in that share); escalated when it reached
  level 3 and no acknowledgement came within `escalate_after_s` of that while it was live
  (the escalation rule of backend/alerts/routing.py `plan_escalations`; the registry keeps
  no escalation event to count).
- *Network*: per node, over the report window (from the node's creation, to the report's end
  or now): expected reports = span / its interval (`interval_s` of its newest remote config,
  900 s by default); received = its `node_status` points (one per sample time, as
  gateway/ingest.py writes them); uptime = share of the span's hours with one at least.

Ranges: a sum of fields' ranges is the sum of their low ends and of their high ends, the
extreme bounds, as backend/report/methane.py carries them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, Engine, and_, or_, select, true
from sqlalchemy.orm import Session

from backend.access import FIELD_ROLES, field_filter
from backend.identity import Principal
from backend.records import Record, records
from backend.report import activity, methane
from backend.report.activity import median, rounded, unix_ms
from backend.report.seasons import in_window, season_of_window
from backend.report.water_regime import SFW, SFW_SOURCE, Regime, water_regime
from backend.schema import (
    Farm,
    Field,
    Organisation,
    Planting,
)
from backend.store import Store
from backend.store.base import Row

EVENT_MATCH_S = 6 * 3600  # a record this close to a detected event accounts for it
ESCALATE_AFTER_S = 4 * 3600.0  # backend/alerts/routing.py ESCALATE_AFTER_S
REGIME_KEYS = (*(r.value for r in Regime), "no_data")
COMPARISON_NOTE = "a comparison of fields, not a model"
_HOUR_MS = 3_600_000
_DAY = dt.timedelta(days=1)


class ScopeError(ValueError):
    """A scope that is not province, commune:C, org:O or field:F."""


class OutOfScope(LookupError):
    """The asked scope names no commune, organisation or field the caller may see (the API's
    404: the answer must not tell whether it exists)."""


@dataclass(frozen=True)
class ReportParameters:
    """The report's settings: drainage_min_days (`[report] drainage_min_days`, days); gwp
    ("ar6" 27 or "ar5" 28); timezone (the site's, cuts days); escalate_after_s
    (`[alerts] escalate_after`, s); charts_max: the most fields charted (charts=True)."""

    drainage_min_days: float = 3.0
    gwp: str = "ar6"
    timezone: str = "Asia/Ho_Chi_Minh"
    escalate_after_s: float = ESCALATE_AFTER_S
    charts_max: int = 12


def parse_scope(text: str) -> tuple[str, str]:
    """("province", "") or (kind, name) of `commune:C`, `org:O`, `field:F` (F an id or
    farm/field); ScopeError naming the forms otherwise."""
    text = text.strip()
    if text == "province":
        return "province", ""
    kind, _, name = text.partition(":")
    if kind not in ("commune", "org", "field") or not name.strip():
        raise ScopeError(
            f"scope {text!r}: use province, commune:NAME, org:NAME or field:ID|FARM/FIELD"
        )
    return kind, name.strip()


def aggregates_only(principal: Principal | None) -> bool:
    """A caller who may see no field (a viewer) gets the aggregates only."""
    return principal is not None and not principal.has(*FIELD_ROLES)


@dataclass
class FieldResult:
    """One field of the report: its FIELD JSON and what the aggregates need of it."""

    json: dict[str, object]
    commune: str | None
    organisation: str
    paddy: bool
    alerts: activity.Alerts


@dataclass
class SeasonReport:
    """The report: its header, fields, network and (charts=True) the charted series."""

    season: str | None
    window: tuple[dt.date, dt.date]
    scope: str
    generated_at: dt.datetime
    parameters: dict[str, object]
    method: list[dict[str, object]]
    fields: list[FieldResult]
    network: list[dict[str, object]]
    charts: dict[str, list[list[float]]] | None = None

    def to_json(self, aggregates_only: bool = False) -> dict[str, object]:
        """The report's JSON (/tmp contract, issue 17); without `fields` (and charts) for a
        caller who sees aggregates only."""
        communes = sorted({f.commune for f in self.fields if f.commune is not None})
        orgs = sorted({f.organisation for f in self.fields})
        out: dict[str, object] = {
            "report": "season",
            "season": self.season,
            "from": self.window[0].isoformat(),
            "to": self.window[1].isoformat(),
            "scope": self.scope,
            "generated_at": self.generated_at.isoformat(),
            "parameters": self.parameters,
            "method": self.method,
            "province": aggregate("province", self.fields),
            "communes": [
                aggregate(c, [f for f in self.fields if f.commune == c]) for c in communes
            ],
            "organisations": [
                aggregate(o, [f for f in self.fields if f.organisation == o]) for o in orgs
            ],
        }
        if not aggregates_only:
            out["fields"] = [f.json for f in self.fields]
        out["network"] = self.network
        if self.charts is not None and not aggregates_only:
            out["charts"] = self.charts
        return out

    def to_csv(self) -> str:
        """One row per field, lists and dicts flattened; UTF-8 BOM first (Excel, Vietnamese)."""
        rows = [_flat(f.json) for f in self.fields]
        columns = list(rows[0]) if rows else _csv_columns()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        return "\ufeff" + buffer.getvalue()


def build_season_report(
    engine: Engine,
    store: Store,
    window: tuple[dt.date, dt.date],
    scope: str,
    caller_scope: Principal | None,
    parameters: ReportParameters,
    now: dt.datetime,
    charts: bool = False,
) -> SeasonReport:
    """The season report of the fields transplanted in `window` (first, last day, both in)
    inside both `scope` (what was asked: province | commune:C | org:O | field:F) and
    `caller_scope` (what the caller may see, backend/access.py; None: the operator, the
    province). OutOfScope when the asked commune, organisation or field is none the caller
    may see; ScopeError for a malformed scope. now: aware, the report's "today"."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    tz = ZoneInfo(parameters.timezone)
    kind, name = parse_scope(scope)
    rows = _fields(engine, kind, name, caller_scope)
    if kind != "province" and not rows:
        raise OutOfScope(f"scope {scope}: no such {kind} in what the caller may see")
    in_season = [
        r for r in rows if r.planting is not None and in_window(r.planting.planted, window)
    ]
    end_day = min(window[1] + _DAY, now.astimezone(tz).date())
    results: list[FieldResult] = []
    series: dict[str, pd.Series] = {}
    alerts = activity.alert_episodes(engine, [r.field.id for r in in_season])
    for row in in_season:
        planting = row.planting
        if planting is None:  # kept out above; the check tells the type checker too
            continue
        result, levels = _field_result(
            engine, store, row, planting, end_day, tz, parameters, now, alerts.get(row.field.id, [])
        )
        results.append(result)
        if levels is not None and not levels.empty:
            series[str(result.json["field"])] = levels
    report_start = _midnight(window[0], tz)
    report_end = min(_midnight(window[1] + _DAY, tz), now)
    network = activity.network(engine, store, [r.field.id for r in rows], report_start, report_end)
    chart_data = None
    if charts:
        chart_data = {
            key: [
                [unix_ms(t), round(float(v), 4)]
                for t, v in zip(pd.DatetimeIndex(s.index), s.to_numpy(), strict=True)
            ]
            for key, s in list(series.items())[: parameters.charts_max]
        }
    gwp = methane.GWP100_CH4[parameters.gwp]
    return SeasonReport(
        season=season_of_window(window),
        window=window,
        scope=scope if kind == "province" else f"{kind}:{name}",
        generated_at=now.astimezone(tz),
        parameters={
            "drainage_min_days": parameters.drainage_min_days,
            "gwp100": gwp.value,
            "gwp_source": gwp.source,
            "efc": methane.EFC_SOUTH_EAST_ASIA.value,
        },
        method=method_factors(parameters.gwp),
        fields=results,
        network=network,
        charts=chart_data,
    )


def method_factors(gwp: str = "ar6") -> list[dict[str, object]]:
    """Every factor the report uses, with its range and source (the PDF's method page)."""
    sfw = [
        methane.Factor(f"SFw {regime.value}", f.value, (f.low, f.high), SFW_SOURCE)
        for regime, f in SFW.items()
    ]
    factors = [
        methane.EFC_SOUTH_EAST_ASIA,
        *sfw,
        methane.SFP[methane.SFP_DEFAULT],
        methane.sfo(()),
        methane.CFOA["straw_short"],
        methane.CFOA["straw_long"],
        methane.GWP100_CH4[gwp],
    ]
    return [
        {
            "name": f.name,
            "value": f.value,
            "range": list(f.range) if f.range else None,
            "source": f.source,
        }
        for f in factors
    ]


def aggregate(name: str, fields: Sequence[FieldResult]) -> dict[str, object]:
    """The AGGREGATE of `fields` (sums, counts, medians; pure)."""
    regimes = dict.fromkeys(REGIME_KEYS, 0)
    alerts = activity.Alerts()
    for f in fields:
        regimes[str(f.json["water_regime"])] += 1
        alerts.add(f.alerts)
    paddy = [f for f in fields if f.paddy]

    def total(key: str) -> float:
        return rounded(sum(_num(f.json[key]) for f in fields), 6)

    def range_total(key: str, end: int) -> float:
        return rounded(sum(_num(_pair(f.json[key])[end]) for f in fields), 6)

    def water(regime_keys: Sequence[str]) -> dict[str, object]:
        per_ha = [
            _num(f.json["irrigation_m3"]) / _num(f.json["area_ha"])
            for f in paddy
            if str(f.json["water_regime"]) in regime_keys and _num(f.json["area_ha"]) > 0
        ]
        return {"n": len(per_ha), "median_irrigation_m3_per_ha": median(per_ha)}

    coverages = [_num(f.json["coverage"]) for f in paddy]
    return {
        "name": name,
        "fields": len(fields),
        "paddy_fields": len(paddy),
        "area_ha": total("area_ha"),
        "regimes": regimes,
        "ch4_kg": total("ch4_kg"),
        "baseline_ch4_kg": total("baseline_ch4_kg"),
        "avoided_ch4_kg": total("avoided_ch4_kg"),
        "avoided_t_co2e": total("avoided_t_co2e"),
        "avoided_t_co2e_range": [
            range_total("avoided_t_co2e_range", 0),
            range_total("avoided_t_co2e_range", 1),
        ],
        "irrigation_m3": total("irrigation_m3"),
        "water_comparison": {
            # AWD is the multiple-drainage regime (IPCC 2019 Table 5.12 footnotes)
            "awd": water([Regime.MULTIPLE_DRAINAGE.value]),
            "continuously_flooded": water([Regime.CONTINUOUSLY_FLOODED.value]),
            "note": COMPARISON_NOTE,
        },
        "advice_delivered": int(total("advice_delivered")),
        "alerts": alerts.as_json(),
        "coverage": rounded(statistics.fmean(coverages), 4) if coverages else None,
    }


# --- reading the registry -------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    field: Field
    farm: str
    organisation: str
    planting: Planting | None


def _fields(engine: Engine, kind: str, name: str, principal: Principal | None) -> list[_Row]:
    """The fields inside both the asked scope and the caller's, by commune, farm and name."""
    with Session(engine) as session:
        query = (
            select(Field, Farm.name, Organisation.name, Planting)
            .join(Farm, Field.farm_id == Farm.id)
            .join(Organisation, Farm.organisation_id == Organisation.id)
            .outerjoin(Planting, Planting.field_id == Field.id)
            .where(_asked(kind, name), _caller(session, principal))
            .order_by(Field.commune, Farm.name, Field.name)
        )
        out = [_Row(f, farm, org, p) for f, farm, org, p in session.execute(query)]
        session.expunge_all()  # plain values read after the session closes
        return out


def _asked(kind: str, name: str) -> ColumnElement[bool]:
    if kind == "commune":
        return Field.commune == name
    if kind == "org":
        return Organisation.name == name
    if kind == "field":
        if name.isdigit():
            return Field.id == int(name)
        farm, _, field_name = name.partition("/")
        return and_(Farm.name == farm, Field.name == field_name)
    return true()


def _caller(session: Session, principal: Principal | None) -> ColumnElement[bool]:
    """What the caller may see of the report: backend/access.py's fields, and for a viewer
    the fields of their organisation; a viewer, admin or technician of a province-kind
    organisation (the province's department) sees the province."""
    if principal is None:
        return true()
    orgs = principal.organisations("viewer", "admin", "technician")
    if orgs and session.scalar(
        select(Organisation.id).where(
            Organisation.id.in_(sorted(orgs)), Organisation.kind == "province"
        )
    ):
        return true()
    viewer = principal.organisations("viewer")
    conditions = [field_filter(principal)]
    if viewer:
        conditions.append(Farm.organisation_id.in_(sorted(viewer)))
    return or_(*conditions)


# --- one field ------------------------------------------------------------------------------


def _field_result(
    engine: Engine,
    store: Store,
    row: _Row,
    planting: Planting,
    end_day: dt.date,
    tz: ZoneInfo,
    parameters: ReportParameters,
    now: dt.datetime,
    episodes: list[activity.Episode],
) -> tuple[FieldResult, pd.Series | None]:
    planted = planting.planted
    harvest = planted + dt.timedelta(days=planting.season_days) if planting.season_days else None
    harvested = harvest if harvest is not None and harvest <= end_day else None
    season_end = harvested or max(end_day, planted)
    days = (season_end - planted).days
    start, end = _midnight(planted, tz), _midnight(season_end, tz)
    start_ms, end_ms = unix_ms(start), unix_ms(end)
    area_m2 = planting.area_m2 or row.field.area_m2 or 0.0
    area_ha = area_m2 / 10_000
    tags = {"farm": row.farm, "field": row.field.name}
    paddy = planting.crop.startswith("rice")

    levels: pd.Series | None = None
    regime = None
    if paddy and days > 0:
        hourly = store.aggregate("readings", "water_level", tags, start_ms, end_ms, 3600, "mean")
        levels = _series(hourly, tz)
        if not levels.empty:
            regime = water_regime(
                levels,
                planted,
                season_end,
                drainage_min_days=parameters.drainage_min_days,
                sample_interval=pd.Timedelta(hours=1),
            )
    estimate = (
        methane.estimate(regime.water_regime, days, area_ha, gwp=parameters.gwp)
        if regime is not None
        else None
    )

    field_records = [r for r in records(engine, row.field.id, since=start) if r.time < end]
    forecasts = [r for r in store.rows("forecasts", tags, since_ms=start_ms) if r.time_ms < end_ms]
    irrigations = [r for r in field_records if r.kind == "irrigation"]
    detected = _detected_irrigations(forecasts, irrigations, start_ms, end_ms)
    irrigation_mm = sum(r.amount_mm or 0.0 for r in irrigations) + sum(detected)
    alerts = activity.field_alerts(
        episodes, field_records, start, end, now, parameters.escalate_after_s
    )

    def kg(value: float | None) -> float | None:
        return None if value is None else rounded(value, 3)

    def pair(values: tuple[float, float] | None, digits: int) -> list[float] | None:
        return None if values is None else [rounded(values[0], digits), rounded(values[1], digits)]

    coverage = None if not paddy else (regime.coverage if regime is not None else 0.0)
    record = {
        "field": f"{row.farm}/{row.field.name}",
        "field_id": row.field.id,
        "farm": row.farm,
        "commune": row.field.commune,
        "organisation": row.organisation,
        "crop": planting.crop,
        "variety": planting.variety,
        "area_ha": rounded(area_ha, 6),
        "transplanted": planted.isoformat(),
        "harvested": harvested.isoformat() if harvested else None,
        "days": days,
        "water_regime": regime.water_regime.value if regime is not None else "no_data",
        "drainage_periods": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "days": rounded(p.days, 4),
                "min_level_m": rounded(p.min_level_m, 4),
            }
            for p in (regime.drainage_periods if regime is not None else [])
        ],
        "days_flooded": rounded(regime.days_flooded, 4) if regime is not None else None,
        "dry_downs_15cm": regime.dry_downs_15cm if regime is not None else None,
        "refloods": regime.refloods if regime is not None else None,
        "coverage": None if coverage is None else rounded(coverage, 4),
        "sfw": estimate.sfw if estimate else None,
        "sfp": estimate.sfp if estimate else None,
        "sfo": estimate.sfo if estimate else None,
        "ch4_kg": kg(estimate.ch4_kg if estimate else None),
        "ch4_range_kg": pair(estimate.ch4_range_kg if estimate else None, 3),
        "baseline_ch4_kg": kg(estimate.baseline_ch4_kg if estimate else None),
        "avoided_ch4_kg": kg(estimate.avoided_ch4_kg if estimate else None),
        "avoided_t_co2e": rounded(estimate.avoided_t_co2e, 6) if estimate else None,
        "avoided_t_co2e_range": pair(estimate.avoided_t_co2e_range if estimate else None, 6),
        "irrigation_events_recorded": len(irrigations),
        "irrigation_events_detected": len(detected),
        "irrigation_mm": rounded(irrigation_mm, 2),
        "irrigation_m3": rounded(irrigation_mm / 1000 * area_m2, 3),  # mm over m2 -> m3
        "advice_delivered": activity.advice_delivered(forecasts),
        "alerts": alerts.as_json(),
    }
    result = FieldResult(record, row.field.commune, row.organisation, paddy, alerts)
    return result, levels


def _detected_irrigations(
    forecasts: Sequence[Row], recorded: Sequence[Record], start_ms: int, end_ms: int
) -> list[float]:
    """The amounts (mm; 0 when not estimated) of the detected irrigations in [start, end) that
    no irrigation record within EVENT_MATCH_S accounts for."""
    record_ms = [unix_ms(r.time) for r in recorded]
    out = []
    for row in forecasts:
        fields = row.fields
        if row.tags.get("kind") != "event" or fields.get("event") != "irrigation":
            continue
        at = fields.get("at_ms", row.time_ms)
        if not isinstance(at, int | float) or not start_ms <= at < end_ms:
            continue
        if any(abs(at - ms) <= EVENT_MATCH_S * 1000 for ms in record_ms):
            continue
        amount = fields.get("amount_mm")
        out.append(float(amount) if isinstance(amount, int | float) else 0.0)
    return out


# --- small helpers --------------------------------------------------------------------------


def _series(hourly: Sequence[tuple[int, float]], tz: ZoneInfo) -> pd.Series:
    index = pd.to_datetime([t for t, _ in hourly], unit="ms", utc=True).tz_convert(tz)
    return pd.Series([v for _, v in hourly], index=index, dtype=float)


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _pair(value: object) -> tuple[object, object]:
    return (value[0], value[1]) if isinstance(value, list) else (None, None)


def _flat(record: dict[str, object]) -> dict[str, object]:
    """A FIELD as a CSV row: drainage periods as a count and `start..end;` text, ranges as
    _lo/_hi, alerts as alerts_* columns (by_rule and by_level as `key=n;` text)."""
    out: dict[str, object] = {}
    for key, value in record.items():
        if key == "drainage_periods":
            periods = value if isinstance(value, list) else []
            out[key] = len(periods)
            out[f"{key}_text"] = ";".join(f"{p['start']}..{p['end']}" for p in periods)
        elif key.endswith(("_range", "_range_kg")):
            lo, hi = _pair(value)
            out[f"{key}_lo"], out[f"{key}_hi"] = lo, hi
        elif key == "alerts" and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, dict):
                    item = ";".join(f"{k}={n}" for k, n in item.items())
                out[f"alerts_{name}"] = item
        else:
            out[key] = value
    return {k: "" if v is None else v for k, v in out.items()}


def _csv_columns() -> list[str]:
    """The CSV header of a report without fields: the flattened keys of a FIELD."""
    empty_alerts = activity.Alerts().as_json()
    template: dict[str, object] = dict.fromkeys(FIELD_KEYS)
    template.update(drainage_periods=[], ch4_range_kg=None, avoided_t_co2e_range=None)
    template["alerts"] = empty_alerts
    return list(_flat(template))


FIELD_KEYS = (
    "field",
    "field_id",
    "farm",
    "commune",
    "organisation",
    "crop",
    "variety",
    "area_ha",
    "transplanted",
    "harvested",
    "days",
    "water_regime",
    "drainage_periods",
    "days_flooded",
    "dry_downs_15cm",
    "refloods",
    "coverage",
    "sfw",
    "sfp",
    "sfo",
    "ch4_kg",
    "ch4_range_kg",
    "baseline_ch4_kg",
    "avoided_ch4_kg",
    "avoided_t_co2e",
    "avoided_t_co2e_range",
    "irrigation_events_recorded",
    "irrigation_events_detected",
    "irrigation_mm",
    "irrigation_m3",
    "advice_delivered",
    "alerts",
)
