"""Store-side aggregation (mean, sum, min, max) and InfluxDB's downsampled hourly series: the
retention policy and continuous queries `ensure_downsampling` creates, `backfill_downsampled`,
and aggregates that read the hourly series yet equal the raw aggregate; on real influxd (a
fresh database per test) and on the embedded SQLite store."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.quantities import QUANTITIES
from backend.store import Point, Store, StoreError, ensure_downsampling_or_warn, open_store
from backend.store import downsample as ds
from backend.store.influx import InfluxStore
from ruong.cli import main
from ruong.services import InfluxServer
from tests.conftest import write_config

pytestmark = pytest.mark.services

HOUR = 3_600_000
DAY = 86_400_000
FNS = ("mean", "sum", "min", "max")
A = {"farm": "f", "field": "a"}  # two nodes
B = {"farm": "f", "field": "b"}  # one node: must never leak into A's answers


def influxql(server: InfluxServer, database: str, q: str) -> list[dict]:
    """Run InfluxQL on `database` directly (not through the store under test)."""
    resp = httpx.post(f"{server.http}/query", params={"q": q, "db": database, "epoch": "ms"})
    resp.raise_for_status()
    results: list[dict] = resp.json()["results"]
    assert all("error" not in r for r in results), results
    return results


def history(start_ms: int, end_ms: int, seed: int = 1) -> list[Point]:
    """15-minute samples of three nodes from `start_ms` to `end_ms`, a tenth of them missing
    (irregular hours, so an unweighted mean of hourly means would be wrong), node n2 every
    30 minutes. Values are multiples of 1/8, so sums are exact in any order."""
    rng = random.Random(seed)
    points: list[Point] = []
    for tags, node, step in ((A, "n1", 900_000), (A, "n2", 1_800_000), (B, "n3", 900_000)):
        for t in range(start_ms, end_ms, step):
            if rng.random() < 0.1:
                continue
            row = {**tags, "node": node}
            rain = rng.choice([0.0] * 6 + [0.25, 0.5, 2.125])
            points.append(
                Point("readings", row, {"soil_vwc": rng.randint(160, 400) / 8, "rain": rain}, t)
            )
            points.append(Point("node_status", row, {"battery": rng.randint(26, 34) / 8}, t))
    return points


def expected(
    points: list[Point],
    measurement: str,
    field: str,
    where: dict[str, str],
    since_ms: int,
    until_ms: int,
    every_s: int,
    fn: str,
) -> list[tuple[int, float]]:
    """The aggregate computed directly from the points."""
    width = every_s * 1000
    windows: dict[int, list[float]] = {}
    for p in points:
        if (
            p.measurement == measurement
            and field in p.fields
            and since_ms <= p.time_ms < until_ms
            and all(p.tags.get(k) == v for k, v in where.items())
        ):
            windows.setdefault(p.time_ms // width * width, []).append(float(p.fields[field]))
    reduce = {"mean": lambda v: sum(v) / len(v), "sum": sum, "min": min, "max": max}[fn]
    return [(w, reduce(v)) for w, v in sorted(windows.items())]


def assert_same(got: list[tuple[int, float]], want: list[tuple[int, float]], fn: str) -> None:
    """Equal: exactly for sum, min and max (the values are exact binary fractions), to float
    rounding for the mean."""
    assert [w for w, _ in got] == [w for w, _ in want]
    if fn == "mean":
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-12)
    else:
        assert got == want


@pytest.fixture
def influx(influxdb: InfluxServer) -> Iterator[InfluxStore]:
    s = open_store(f"{influxdb.url}_{uuid.uuid4().hex[:8]}")
    assert isinstance(s, InfluxStore)
    yield s
    s.close()


@pytest.fixture(params=["influxdb", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "influxdb":
        yield request.getfixturevalue("influx")
        return
    s = open_store(f"sqlite:///{tmp_path / 'readings.db'}")
    yield s
    s.close()


def now_ms() -> int:
    return int(time.time() * 1000)


# -- aggregate: every fn, computed in the store ---------------------------------------------


@pytest.mark.parametrize("every_s", [1800, 3600, 86_400])
def test_each_fn_equals_a_direct_computation(store: Store, every_s: int) -> None:
    """No downsampling set up: InfluxDB's GROUP BY time() and SQLite's GROUP BY window over
    the raw rows, from a start inside an hour to an end inside another."""
    start = (now_ms() - 12 * DAY) // DAY * DAY
    points = history(start, start + 3 * DAY)
    store.write(points)
    since, until = start + 5 * HOUR + 7 * 60_000, start + 2 * DAY + 13 * HOUR + 60_000
    for measurement, field in (("readings", "soil_vwc"), ("readings", "rain")):
        for fn in FNS:
            got = store.aggregate(measurement, field, A, since, until, every_s, fn=fn)
            want = expected(points, measurement, field, A, since, until, every_s, fn)
            assert got, (field, fn)
            assert_same(got, want, fn)
    # the existing callers' call, without fn, is the mean
    assert store.aggregate("readings", "soil_vwc", A, since, until, every_s) == (
        store.aggregate("readings", "soil_vwc", A, since, until, every_s, fn="mean")
    )


def test_an_unknown_fn_is_a_value_error_naming_the_known_ones(store: Store) -> None:
    with pytest.raises(ValueError, match="mean, sum, min, max"):
        store.aggregate("readings", "soil_vwc", A, 0, now_ms(), 3600, fn="median")


# -- InfluxDB: retention policy and continuous queries --------------------------------------


def test_ensure_creates_the_rp_and_cqs_once(influx: InfluxStore, influxdb: InfluxServer) -> None:
    created = influx.ensure_downsampling()
    assert created == [
        "retention policy ruong_1h",
        "continuous query readings_1h",
        "continuous query node_status_1h",
    ]
    results = influxql(influxdb, influx.database, "SHOW CONTINUOUS QUERIES")
    cqs = {
        name: text
        for series in results[0]["series"]
        if series["name"] == influx.database
        for name, text in series["values"]
    }
    assert set(cqs) == {"readings_1h", "node_status_1h"}
    assert "RESAMPLE EVERY 1h FOR 2d" in cqs["readings_1h"]
    assert "sum(rain) AS rain" in cqs["readings_1h"]  # an amount per sample: summed
    assert "mean(soil_vwc) AS soil_vwc" in cqs["readings_1h"]
    assert f"INTO {influx.database}.ruong_1h.readings_1h" in cqs["readings_1h"]
    assert "GROUP BY time(1h), *" in cqs["readings_1h"]  # the raw tags stay tags
    assert "mean(battery) AS battery" in cqs["node_status_1h"]
    assert "dropped" not in cqs["node_status_1h"]
    rps = influxql(influxdb, influx.database, f'SHOW RETENTION POLICIES ON "{influx.database}"')
    policies = {row[0]: row for row in rps[0]["series"][0]["values"]}
    assert policies["ruong_1h"][1] == "0s"  # INF
    assert policies["ruong_1h"][4] is False  # raw writes keep going to the default RP

    assert influx.ensure_downsampling() == []  # twice is fine
    again = influxql(influxdb, influx.database, "SHOW CONTINUOUS QUERIES")
    assert again == results


def test_ensure_replaces_a_cq_whose_fields_changed(
    influx: InfluxStore, influxdb: InfluxServer
) -> None:
    """As after a quantity is added to backend/quantities.py: the CQ of an older version."""
    db = influx.database
    influxql(influxdb, db, f'CREATE DATABASE "{db}"')
    influxql(influxdb, db, ds.create_retention_policy(db))
    influxql(
        influxdb,
        db,
        f'CREATE CONTINUOUS QUERY "readings_1h" ON "{db}" BEGIN SELECT mean("soil_vwc") AS '
        f'"soil_vwc" INTO "{db}"."ruong_1h"."readings_1h" FROM "readings" GROUP BY time(1h), * END',
    )
    assert influx.ensure_downsampling() == [
        "continuous query readings_1h (replaced: its fields changed)",
        "continuous query node_status_1h",
    ]
    assert influx.ensure_downsampling() == []


# -- InfluxDB: backfill, then aggregates from the hourly series ------------------------------


@pytest.mark.parametrize(
    "backfilled",
    [
        pytest.param((40, 0), id="all"),
        pytest.param((40, 10), id="cq-stopped-10-days-ago"),
        pytest.param((20, 0), id="older-history-never-backfilled"),
    ],
)
def test_after_backfill_30_days_of_daily_aggregates_equal_the_raw_ones(
    influx: InfluxStore, influxdb: InfluxServer, tmp_path: Path, backfilled: tuple[int, int]
) -> None:
    """Whatever the hourly series covers (`backfilled`: from, to in days before now), the
    answer is the raw one: hourly points where they are, raw rows around them; and the same
    as the embedded store's."""
    now = now_ms()
    start = now - 40 * DAY
    points = history(start, now)
    influx.write(points)
    sqlite = open_store(f"sqlite:///{tmp_path / 'readings.db'}")
    sqlite.write(points)
    assert influx.ensure_downsampling()
    assert influx.backfill_downsampled(now - backfilled[0] * DAY, now - backfilled[1] * DAY) > 0

    since = now - 30 * DAY  # inside an hour, as a dashboard's "last 30 days" is
    cases = [("readings", "soil_vwc"), ("readings", "rain"), ("node_status", "battery")]
    answers = {}
    for measurement, field in cases:
        for fn in FNS:
            got = influx.aggregate(measurement, field, A, since, now, 86_400, fn=fn)
            assert len(got) == 31
            assert_same(got, expected(points, measurement, field, A, since, now, 86_400, fn), fn)
            assert_same(got, sqlite.aggregate(measurement, field, A, since, now, 86_400, fn=fn), fn)
            answers[measurement, field, fn] = got
    sqlite.close()

    if backfilled == (40, 0):
        # the hourly series answered: without the raw rows of its hours the answer stays
        gone = (ds.ceil_hour(since), now - 3 * DAY)
        influxql(
            influxdb,
            influx.database,
            f'DELETE FROM "readings" WHERE time >= {gone[0]}ms AND time < {gone[1]}ms',
        )
        for fn in FNS:
            got = influx.aggregate("readings", "soil_vwc", A, since, now, 86_400, fn=fn)
            assert got == answers["readings", "soil_vwc", fn]


def test_backfill_keeps_tags_and_sums_amounts(influx: InfluxStore, influxdb: InfluxServer) -> None:
    """The hourly points: one per node and hour, tagged as the raw ones; rain summed, soil
    moisture averaged, with the parts (sum, count, min, max) beside them."""
    hour = ds.floor_hour(now_ms()) - 5 * DAY
    influx.write(
        [
            Point("readings", {**A, "node": "n1"}, {"soil_vwc": 30.0, "rain": 0.5}, hour),
            Point("readings", {**A, "node": "n1"}, {"soil_vwc": 32.0, "rain": 1.0}, hour + 900_000),
            Point("readings", {**A, "node": "n1"}, {"soil_vwc": 40.0}, hour + HOUR),  # next hour
        ]
    )
    influx.ensure_downsampling()
    assert influx.backfill_downsampled(hour + 60_000, hour + 2 * HOUR) == 2
    q = 'SELECT * FROM "ruong_1h"."readings_1h" GROUP BY *'
    series = influxql(influxdb, influx.database, q)[0]["series"]
    assert [s["tags"] for s in series] == [{**A, "node": "n1"}]
    rows = [dict(zip(series[0]["columns"], v, strict=True)) for v in series[0]["values"]]
    first = {k: v for k, v in rows[0].items() if v is not None}
    assert first == {
        "time": hour,
        "soil_vwc": 31.0,
        "soil_vwc_sum": 62.0,
        "soil_vwc_count": 2,
        "soil_vwc_min": 30.0,
        "soil_vwc_max": 32.0,
        "rain": 1.5,
        "rain_count": 2,
        "rain_min": 0.5,
        "rain_max": 1.0,
    }
    assert rows[1]["time"] == hour + HOUR and rows[1]["rain"] is None


def test_aggregate_before_ensure_or_backfill_reads_raw(influx: InfluxStore) -> None:
    """A database `ruong db upgrade` never saw (no RP), or one with the RP and nothing in it."""
    now = now_ms()
    points = history(now - 10 * DAY, now)
    influx.write(points)
    since = now - 8 * DAY
    want = expected(points, "readings", "soil_vwc", A, since, now, 86_400, "max")
    assert influx.aggregate("readings", "soil_vwc", A, since, now, 86_400, fn="max") == want
    influx.ensure_downsampling()
    assert influx.aggregate("readings", "soil_vwc", A, since, now, 86_400, fn="max") == want


def test_start_up_survives_a_dead_influxdb(caplog: pytest.LogCaptureFixture) -> None:
    """The gateway spools while InfluxDB is down: its start must not fail on downsampling."""
    with caplog.at_level(logging.WARNING, logger="ruong.store"):
        assert ensure_downsampling_or_warn("influxdb://127.0.0.1:9/ruong") is False
    assert "downsampled series not set up" in caplog.text


def test_influxdb_2_has_no_cqs_to_create() -> None:
    """The v1-compatibility API of 2.x (and 3.x) has no continuous queries: a permanent
    StoreError, which `ruong db upgrade` reports without failing."""
    s = open_store("influxdb://127.0.0.1:8086/ruong")
    assert isinstance(s, InfluxStore)
    s._http = httpx.Client(
        base_url=s.base_url,
        transport=httpx.MockTransport(
            lambda request: httpx.Response(204, headers={"X-Influxdb-Version": "v2.7.4"})
        ),
    )
    with pytest.raises(StoreError, match="no continuous queries") as refused:
        s.ensure_downsampling()
    assert refused.value.permanent
    s.close()


def test_sqlite_has_nothing_to_downsample(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'readings.db'}") as s:
        assert s.ensure_downsampling() == []
        assert s.backfill_downsampled(0, now_ms()) == 0
        assert ensure_downsampling_or_warn(s) is True


# -- the command line ------------------------------------------------------------------------


def test_ruong_db_upgrade_and_downsample(
    influxdb: InfluxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{influxdb.url}_{uuid.uuid4().hex[:8]}"
    now = now_ms()
    with open_store(url) as s:
        s.write(history(now - 3 * DAY, now))
    config = write_config(
        tmp_path / "ruong.toml",
        store_url=url,
        registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
    )
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "created retention policy ruong_1h, continuous query readings_1h" in out
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "store: downsampling already set up" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "downsample", "--days", "5"]) == 0
    out = capsys.readouterr().out
    assert "hourly points written" in out
    written = int(out.split(" hourly points written")[0].split()[-1])
    assert written > 3 * 24  # each node and hour, readings and node_status


# -- the pure part ---------------------------------------------------------------------------


def test_the_hourly_series_follow_the_vocabulary() -> None:
    readings, status = ds.SERIES
    assert (readings.source, readings.target) == ("readings", "readings_1h")
    assert "soil_vwc" in readings.quantities and "water_level" in readings.quantities
    assert status.quantities == ("battery", "rssi")
    assert ds.series_for("readings", "battery") is None
    assert ds.series_for("forecasts", "level") is None
    assert ds.hourly_field("rain", "sum") == "rain"
    assert ds.hourly_field("soil_vwc", "sum") == "soil_vwc_sum"
    assert "rain_sum" not in ds.hourly_aliases(readings)
    assert ds.AMOUNTS <= set(QUANTITIES)


def test_which_hours_the_hourly_series_may_answer() -> None:
    now = 1_800_000_000_000
    long_ago = now - 30 * DAY
    assert ds.hourly_candidate(long_ago, now, 1800, now) is None  # windows of half hours
    assert ds.hourly_candidate(now - DAY, now, 3600, now) is None  # the CQ may still change it
    start, end = ds.hourly_candidate(long_ago + 1, now, 86_400, now) or (0, 0)
    assert start == ds.ceil_hour(long_ago + 1)
    assert end == ds.floor_hour(now - 2 * DAY)
    covered = ds.covered_span((start, end), first_ms=start + 5 * HOUR, last_ms=end - 9 * HOUR)
    assert covered == (start + 5 * HOUR, end - 8 * HOUR)
    assert ds.covered_span((start, end), None, None) is None
    assert ds.raw_spans(long_ago + 1, now, (start + 5 * HOUR, end - 8 * HOUR)) == [
        (long_ago + 1, start + 5 * HOUR),
        (end - 8 * HOUR, now),
    ]
    assert ds.backfill_spans(HOUR + 1, 3 * DAY - 1, now) == [
        (HOUR, HOUR + DAY),
        (HOUR + DAY, HOUR + 2 * DAY),
        (HOUR + 2 * DAY, 3 * DAY - HOUR),  # the hour still running is the CQ's
    ]
    assert ds.backfill_spans(0, now + DAY, now)[-1][1] == ds.floor_hour(now)


def test_combine_adds_sums_and_counts_and_keeps_extremes() -> None:
    hourly = [(0, {"sum": 10.0, "count": 4.0, "min": 1.0, "max": 4.0})]
    raw = [
        (0, {"sum": 5.0, "count": 1.0, "min": 5.0, "max": 5.0}),
        (DAY, {"sum": 2.0, "count": 2.0, "min": 0.5, "max": 1.5}),
    ]
    assert ds.combine("mean", [hourly, raw]) == [(0, 3.0), (DAY, 1.0)]
    assert ds.combine("sum", [hourly, raw]) == [(0, 15.0), (DAY, 2.0)]
    assert ds.combine("min", [hourly, raw]) == [(0, 1.0), (DAY, 0.5)]
    assert ds.combine("max", [hourly, raw]) == [(0, 5.0), (DAY, 1.5)]
