"""Alerts on the demo's faster clock (`ruong demo --speed N`): an unacknowledged level-3 alert
escalates to the province after `escalate_after` seconds of SITE time, i.e. after
escalate_after / N real seconds, and the message it queues is due on the site's clock (a
sender on the real clock would hold it back until the real clock caught up)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts import Accounts
from backend.alerts.engine import Evaluator
from backend.alerts.routing import RoutingPolicy
from backend.alerts.sender import Sender
from backend.alerts.store import AlertStore
from backend.clock import Clock
from backend.i18n import Message
from backend.registry import Registry
from backend.schema import OutboxRow
from backend.store import Store, open_store
from forecasting.advice import Advice
from ruong.forecast_job import advice_point

TZ = "Asia/Ho_Chi_Minh"
PASSWORD = "lua-thom-2026"
SPEED = 360.0
ESCALATE_AFTER_S = 3600.0  # site seconds: 10 real seconds at speed 360


@dataclass
class World:
    registry: Registry
    store: Store
    province_officer: int
    t0: float  # the site time (Unix s) the simulated clock starts at

    def clock_after(self, real_s: float) -> Clock:
        """The speed-360 clock as it reads `real_s` real seconds after it started at t0."""
        return Clock(SPEED, self.t0, time.time() - real_s)

    def province_rows(self) -> list[OutboxRow]:
        with Session(self.registry.engine) as session:
            query = select(OutboxRow).where(OutboxRow.person_id == self.province_officer)
            return list(session.scalars(query))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    accounts = Accounts(registry.engine)
    accounts.add_organisation("HTX Yên Khánh", "coop")
    accounts.add_organisation("Sở NN Ninh Bình", "province")
    farmer = accounts.add_user("HTX Yên Khánh", "farmer", PASSWORD, phone="0912345678")
    # an officer of the province covering another commune: told of this field only by escalation
    officer = accounts.add_user(
        "Sở NN Ninh Bình", "officer", PASSWORD, phone="0987654321", communes=["Gia Sinh"]
    )
    registry.add_farm("yk", "HTX Yên Khánh")
    registry.add_field("yk", "lua-1", "Khánh Thiện", farmer.id)
    store = open_store(f"sqlite:///{tmp_path / 'readings.db'}")
    # the demo starts its clock at 08:00 tomorrow, site time: hours ahead of the real clock,
    # and the day's "irrigate today" has the day left before it expires
    zone = ZoneInfo(TZ)
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    t0 = datetime.combine(tomorrow, dt_time(8), tzinfo=zone).timestamp()
    advice = Advice(
        "irrigation",
        "fao56-ch8",
        3,
        Message("irrigation.today", {"amount": Message("irrigation.amount", {"mm": 25})}),
        {"days_ahead": 0, "gross_mm": 25.0},
    )
    store.write([advice_point("yk", "lua-1", advice, int(t0 * 1000))])
    yield World(registry, store, officer.id, t0)
    store.close()
    registry.close()


def test_a_speed_360_clock_escalates_after_escalate_after_site_seconds(world: World) -> None:
    routing = replace(RoutingPolicy(), timezone=TZ, escalate_after_s=ESCALATE_AFTER_S)
    evaluator = Evaluator(world.registry, world.store, TZ, routing=routing, quiet_hours=())
    for real_s in (0.0, 2.0, 4.0):  # three evaluations, 12 site minutes apart: it fires
        evaluator.clock = world.clock_after(real_s)
        evaluator.run_once()
    (alert,) = AlertStore(world.registry.engine).alerts("firing")
    fired_s = alert.updated_at.timestamp()
    assert world.t0 <= fired_s <= world.t0 + 4.5 * SPEED  # the alert's times are site times

    # escalate_after less a site minute: 9.8 real seconds on, no escalation yet
    evaluator.clock = world.clock_after((fired_s - world.t0 + ESCALATE_AFTER_S - 60) / SPEED)
    evaluator.run_once()
    assert world.province_rows() == []

    # a site minute past it: the province officer is told, due at the escalation's site time
    evaluator.clock = world.clock_after((fired_s - world.t0 + ESCALATE_AFTER_S + 60) / SPEED)
    evaluator.run_once()
    rows = world.province_rows()
    assert len(rows) >= 1
    due_s = min(r.send_at.replace(tzinfo=UTC).timestamp() for r in rows)
    assert abs(due_s - (fired_s + ESCALATE_AFTER_S)) < 2 * SPEED
    assert due_s > time.time() + 0.5 * ESCALATE_AFTER_S  # an hour ahead of the real clock

    # a sender on the real clock holds it back; one on the site's clock sends it (to the inbox)
    real_sender = Sender(world.registry.engine, {}, "real")
    assert real_sender.outbox.claim(100, datetime.now(UTC)) == []
    real_sender.close()
    site_sender = Sender(world.registry.engine, {}, "site", clock=evaluator.clock)
    while site_sender.run_once():
        pass
    site_sender.close()
    statuses = {r.channels.split(",")[0]: r.status for r in world.province_rows()}
    assert "delivered" in statuses.values(), statuses


def test_the_outbox_backoff_waits_real_seconds_on_a_fast_clock(world: World) -> None:
    """A provider that is down is retried after `backoff` REAL seconds: on a speed-360 clock
    the row's send_at moves 360 x the wait in site time."""
    routing = replace(RoutingPolicy(), timezone=TZ, escalate_after_s=ESCALATE_AFTER_S)
    evaluator = Evaluator(world.registry, world.store, TZ, routing=routing, quiet_hours=())
    for real_s in (0.0, 2.0, 4.0):
        evaluator.clock = clock = world.clock_after(real_s)
        evaluator.run_once()
    sender = Sender(world.registry.engine, {}, "site", clock=clock)
    claimed = sender.outbox.claim(100)
    assert claimed, "the farmer's message is due on the site's clock"
    before = clock.now_s()
    retry_at = sender.outbox.transient(claimed[0], "provider down", retry_after_s=10.0)
    sender.close()
    assert retry_at is not None
    waited_site_s = retry_at.timestamp() - before
    # backoff_s(1) is 15-45 real s, at least the 10 s asked for: x 360 in site seconds
    assert 10.0 * SPEED <= waited_site_s <= 46.0 * SPEED + SPEED
