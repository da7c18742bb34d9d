"""Line protocol in the spool: the fast encoder equals the reference, parsing inverts encoding,
and a spool written by an older gateway (points as JSON) is migrated, not lost."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from backend.quantities import QUANTITIES
from backend.registry import NodeInfo
from backend.store import Point
from backend.store.base import line_protocol
from gateway.ingest import LineEncoder, uplink_points
from gateway.lineproto import parse_lines
from gateway.spool import Spool
from gateway.uplink import Uplink

NODE = NodeInfo("n0a1b2c3d", "farm one", "ruộng=2,b", "mqtt", bytes(32), False)


@given(
    st.dictionaries(
        st.integers(1_600_000_000_000, 1_900_000_000_000),
        st.dictionaries(
            st.sampled_from(sorted(QUANTITIES)),
            st.floats(-1e6, 1e6, allow_nan=False),
            min_size=1,
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 2**64 - 1),
)
def test_encoder_equals_reference_line_protocol(
    samples: dict[int, dict[str, float]], counter: int
) -> None:
    uplink = Uplink(NODE, counter, samples)
    reference = "\n".join(line_protocol(p) for p in uplink_points(uplink))
    assert LineEncoder().encode(uplink) == reference
    assert parse_lines(reference) == uplink_points(uplink)


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), min_size=1)


@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\\"), min_size=1),
    st.dictionaries(text, text, max_size=3),
    st.dictionaries(
        text,
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(2**63), 2**63 - 1),
            st.booleans(),
            text,
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 2**62),
)
def test_parse_inverts_line_protocol(
    measurement: str, tags: dict[str, str], fields: dict[str, object], time_ms: int
) -> None:
    point = Point(measurement, tags, fields, time_ms)  # type: ignore[arg-type]
    expected = Point(measurement, {k: v for k, v in tags.items() if v}, fields, time_ms)  # type: ignore[arg-type]
    assert parse_lines(line_protocol(point)) == [expected]


def test_spool_of_json_points_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Spool(path).close()
    db = sqlite3.connect(path)  # as the gateway before line protocol left it
    points = [["readings", {"node": NODE.node}, {"soil_vwc": 31.5}, 1_790_000_000_000]]
    db.execute("PRAGMA user_version = 0")
    db.execute(
        "INSERT INTO uplinks (node, counter, received_ms, points) VALUES (?, ?, ?, ?)",
        (NODE.node, 7, int(time.time() * 1000), json.dumps(points)),
    )
    db.commit()
    db.close()
    spool = Spool(path)
    [item] = spool.peek(10)
    assert item.lines == f"readings,node={NODE.node} soil_vwc=31.5 1790000000000"
    assert item.points == [
        Point("readings", {"node": NODE.node}, {"soil_vwc": 31.5}, 1_790_000_000_000)
    ]
    spool.close()
