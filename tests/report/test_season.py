"""The season report (issue 17) over synthetic seasons with known answers: a real InfluxDB
(the session fixture) and a SQLite registry; three paddy fields in two communes, continuously
flooded (with a gap in its series), one mid-season drain, three AWD dry-downs, and an upland
field; the regimes, methane, irrigation, advice, alerts, network, scope rules, CSV and CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.alerts.store import AlertStore
from backend.identity import Grant, Principal
from backend.records import add_record
from backend.registry import Registry
from backend.report import methane
from backend.report.season import (
    FIELD_KEYS,
    OutOfScope,
    ReportParameters,
    ScopeError,
    SeasonReport,
    build_season_report,
)
from backend.report.seasons import in_window, season_window
from backend.report.water_regime import Regime
from backend.schema import AlertEventRow, AlertRow, Field, Node, User
from backend.store import Point, open_store
from backend.store.base import Store
from tests.conftest import run_ruong, write_config

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FARM = "htx-ninh-hai"
PLANTED = dt.date(2026, 2, 1)
SEASON_DAYS = 100  # harvest 2026-05-12
NOW = dt.datetime(2026, 7, 15, 9, 0, tzinfo=TZ)
WINDOW = season_window("2026-spring")
AREA_M2 = {"flooded": 5000.0, "single": 3000.0, "awd": 2000.0, "ngo": 1000.0}
COMMUNE = {"flooded": "Ninh Hai", "single": "Ninh Hai", "awd": "Gia Vien", "ngo": "Gia Vien"}


def _at(day: int, hour: int = 0) -> dt.datetime:
    """Site time `day` days after transplanting, at `hour`."""
    return dt.datetime.combine(PLANTED, dt.time(hour), tzinfo=TZ) + dt.timedelta(days=day)


def _level(name: str, day: float) -> float | None:
    """The synthetic water level (m) of each paddy `day` days into the season; None: no
    reading (the flooded field's 5-day gap)."""
    if day >= SEASON_DAYS - 10:
        return -0.05  # the end-season drainage, never counted
    if name == "flooded":
        return None if 50 <= day < 55 else 0.05
    if name == "single":
        return -0.08 if 40 <= day < 45 else 0.05
    return -0.18 if any(a <= day < a + 5 for a in (25, 45, 65)) else 0.04  # awd


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class World:
    url: str
    store: Store
    ids: dict[str, int]
    farmer: int
    config: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, influxdb) -> World:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("season")
    url = f"sqlite:///{tmp / 'registry.db'}"
    store_url = influxdb.url.rsplit("/", 1)[0] + "/season_report"
    registry = Registry(url)
    with Session(registry.engine) as session, session.begin():
        user = User(
            phone="+84912345678",
            password_hash="x",
            created_at=NOW,
            password_changed_at=NOW,
        )
        session.add(user)
        session.flush()
        farmer = user.id
    nodes, ids = {}, {}
    for name in (*AREA_M2, "late"):
        nodes[name] = registry.provision(FARM, name, "coap").node
        owner = farmer if name == "awd" else None
        ids[name] = registry.add_field(FARM, name, COMMUNE.get(name, "Gia Vien"), owner)
    for name in ("flooded", "single", "awd"):
        registry.plant(FARM, name, "rice_spring", PLANTED, "clay", AREA_M2[name], "tbr225", 100)
        registry.set_config(nodes[name], {"interval_s": 3600})  # one report an hour
    registry.plant(FARM, "ngo", "maize", dt.date(2026, 2, 10), "clay", AREA_M2["ngo"])
    registry.plant(FARM, "late", "rice_summer", dt.date(2026, 7, 10), "clay", 1000.0)
    with Session(registry.engine) as session, session.begin():  # nodes in place all season
        session.execute(update(Node).values(created_at=dt.datetime(2025, 12, 1, tzinfo=dt.UTC)))

    store = open_store(store_url)
    points = []
    for name in ("flooded", "single", "awd"):
        tags = {"farm": FARM, "field": name, "node": nodes[name]}
        for hour in range(SEASON_DAYS * 24):
            level = _level(name, hour / 24)
            if level is None:
                continue
            ms = _ms(_at(0) + dt.timedelta(hours=hour))
            points.append(Point("readings", tags, {"water_level": level}, ms))
            points.append(Point("node_status", tags, {"counter": hour + 1}, ms))
    for i in range(0, len(points), 5000):
        store.write(points[i : i + 5000])

    # the AWD field: an irrigation record, two detected irrigations (one is the record's)
    awd = ids["awd"]
    add_record(registry.engine, awd, "irrigation", time=_at(28, 20), amount_mm=50.0)
    event_tags = {"farm": FARM, "field": "awd", "kind": "event", "model": "events-v1"}
    for at, mm in ((_at(28, 21), 45.0), (_at(47, 7), 40.0)):
        fields = {"event": "irrigation", "at_ms": _ms(at), "amount_mm": mm, "level": 1}
        store.write([Point("forecasts", event_tags, fields, _ms(at))])
    # advice: awd at level 2, rewritten, up to 3, down to 0, up to 2 again: 3 delivered
    for hours, level, kind in ((0, 2, "awd"), (1, 2, "awd"), (2, 3, "awd"), (3, 0, "awd"),
                               (4, 2, "awd"), (5, 2, "et0")):  # fmt: skip
        msg = json.dumps({"id": f"{kind}.words", "params": {"hour": hours}})
        tags = {"farm": FARM, "field": "awd", "kind": kind, "model": "m"}
        at = _at(30) + dt.timedelta(hours=hours)
        store.write([Point("forecasts", tags, {"level": level, "msg": msg}, _ms(at))])
    # alerts: awd (acked after 30 min, followed by the irrigation record), pest_blast (level
    # 3, acked after 90 min, no spraying), irrigation (level 3, never acked: escalated)
    alert_store = AlertStore(registry.engine)
    for k, (rule, fired, level, ack_min) in enumerate(
        (("awd", _at(28, 8), 2, 30), ("pest_blast", _at(37, 8), 3, 90), ("irrigation", _at(59, 8), 3, None))
    ):  # fmt: skip
        with Session(registry.engine) as session, session.begin():
            row = AlertRow(
                fingerprint=f"fp{k}",
                rule_id=rule,
                rule_version=1,
                subject=f"field:{awd}",
                state="resolved",
                level=level,
                episode=f"ep{k}",
                field_id=awd,
                commune="Gia Vien",
                message_json=json.dumps({"id": "alert.firing", "params": {}}),
                state_json="{}",
                updated_at=fired,
            )
            session.add(row)
            session.flush()
            for kind, at in (("firing", fired), ("resolved", fired + dt.timedelta(hours=12))):
                session.add(
                    AlertEventRow(
                        alert_id=row.id,
                        episode=f"ep{k}",
                        kind=kind,
                        at=at,
                        level=level,
                        message_json=row.message_json,
                    )
                )
            alert_id = row.id
        if ack_min is not None:
            alert_store.acknowledge(alert_id, farmer, "ok", fired + dt.timedelta(minutes=ack_min))
    registry.close()
    config = write_config(tmp / "ruong.toml", store_url=store_url, registry_url=url)
    return World(url, store, ids, farmer, config)


def _report(world: World, scope: str = "province", caller: Principal | None = None) -> SeasonReport:
    registry = Registry(world.url)
    try:
        return build_season_report(
            registry.engine, world.store, WINDOW, scope, caller, ReportParameters(), NOW
        )
    finally:
        registry.close()


def _by_field(report: SeasonReport) -> dict[str, dict[str, object]]:
    return {str(f.json["field"]).split("/")[1]: f.json for f in report.fields}


def test_the_season_calendar() -> None:
    assert season_window("2026-spring") == (dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert season_window("2026-summer") == (dt.date(2026, 5, 1), dt.date(2026, 11, 30))
    with pytest.raises(ValueError, match="YYYY-spring or YYYY-summer"):
        season_window("2026-winter")
    assert in_window(dt.date(2026, 4, 30), WINDOW) and not in_window(dt.date(2026, 5, 2), WINDOW)


def test_regimes_methane_and_coverage(world: World) -> None:
    report = _report(world)
    fields = _by_field(report)
    assert set(fields) == {"flooded", "single", "awd", "ngo"}  # "late" is a summer field
    assert fields["flooded"]["water_regime"] == "continuously_flooded"
    assert fields["single"]["water_regime"] == "single_drainage"
    assert fields["awd"]["water_regime"] == "multiple_drainage"
    assert fields["ngo"]["water_regime"] == "no_data" and fields["ngo"]["ch4_kg"] is None
    assert fields["ngo"]["harvested"] is None and fields["ngo"]["days"] == 141  # to 1 July
    assert fields["awd"]["dry_downs_15cm"] == 3 and len(fields["awd"]["drainage_periods"]) == 3
    # the 5-day gap lowers coverage and invents no drainage
    assert fields["flooded"]["coverage"] == pytest.approx(0.95, abs=1e-3)
    assert fields["flooded"]["drainage_periods"] == []
    assert fields["single"]["coverage"] == pytest.approx(1.0, abs=1e-3)
    for name, regime in (
        ("flooded", Regime.CONTINUOUSLY_FLOODED),
        ("single", Regime.SINGLE_DRAINAGE),
        ("awd", Regime.MULTIPLE_DRAINAGE),
    ):
        f = fields[name]
        want = methane.estimate(regime, SEASON_DAYS, AREA_M2[name] / 10_000)
        assert f["harvested"] == "2026-05-12" and f["days"] == SEASON_DAYS
        assert f["sfw"] == want.sfw
        assert f["ch4_kg"] == pytest.approx(want.ch4_kg, abs=1e-3)  # to the gram
        assert f["baseline_ch4_kg"] == pytest.approx(want.baseline_ch4_kg, abs=1e-3)
        assert f["avoided_t_co2e_range"] == pytest.approx(list(want.avoided_t_co2e_range), abs=1e-6)
    province = report.to_json()["province"]
    assert isinstance(province, dict)
    assert province["regimes"] == {
        "continuously_flooded": 1,
        "single_drainage": 1,
        "multiple_drainage": 1,
        "no_data": 1,
    }
    paddies = [fields[n] for n in ("flooded", "single", "awd")]
    assert province["ch4_kg"] == pytest.approx(sum(f["ch4_kg"] for f in paddies), abs=1e-3)  # type: ignore[misc]
    lo = sum(f["avoided_t_co2e_range"][0] for f in paddies)  # type: ignore[index]
    hi = sum(f["avoided_t_co2e_range"][1] for f in paddies)  # type: ignore[index]
    assert province["avoided_t_co2e_range"] == pytest.approx([lo, hi])
    assert lo < province["avoided_t_co2e"] < hi  # type: ignore[operator]
    communes = {c["name"]: c for c in report.to_json()["communes"]}  # type: ignore[union-attr]
    assert communes["Ninh Hai"]["fields"] == 2 and communes["Gia Vien"]["paddy_fields"] == 1


def test_irrigation_advice_alerts_and_network(world: World) -> None:
    report = _report(world)
    awd = _by_field(report)["awd"]
    assert awd["irrigation_events_recorded"] == 1 and awd["irrigation_events_detected"] == 1
    assert awd["irrigation_mm"] == 90.0 and awd["irrigation_m3"] == 180.0  # 90 mm on 2000 m2
    assert awd["advice_delivered"] == 3
    assert awd["alerts"] == {
        "total": 3,
        "by_rule": {"awd": 1, "irrigation": 1, "pest_blast": 1},
        "by_level": {"2": 1, "3": 2},
        "acknowledged_share": pytest.approx(0.6667, abs=1e-4),
        "median_ack_minutes": 60.0,
        "followed_48h_share": pytest.approx(0.3333, abs=1e-4),
        "escalations": 1,
    }
    (network,) = report.network
    assert network["nodes"] == 5  # the unplanted summer field's node counts too
    hours_received = 2400 * 2 + 2280  # the flooded field's 5-day gap
    assert network["received_reports"] == hours_received
    assert network["share_received"] is not None


def test_scope_rules(world: World) -> None:
    org = Grant(1, "default", "farmer")
    farmer = Principal("farmer", (org,), user_id=world.farmer)
    assert set(_by_field(_report(world, caller=farmer))) == {"awd"}
    officer = Principal("officer", (Grant(1, "default", "officer", frozenset({"Ninh Hai"})),))
    assert set(_by_field(_report(world, caller=officer))) == {"flooded", "single"}
    assert set(_by_field(_report(world, "field:htx-ninh-hai/single", officer))) == {"single"}
    with pytest.raises(OutOfScope):
        _report(world, f"field:{world.ids['awd']}", officer)
    with pytest.raises(OutOfScope):
        _report(world, "commune:Ninh Hai", farmer)
    with pytest.raises(ScopeError):
        _report(world, "village:x")
    viewer = Principal("viewer", (Grant(1, "default", "viewer"),))
    answer = _report(world, caller=viewer).to_json(aggregates_only=True)
    assert "fields" not in answer and answer["province"]["fields"] == 4  # type: ignore[index]


def test_csv_has_one_row_per_field_with_the_json_keys(world: World) -> None:
    report = _report(world)
    text = report.to_csv()
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == 4
    for key in FIELD_KEYS:
        if key in ("drainage_periods", "field", "water_regime", "ch4_kg"):
            assert key in rows[0]
    assert {"ch4_range_kg_lo", "avoided_t_co2e_range_hi", "alerts_total"} <= set(rows[0])
    awd = next(r for r in rows if r["field"].endswith("/awd"))
    assert awd["drainage_periods"] == "3" and awd["alerts_total"] == "3"


def test_the_cli_prints_json_and_csv(world: World) -> None:
    args = ("report", "season", "--season", "2026-spring", "--config", str(world.config))
    done = run_ruong(*args)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["season"] == "2026-spring" and len(answer["fields"]) == 4
    assert "charts" not in answer
    done = run_ruong(*args, "--format", "csv", "--scope", "commune:Ninh Hai")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.lstrip("\ufeff").strip().splitlines()) == 3  # header and 2 fields
    done = run_ruong("report", "season", "--season", "2025-summer", "--config", str(world.config))
    assert done.returncode == 1 and "nothing to report" in done.stderr


def test_charts_for_the_pdf(world: World) -> None:
    registry = Registry(world.url)
    try:
        report = build_season_report(
            registry.engine, world.store, WINDOW, "province", None, ReportParameters(), NOW, True
        )
    finally:
        registry.close()
    charts = report.to_json()["charts"]
    assert isinstance(charts, dict) and set(charts) == {
        f"{FARM}/{n}" for n in ("flooded", "single", "awd")
    }
    assert len(charts[f"{FARM}/single"]) == SEASON_DAYS * 24
    with Session(Registry(world.url).engine) as session:
        assert session.get(Field, world.ids["awd"]) is not None
