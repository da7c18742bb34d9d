"""The Store interface on real InfluxDB (influxd on a free port) and on embedded SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.store import Point, Store, StoreError, open_store
from backend.store.base import line_protocol
from ruong.services import InfluxServer

T0 = 1_790_000_000_000


@pytest.fixture(params=["influxdb", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "influxdb":
        influx: InfluxServer = request.getfixturevalue("influxdb")
        url = f"{influx.url}_{uuid.uuid4().hex[:8]}"
    else:
        url = f"sqlite:///{tmp_path / 'readings.db'}"
    s = open_store(url)
    yield s
    s.close()


def _point(node: str, t_ms: int, **fields: float) -> Point:
    return Point("readings", {"farm": "f", "field": "ruong 1", "node": node}, fields, t_ms)


def test_write_then_latest_and_rows(store: Store) -> None:
    store.write([_point("n1", T0, soil_vwc=30.5), _point("n1", T0 + 60_000, soil_vwc=29.0)])
    store.write([_point("n2", T0 + 30_000, soil_vwc=41.0, air_temp=25.5)])
    latest = {r.tags["node"]: r for r in store.latest("readings", group_by="node")}
    assert latest["n1"].time_ms == T0 + 60_000 and latest["n1"].fields["soil_vwc"] == 29.0
    assert latest["n2"].fields == {"soil_vwc": 41.0, "air_temp": 25.5}
    assert latest["n2"].tags["field"] == "ruong 1"  # a space survives line-protocol escaping
    rows = store.rows("readings", {"node": "n1"}, since_ms=T0)
    assert [(r.time_ms, r.fields["soil_vwc"]) for r in rows] == [(T0, 30.5), (T0 + 60_000, 29.0)]


def test_same_point_twice_is_stored_once(store: Store) -> None:
    store.write([_point("n1", T0, soil_vwc=30.0)])
    store.write([_point("n1", T0, soil_vwc=30.0)])
    assert len(store.rows("readings", {"node": "n1"}, since_ms=0)) == 1


def test_aggregate_means_each_window_in_the_store(store: Store) -> None:
    """InfluxQL GROUP BY time() on InfluxDB and the same windows on SQLite: epoch-aligned,
    the window's start as its time, empty windows left out, other fields and tags ignored."""
    hour = 3_600_000
    start = (T0 // hour) * hour
    points = [_point("n1", start + i * 900_000, soil_vwc=float(i)) for i in range(8)]
    points += [_point("n2", start + 3 * hour, soil_vwc=99.0)]  # only n2 in the fourth hour
    points += [
        Point("readings", {"farm": "f", "field": "other", "node": "n9"}, {"soil_vwc": 7.0}, start)
    ]
    points += [_point("n1", start + 5 * hour, air_temp=30.0)]  # no soil_vwc: not a value
    store.write(points)
    where = {"farm": "f", "field": "ruong 1"}
    means = store.aggregate("readings", "soil_vwc", where, start, start + 6 * hour, 3600)
    assert means == [(start, 1.5), (start + hour, 5.5), (start + 3 * hour, 99.0)]
    assert store.aggregate("readings", "soil_vwc", where, start + hour, start + 2 * hour, 3600) == [
        (start + hour, 5.5)
    ]


def test_line_protocol_escapes_tags_and_types_fields() -> None:
    line = line_protocol(Point("node_status", {"field": "a b,c=d"}, {"counter": 7, "v": 3.5}, 5))
    assert line == r"node_status,field=a\ b\,c\=d counter=7i,v=3.5 5"


def test_influx_refusal_is_a_store_error(influxdb: InfluxServer) -> None:
    s = open_store(f"{influxdb.url}_{uuid.uuid4().hex[:8]}")
    s.write([_point("n1", T0, soil_vwc=1.0)])
    with pytest.raises(StoreError):  # field type conflict: float then string
        s.write([Point("readings", {"node": "n1"}, {"soil_vwc": "wet"}, T0 + 1)])
    s.close()


def test_dead_influx_is_a_store_error() -> None:
    s = open_store("influxdb://127.0.0.1:9/ruong")  # the discard port: nobody listens
    with pytest.raises(StoreError):
        s.write([_point("n1", T0, soil_vwc=1.0)])
