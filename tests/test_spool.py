"""The spool on its own: outcomes, replay window, durability across reopen, quarantine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backend.store import Point, Store, StoreError
from backend.store.base import Row
from gateway.metrics import GatewayMetrics
from gateway.spool import DUPLICATE, REPLAY, STORED, Entry, Spool
from gateway.writer import SpoolWriter


def entry(node: str, counter: int, value: float = 1.0) -> Entry:
    return Entry(node, counter, [Point("readings", {"node": node}, {"soil_vwc": value}, counter)])


def test_outcomes_and_replay_window(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", replay_window=10)
    assert spool.commit([entry("a", 1), entry("a", 2), entry("a", 1)]) == [
        STORED,
        STORED,
        DUPLICATE,
    ]
    assert spool.commit([entry("a", 20)]) == [STORED]
    # 10 is outside the window below 20; 11..19 are still inside (out-of-order delivery is fine)
    assert spool.commit([entry("a", 10), entry("a", 11), entry("b", 10)]) == [
        REPLAY,
        STORED,
        STORED,
    ]
    assert spool.depth()[0] == 5


def test_committed_uplinks_survive_reopen_and_release_forgets_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.commit([entry("a", c, value=c) for c in range(1, 6)])
    spool.close()  # as after a crash: nothing else was flushed
    spool = Spool(tmp_path / "s.db")
    batch = spool.peek(max_points=6)
    assert [b.counter for b in batch] == [1, 2, 3, 4, 5]
    assert batch[0].points == [Point("readings", {"node": "a"}, {"soil_vwc": 1}, 1)]
    spool.release([b.id for b in batch[:3]])
    assert [b.counter for b in spool.peek(100)] == [4, 5]
    assert spool.commit([entry("a", 3)]) == [DUPLICATE]  # still remembered after release
    spool.close()


class PickyStore(Store):
    """A store that refuses any point whose value is negative, as InfluxDB refuses a bad line."""

    def __init__(self) -> None:
        self.points: list[Point] = []

    def write(self, points: Sequence[Point]) -> None:
        if any(p.fields["soil_vwc"] < 0 for p in points):  # type: ignore[operator]
            raise StoreError("400 bad point", permanent=True)
        self.points.extend(points)

    def latest(self, measurement: str, group_by: str) -> list[Row]:
        raise NotImplementedError

    def rows(self, measurement: str, where: dict[str, str], since_ms: int = 0) -> list[Row]:
        raise NotImplementedError

    def aggregate(self, *args: object) -> list[tuple[int, float]]:
        raise NotImplementedError


def test_writer_quarantines_only_the_refused_uplink(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.commit([entry("a", 1, 10.0), entry("a", 2, -5.0), entry("a", 3, 12.0)])
    store = PickyStore()

    async def drain() -> None:
        writer = SpoolWriter(spool, store, ThreadPoolExecutor(1), GatewayMetrics())
        task = asyncio.create_task(writer.run())
        await asyncio.wait_for(writer.drained.wait(), 10)
        task.cancel()

    asyncio.run(drain())
    assert [p.fields["soil_vwc"] for p in store.points] == [10.0, 12.0]
    assert spool.depth()[0] == 0 and spool.dead_count() == 1
