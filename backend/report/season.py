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
- *Alerts*: an alert's episode that fired in the season (its `firing` event); by rule id and
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
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, Engine, and_, or_, select, true
from sqlalchemy.orm import Session

from backend.access import FIELD_ROLES, field_filter
from backend.identity import Principal
from backend.records import Record, records
from backend.report import methane
from backend.report.seasons import in_window, season_of_window
from backend.report.water_regime import SFW, SFW_SOURCE, Regime, water_regime
from backend.schema import (
    AlertEventRow,
    AlertRow,
    Farm,
    Field,
    Node,
    NodeConfigRow,
    Organisation,
    Planting,
    utc,
)
from backend.store import Store
from backend.store.base import Row

DEFAULT_INTERVAL_S = 900.0  # the node's default report interval (ruong/node_config.py)
EVENT_MATCH_S = 6 * 3600  # a record this close to a detected event accounts for it
FOLLOW_S = 48 * 3600  # an alert followed by a matching record within this
ESCALATE_AFTER_S = 4 * 3600.0  # backend/alerts/routing.py ESCALATE_AFTER_S
ACTION_KINDS = ("awd", "irrigation")  # with pest_*: the advice that asks for an action
_FOLLOWED_BY = {"irrigation": "irrigation", "awd": "irrigation"}  # rule -> record kind
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
class _Alerts:
    """One field's (or an aggregate's) alerts, with the raw times the medians need."""

    total: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    ack_minutes: list[float] = field(default_factory=list)
    followable: int = 0
    followed: int = 0
    escalations: int = 0

    def add(self, other: _Alerts) -> None:
        self.total += other.total
        for mine, theirs in ((self.by_rule, other.by_rule), (self.by_level, other.by_level)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.acknowledged += other.acknowledged
        self.ack_minutes += other.ack_minutes
        self.followable += other.followable
        self.followed += other.followed
        self.escalations += other.escalations

    def as_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "by_rule": dict(sorted(self.by_rule.items())),
            "by_level": dict(sorted(self.by_level.items())),
            "acknowledged_share": _share(self.acknowledged, self.total),
            "median_ack_minutes": _median(self.ack_minutes),
            "followed_48h_share": _share(self.followed, self.followable),
            "escalations": self.escalations,
        }


@dataclass
class FieldResult:
    """One field of the report: its FIELD JSON and what the aggregates need of it."""

    json: dict[str, object]
    commune: str | None
    organisation: str
    paddy: bool
    alerts: _Alerts


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
    alerts = _alert_episodes(engine, [r.field.id for r in in_season])
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
    network = _network(engine, store, [r.field.id for r in rows], report_start, report_end)
    chart_data = None
    if charts:
        chart_data = {
            key: [
                [_ms(t), round(float(v), 4)]
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
    alerts = _Alerts()
    for f in fields:
        regimes[str(f.json["water_regime"])] += 1
        alerts.add(f.alerts)
    paddy = [f for f in fields if f.paddy]

    def total(key: str) -> float:
        return _round(sum(_num(f.json[key]) for f in fields), 6)

    def range_total(key: str, end: int) -> float:
        return _round(sum(_num(_pair(f.json[key])[end]) for f in fields), 6)

    def water(regime_keys: Sequence[str]) -> dict[str, object]:
        per_ha = [
            _num(f.json["irrigation_m3"]) / _num(f.json["area_ha"])
            for f in paddy
            if str(f.json["water_regime"]) in regime_keys and _num(f.json["area_ha"]) > 0
        ]
        return {"n": len(per_ha), "median_irrigation_m3_per_ha": _median(per_ha)}

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
        "coverage": _round(statistics.fmean(coverages), 4) if coverages else None,
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
    episodes: list[_Episode],
) -> tuple[FieldResult, pd.Series | None]:
    planted = planting.planted
    harvest = planted + dt.timedelta(days=planting.season_days) if planting.season_days else None
    harvested = harvest if harvest is not None and harvest <= end_day else None
    season_end = harvested or max(end_day, planted)
    days = (season_end - planted).days
    start, end = _midnight(planted, tz), _midnight(season_end, tz)
    start_ms, end_ms = _ms(start), _ms(end)
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
    alerts = _field_alerts(episodes, field_records, start, end, now, parameters.escalate_after_s)

    def kg(value: float | None) -> float | None:
        return None if value is None else _round(value, 3)

    def pair(values: tuple[float, float] | None, digits: int) -> list[float] | None:
        return None if values is None else [_round(values[0], digits), _round(values[1], digits)]

    coverage = None if not paddy else (regime.coverage if regime is not None else 0.0)
    record = {
        "field": f"{row.farm}/{row.field.name}",
        "field_id": row.field.id,
        "farm": row.farm,
        "commune": row.field.commune,
        "organisation": row.organisation,
        "crop": planting.crop,
        "variety": planting.variety,
        "area_ha": _round(area_ha, 6),
        "transplanted": planted.isoformat(),
        "harvested": harvested.isoformat() if harvested else None,
        "days": days,
        "water_regime": regime.water_regime.value if regime is not None else "no_data",
        "drainage_periods": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "days": _round(p.days, 4),
                "min_level_m": _round(p.min_level_m, 4),
            }
            for p in (regime.drainage_periods if regime is not None else [])
        ],
        "days_flooded": _round(regime.days_flooded, 4) if regime is not None else None,
        "dry_downs_15cm": regime.dry_downs_15cm if regime is not None else None,
        "refloods": regime.refloods if regime is not None else None,
        "coverage": None if coverage is None else _round(coverage, 4),
        "sfw": estimate.sfw if estimate else None,
        "sfp": estimate.sfp if estimate else None,
        "sfo": estimate.sfo if estimate else None,
        "ch4_kg": kg(estimate.ch4_kg if estimate else None),
        "ch4_range_kg": pair(estimate.ch4_range_kg if estimate else None, 3),
        "baseline_ch4_kg": kg(estimate.baseline_ch4_kg if estimate else None),
        "avoided_ch4_kg": kg(estimate.avoided_ch4_kg if estimate else None),
        "avoided_t_co2e": _round(estimate.avoided_t_co2e, 6) if estimate else None,
        "avoided_t_co2e_range": pair(estimate.avoided_t_co2e_range if estimate else None, 6),
        "irrigation_events_recorded": len(irrigations),
        "irrigation_events_detected": len(detected),
        "irrigation_mm": _round(irrigation_mm, 2),
        "irrigation_m3": _round(irrigation_mm / 1000 * area_m2, 3),  # mm over m2 -> m3
        "advice_delivered": advice_delivered(forecasts),
        "alerts": alerts.as_json(),
    }
    result = FieldResult(record, row.field.commune, row.organisation, paddy, alerts)
    return result, levels


def _detected_irrigations(
    forecasts: Sequence[Row], recorded: Sequence[Record], start_ms: int, end_ms: int
) -> list[float]:
    """The amounts (mm; 0 when not estimated) of the detected irrigations in [start, end) that
    no irrigation record within EVENT_MATCH_S accounts for."""
    record_ms = [_ms(r.time) for r in recorded]
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


def advice_delivered(forecasts: Sequence[Row]) -> int:
    """Distinct pieces of action advice at level >= 2 (module docstring): a kind's level
    rising to 2+, changing while 2+, or its message id changing while 2+."""
    last: dict[str, tuple[int, str]] = {}
    count = 0
    for row in sorted(forecasts, key=lambda r: r.time_ms):
        kind, fields = row.tags.get("kind", ""), row.fields
        if kind not in ACTION_KINDS and not kind.startswith("pest_"):
            continue
        level = fields.get("level")
        if not isinstance(level, int | float):
            continue
        words = _message_id(fields.get("msg"))
        previous = last.get(kind)
        if level >= 2 and (previous is None or previous != (int(level), words)):
            count += 1
        last[kind] = (int(level), words)
    return count


def _message_id(msg: object) -> str:
    if not isinstance(msg, str):
        return ""
    try:
        parsed = json.loads(msg)
    except json.JSONDecodeError:  # words of before the catalogue: the text itself
        return msg
    return str(parsed.get("id", "")) if isinstance(parsed, dict) else msg


# --- alerts ---------------------------------------------------------------------------------


@dataclass
class _Episode:
    rule: str
    fired_at: dt.datetime
    level: int = 0
    level3_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


def _alert_episodes(engine: Engine, field_ids: Sequence[int]) -> dict[int, list[_Episode]]:
    """The fired episodes of the fields' alerts, by field id, from the alert events."""
    if not field_ids:
        return {}
    query = (
        select(AlertEventRow, AlertRow.rule_id, AlertRow.field_id)
        .join(AlertRow, AlertEventRow.alert_id == AlertRow.id)
        .where(AlertRow.field_id.in_(sorted(field_ids)))
        .order_by(AlertEventRow.at, AlertEventRow.id)
    )
    episodes: dict[tuple[int, str], _Episode] = {}
    by_field: dict[int, list[_Episode]] = {}
    with Session(engine) as session:
        for event, rule, field_id in session.execute(query):
            at, key = utc(event.at), (event.alert_id, event.episode)
            episode = episodes.get(key)
            if event.kind == "firing" and episode is None and field_id is not None:
                episode = episodes[key] = _Episode(rule, at)
                by_field.setdefault(field_id, []).append(episode)
            if episode is None:
                continue  # an acknowledgement of an episode that never fired
            if event.kind in ("firing", "repeat", "level_up"):
                episode.level = max(episode.level, event.level)
                if event.level >= 3 and episode.level3_at is None:
                    episode.level3_at = at
            elif event.kind == "acknowledged" and episode.acked_at is None:
                episode.acked_at = at
            elif event.kind in ("resolved", "expired") and episode.ended_at is None:
                episode.ended_at = at
    return by_field


def _field_alerts(
    episodes: Sequence[_Episode],
    field_records: Sequence[Record],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    escalate_after_s: float,
) -> _Alerts:
    out = _Alerts()
    for e in episodes:
        if not start <= e.fired_at < end:
            continue
        out.total += 1
        out.by_rule[e.rule] = out.by_rule.get(e.rule, 0) + 1
        out.by_level[str(e.level)] = out.by_level.get(str(e.level), 0) + 1
        if e.acked_at is not None:
            out.acknowledged += 1
            out.ack_minutes.append((e.acked_at - e.fired_at).total_seconds() / 60)
        wanted = "spraying" if e.rule.startswith("pest_") else _FOLLOWED_BY.get(e.rule)
        if wanted is not None:
            out.followable += 1
            until = e.fired_at + dt.timedelta(seconds=FOLLOW_S)
            out.followed += any(
                r.kind == wanted and e.fired_at <= r.time <= until for r in field_records
            )
        if e.level3_at is not None:
            due = e.level3_at + dt.timedelta(seconds=escalate_after_s)
            live_until = e.ended_at or now
            out.escalations += due <= live_until and (e.acked_at is None or e.acked_at > due)
    return out


# --- network --------------------------------------------------------------------------------


def _network(
    engine: Engine,
    store: Store,
    field_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, object]]:
    """Per organisation: its nodes on these fields, the reports expected and received and
    the mean of the nodes' uptimes over [start, end)."""
    if not field_ids or end <= start:
        return []
    with Session(engine) as session:
        nodes = session.execute(
            select(Node.id, Node.created_at, Node.revoked_at, Organisation.name)
            .join(Field, Node.field_id == Field.id)
            .join(Farm, Field.farm_id == Farm.id)
            .join(Organisation, Farm.organisation_id == Organisation.id)
            .where(Node.field_id.in_(sorted(field_ids)))
            .order_by(Organisation.name, Node.id)
        ).all()
        intervals: dict[str, float] = {}
        for node_id, settings in session.execute(
            select(NodeConfigRow.node_id, NodeConfigRow.settings_json)
            .where(NodeConfigRow.node_id.in_([n[0] for n in nodes]))
            .order_by(NodeConfigRow.version)
        ):
            value = json.loads(settings).get("interval_s")
            if isinstance(value, int | float) and value > 0:
                intervals[node_id] = float(value)  # the newest version is read last
    orgs: dict[str, dict[str, list[float]]] = {}
    for node_id, created, revoked, org in nodes:
        since = max(start, utc(created))
        until = min(end, utc(revoked)) if revoked is not None else end
        if until <= since:
            continue
        span_s = (until - since).total_seconds()
        expected = span_s / intervals.get(node_id, DEFAULT_INTERVAL_S)
        hours = _hourly_counts(store, node_id, _ms(since), _ms(until))
        tally = orgs.setdefault(org, {"expected": [], "received": [], "uptime": []})
        tally["expected"].append(expected)
        tally["received"].append(float(sum(hours)))
        tally["uptime"].append(min(len(hours) / (span_s / 3600), 1.0))
    out = []
    for org, tally in orgs.items():
        expected, received = sum(tally["expected"]), sum(tally["received"])
        out.append(
            {
                "organisation": org,
                "nodes": len(tally["uptime"]),
                "expected_reports": round(expected),
                "received_reports": round(received),
                # capped: a node whose interval was shortened mid-season sends more
                "share_received": _round(min(received / expected, 1.0), 4) if expected else None,
                "uptime": _round(statistics.fmean(tally["uptime"]), 4),
            }
        )
    return out


def _hourly_counts(store: Store, node_id: str, since_ms: int, until_ms: int) -> list[int]:
    """The node's `node_status` points in each hour that has one.

    The store aggregates no count, so each hour's count is its sum over its mean of the
    uplink `counter` (exact for any values whose mean is not 0); an hour whose counters are
    all 0 (the node's first uplink) counts 1."""
    where = {"node": node_id}
    sums = dict(store.aggregate("node_status", "counter", where, since_ms, until_ms, 3600, "sum"))
    means = store.aggregate("node_status", "counter", where, since_ms, until_ms, 3600, "mean")
    return [round(sums.get(t, 0.0) / m) if m > 0 else 1 for t, m in means]


# --- small helpers --------------------------------------------------------------------------


def _series(hourly: Sequence[tuple[int, float]], tz: ZoneInfo) -> pd.Series:
    index = pd.to_datetime([t for t, _ in hourly], unit="ms", utc=True).tz_convert(tz)
    return pd.Series([v for _, v in hourly], index=index, dtype=float)


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _pair(value: object) -> tuple[object, object]:
    return (value[0], value[1]) if isinstance(value, list) else (None, None)


def _share(part: int, whole: int) -> float | None:
    return _round(part / whole, 4) if whole else None


def _median(values: Sequence[float]) -> float | None:
    return _round(statistics.median(values), 2) if values else None


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
    empty_alerts = _Alerts().as_json()
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
