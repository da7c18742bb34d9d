"""The whole alert path on a real registry and store with a real receiver: a forecast that says
"irrigate today" becomes one alert, one message to the field's farmer (and none to a farmer
of another field), no repeat on the next evaluations, an acknowledgement kept; a node that
stops reporting tells the technician; the same through `ruong alerts` and the API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from backend.accounts import Accounts
from backend.alerts.channels.webhook import WebhookChannel
from backend.alerts.engine import Evaluator
from backend.alerts.links import verify
from backend.alerts.sender import Sender
from backend.alerts.store import AlertStore
from backend.i18n import Message
from backend.registry import Registry
from backend.store import Point, Store, open_store
from forecasting.advice import Advice
from ruong.forecast_job import advice_point
from tests.alerts.providers import WebhookReceiver
from tests.conftest import run_ruong, write_config

SECRET = "webhook-secret-for-tests"
TZ = "Asia/Ho_Chi_Minh"
SITE = ZoneInfo(TZ)
PASSWORD = "lua-thom-2026"
LINK_SECRET = "link-secret-for-tests"


@dataclass
class World:
    root: Path
    registry: Registry
    store: Store
    receiver: WebhookReceiver
    field_a: int
    field_b: int
    node_a: str

    def evaluator(self) -> Evaluator:
        return Evaluator(self.registry, self.store, TZ, quiet_hours=())

    def sender(self) -> Sender:
        return Sender(
            self.registry.engine,
            {"webhook": WebhookChannel(self.receiver.url, SECRET)},
            "t",
            link_base="https://ruong.example.vn",
            link_secret=LINK_SECRET,
        )

    def by_person(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self.receiver.accepted:
            counts[doc["idempotency_key"]] = counts.get(doc["idempotency_key"], 0) + 1
        return counts


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    accounts = Accounts(registry.engine)
    accounts.add_organisation("HTX Yên Khánh", "coop")
    a = accounts.add_user(
        "HTX Yên Khánh", "farmer", PASSWORD, phone="0912345678", channels=["webhook"]
    )
    b = accounts.add_user(
        "HTX Yên Khánh", "farmer", PASSWORD, phone="0987654321", channels=["webhook"]
    )
    accounts.add_user(
        "HTX Yên Khánh", "technician", PASSWORD, username="ky.thuat", channels=["webhook"]
    )
    registry.add_farm("yk", "HTX Yên Khánh")
    field_a = registry.add_field("yk", "ngo-1", "Khánh Thiện", a.id)
    field_b = registry.add_field("yk", "ngo-2", "Khánh Thiện", b.id)
    node = registry.provision("yk", "ngo-1", "coap")
    store = open_store(f"sqlite:///{tmp_path / 'readings.db'}")
    receiver = WebhookReceiver(SECRET)
    receiver.start()
    yield World(tmp_path, registry, store, receiver, field_a, field_b, node.node)
    receiver.stop()
    store.close()
    registry.close()


def irrigate_today(world: World, at: datetime) -> None:
    amount = Message("irrigation.amount", {"mm": 25, "m3": 37.5})
    advice = Advice(
        "irrigation",
        "fao56-ch8",
        3,
        Message("irrigation.today", {"amount": amount}),
        {"days_ahead": 0, "gross_mm": 25.0},
    )
    world.store.write([advice_point("yk", "ngo-1", advice, int(at.timestamp() * 1000))])


def reading(world: World, at: datetime) -> None:
    tags = {"farm": "yk", "field": "ngo-1", "node": world.node_a}
    world.store.write([Point("readings", tags, {"soil_vwc": 22.0}, int(at.timestamp() * 1000))])


def today_start() -> datetime:
    """00:00 of the site's today, in UTC: a forecast's "irrigate today" alert ends with its
    local day, so a test's forecast must not be yesterday's (the tests once failed between
    23:00 and 00:30 site time)."""
    local = datetime.now(SITE).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def window_start(span: timedelta) -> datetime:
    """An hour ago, or earlier when the `span` from there would cross the site's midnight."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    midnight = today_start()
    if t0 < midnight < t0 + span:
        t0 = midnight - span - timedelta(minutes=5)
    return t0


def drain(sender: Sender) -> None:
    while sender.run_once():
        pass


def test_irrigate_today_tells_the_farmer_once_and_is_acknowledged(world: World) -> None:
    t0 = window_start(timedelta(minutes=90))
    irrigate_today(world, t0)
    reading(world, t0)
    evaluator, sender = world.evaluator(), world.sender()
    for minute in range(0, 90, 1):  # an evaluation a minute for an hour and a half
        now = t0 + timedelta(minutes=minute)
        if minute % 15 == 0:
            reading(world, now)  # the node keeps reporting: no node alert
        evaluator.run_once(now)
        drain(sender)
    counts = world.by_person()
    assert list(counts.values()) == [1], counts  # one message, once
    (doc,) = world.receiver.accepted
    assert "Tưới hôm nay: 25 mm" in doc["body"] and "irrigation v1" in doc["body"]
    (alert,) = AlertStore(world.registry.engine).alerts("firing")
    # the one-tap link in the message acknowledges this alert as this farmer, signed
    link = urlsplit(doc["ack_url"])
    assert (link.netloc, link.path) == ("ruong.example.vn", f"/ack/{alert.id}")
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    farmer = Accounts(world.registry.engine).user_id("0912345678")
    now = datetime.now(UTC)
    assert verify(LINK_SECRET, alert.id, query["p"], query["e"], query["s"], now) == farmer
    assert verify(LINK_SECRET, alert.id + 1, query["p"], query["e"], query["s"], now) is None
    assert alert.field_id == world.field_a and alert.rule == "irrigation"
    acked = AlertStore(world.registry.engine).acknowledge(alert.id, None, "đã tưới 25 mm")
    assert acked is not None and acked.ack_note == "đã tưới 25 mm"


def test_a_silent_node_tells_the_technician_not_the_farmers(world: World) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    reading(world, t0)
    evaluator, sender = world.evaluator(), world.sender()
    for minute in range(0, 120, 2):  # 15-minute node, silent for two hours
        evaluator.run_once(t0 + timedelta(minutes=minute))
        drain(sender)
    (alert,) = AlertStore(world.registry.engine).alerts("firing")
    assert alert.rule == "node_offline" and alert.node_id == world.node_a
    (doc,) = world.receiver.accepted
    assert world.node_a in doc["body"]
    with world.registry.engine.connect() as connection:
        person = connection.exec_driver_sql(
            "SELECT u.username FROM outbox o JOIN users u ON u.id = o.person_id"
        ).scalar_one()
    assert person == "ky.thuat"


def test_ruong_alerts_once_list_and_ack(world: World) -> None:
    config = write_config(
        world.root / "ruong.toml",
        registry_url=f"sqlite:///{world.root / 'registry.db'}",
        store_url=f"sqlite:///{world.root / 'readings.db'}",
        alerts_quiet_hours="",
    )
    with config.open("a") as out:  # a sub-table, which write_config's section_key cannot name
        out.write(f'[channels.webhook]\nurl = "{world.receiver.url}"\nsecret = "{SECRET}"\n')
    now = max(datetime.now(UTC) - timedelta(minutes=30), today_start())
    irrigate_today(world, now)
    reading(world, datetime.now(UTC))
    for _ in range(2):  # two evaluations: the alert is pending, then (fire_after 2) ...
        done = run_ruong("--config", str(config), "alerts", "run", "--once")
        assert done.returncode == 0, done.stderr
    listed = run_ruong("--config", str(config), "alerts", "list", "--json")
    alerts = json.loads(listed.stdout)
    assert [a["rule"] for a in alerts] == ["irrigation"]
    assert alerts[0]["state"] in ("pending", "firing")
    assert "Tưới hôm nay" in alerts[0]["text"]
    acked = run_ruong(
        "--config", str(config), "alerts", "ack", str(alerts[0]["id"]), "--note", "ok"
    )
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    missing = run_ruong("--config", str(config), "alerts", "ack", "999")
    assert missing.returncode == 2 and "unknown alert 999" in missing.stderr
    tested = run_ruong(
        "--config", str(config), "alerts", "test", "--user", "0912345678", "--channel", "webhook"
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    time.sleep(0.1)
    assert any("tin nhắn thử" in d["subject"] for d in world.receiver.accepted)


def test_a_threshold_the_farmer_sets_fires_on_the_reading(world: World) -> None:
    config = write_config(
        world.root / "ruong.toml",
        registry_url=f"sqlite:///{world.root / 'registry.db'}",
        store_url=f"sqlite:///{world.root / 'readings.db'}",
    )
    made = run_ruong(
        "--config", str(config), "alerts", "threshold", "--field", str(world.field_a),
        "--quantity", "soil_vwc", "--below", "25",
    )  # fmt: skip
    assert made.returncode == 0 and "below 25" in made.stdout, made.stderr
    bad = run_ruong(
        "--config", str(config), "alerts", "threshold", "--field", str(world.field_a),
        "--quantity", "soil_vwc", "--below", "250",
    )  # fmt: skip
    assert bad.returncode == 2 and "outside what a sensor reports" in bad.stderr
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    evaluator, sender = world.evaluator(), world.sender()
    for minute in range(0, 45, 1):
        now = t0 + timedelta(minutes=minute)
        if minute % 15 == 0:
            reading(world, now)  # 22 % < 25 %: below the threshold
        evaluator.run_once(now)
        drain(sender)
    (alert,) = AlertStore(world.registry.engine).alerts("firing")
    assert alert.rule.startswith("threshold:") and alert.field_id == world.field_a
    (doc,) = world.receiver.accepted
    assert "25" in doc["body"]
