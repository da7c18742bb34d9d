"""The gateway on the demo's faster clock: a node of `ruong demo --speed 360` samples on site
time, hours ahead of the real clock, and its uplinks are stored, while the same uplink is
refused as from the future by a gateway on the real clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.clock import Clock
from backend.registry import NodeInfo, Registry
from backend.store.sqlite import SqliteStore
from gateway.ingest import Ingest
from gateway.spool import STORED, Spool
from gateway.uplink import MAX_FUTURE_S, UplinkRejected
from tests.uplinks import uplink

VALUES = {"soil_vwc": 31.5, "air_temp": 27.25}
TWO_HOURS_S = 2 * 3600


class World:
    def __init__(self, root: Path) -> None:
        self.registry = Registry(f"sqlite:///{root / 'registry.db'}")
        self.node: NodeInfo = self.registry.provision("test-farm", "ruong-1", "coap")
        self.spool = Spool(root / "spool.db")
        self.store = SqliteStore(root / "store.db")
        self.ingests: list[Ingest] = []

    def ingest(self, clock: Clock | None) -> Ingest:
        ingest = Ingest(self.registry, self.spool, self.store, 1 << 30, clock=clock)
        self.ingests.append(ingest)
        return ingest

    def close(self) -> None:
        for ingest in self.ingests:
            ingest.close()
        self.spool.close()
        self.store.close()
        self.registry.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def _accept(ingest: Ingest, data: bytes) -> str:
    async def run() -> str:
        return await ingest.accept(data, "coap", "127.0.0.1")

    return asyncio.run(run())


def test_uplink_two_simulated_hours_ahead_is_stored_on_a_speed_360_clock(world: World) -> None:
    ahead = time.time() + TWO_HOURS_S  # what a node of `ruong demo --speed 360` sends 20 s in
    data = uplink(world.node.key, world.node.node, 1, ahead, VALUES)
    assert _accept(world.ingest(Clock.simulated(360)), data) == STORED
    spooled = world.spool.peek(100)
    assert len(spooled) == 1
    assert f" {round(ahead * 1000)}" in spooled[0].lines  # stored at its sample (site) time


def test_the_same_uplink_is_refused_as_from_the_future_on_the_real_clock(world: World) -> None:
    ahead = time.time() + TWO_HOURS_S
    data = uplink(world.node.key, world.node.node, 1, ahead, VALUES)
    with pytest.raises(UplinkRejected) as refused:
        _accept(world.ingest(None), data)
    assert refused.value.reason == "future_time"
    assert world.spool.peek(100) == []


def test_future_tolerance_is_the_real_tolerance_in_site_seconds(world: World) -> None:
    """A node's clock error of MAX_FUTURE_S real seconds is 360 x that on the demo's clock;
    beyond it the uplink is refused even there."""
    clock = Clock.simulated(360)
    ingest = world.ingest(clock)
    assert ingest.max_future_s == MAX_FUTURE_S * 360
    too_far = clock.now_s() + MAX_FUTURE_S * 360 + 3600
    data = uplink(world.node.key, world.node.node, 2, too_far, VALUES)
    with pytest.raises(UplinkRejected) as refused:
        _accept(ingest, data)
    assert refused.value.reason == "future_time"


def test_a_clock_started_days_ahead_accepts_its_now_and_its_past(
    world: World,
) -> None:
    """The demo's clock may start in another season: "now" is the site's, on both sides."""
    clock = Clock.simulated(360, start_s=time.time() + 30 * 86400)
    ingest = world.ingest(clock)
    site_now = uplink(world.node.key, world.node.node, 3, clock.now_s(), VALUES)
    assert _accept(ingest, site_now) == STORED
    real_now_days_behind = uplink(world.node.key, world.node.node, 4, time.time(), VALUES)
    assert _accept(ingest, real_now_days_behind) == STORED  # 30 days old: within MAX_AGE_S
