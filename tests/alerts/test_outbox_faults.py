"""The outbox's promise under faults, on real processes (issue 14, "Delivery" and "Tests"):
at-least-once to the provider, exactly-once to the person.

- an SMTP server down and back: the sender retries with backoff and every email arrives once;
- a sender SIGKILLed mid-batch: another takes its stale claims over; every row is delivered
  and the receiver, deduping on `Idempotency-Key`, shows each to the person once;
- two senders on one PostgreSQL: 10,000 deliveries, none twice.

All on a real PostgreSQL (`FOR UPDATE SKIP LOCKED` is what the concurrent claims rely on),
real aiosmtpd / HTTP receivers counting on their side, and senders in their own processes
(tests/alerts/outbox_worker.py) where a crash or concurrency is the point.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message as EmailHeaders
from pathlib import Path

import pytest
import trustme
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.accounts import Accounts
from backend.alerts import outbox
from backend.alerts.channels.email import EmailChannel
from backend.alerts.outbox import Item, Outbox, enqueue
from backend.alerts.sender import Sender
from backend.db import open_engine
from backend.i18n import Message
from backend.schema import OutboxRow
from ruong.postgres import PostgresServer
from tests.alerts.providers import Answer, SmtpServer, WebhookReceiver
from tests.conftest import wait_until

pytestmark = pytest.mark.services

SECRET = "webhook-secret-for-tests"
PASSWORD = "lua-thom-2026"
SMTP_USER, SMTP_PASSWORD = "canhbao", "smtp-password-for-tests"
ROOT = Path(__file__).resolve().parents[2]
SUBJECT = Message("irrigation.amount", {"mm": 25, "m3": 37.5})
BODY = Message("irrigation.today", {"amount": SUBJECT})


def people(engine: Engine, channel: str, n: int = 3) -> list[int]:
    """`n` people on `channel` (argon2 makes each cost ~50 ms: few people, many rows each)."""
    accounts = Accounts(engine)
    accounts.add_organisation("HTX Yên Khánh", "coop")
    return [
        accounts.add_user(
            "HTX Yên Khánh",
            "farmer",
            PASSWORD,
            username=f"nong.dan.{k}",
            email=f"nong.dan.{k}@example.vn",
            channels=[channel],
        ).id
        for k in range(n)
    ]


def add_rows(
    engine: Engine, person_ids: list[int], channel: str, n: int, prefix: str, per_tx: int = 2500
) -> list[str]:
    """`n` due rows spread over the people, enqueued `per_tx` to a transaction; their keys."""
    now = datetime.now(UTC)
    keys = [f"{prefix}-{k:05d}" for k in range(n)]
    for start in range(0, n, per_tx):
        items = [
            Item(key, person_ids[k % len(person_ids)], [channel], SUBJECT, BODY, 2, now)
            for k, key in enumerate(keys[start : start + per_tx], start)
        ]
        with Session(engine) as session, session.begin():
            assert enqueue(session, items, now) == len(items)
    return keys


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
        return Counter({status: int(n) for status, n in rows})


def per_sender(engine: Engine) -> Counter[str]:
    """Delivered rows by the worker whose claim answered them (`claimed_by` is `worker:token`)."""
    with Session(engine) as session:
        tokens = session.scalars(
            select(OutboxRow.claimed_by).where(OutboxRow.status == "delivered")
        )
        return Counter(str(token).split(":", 1)[0] for token in tokens)


@pytest.fixture
def engine(postgres: PostgresServer) -> Iterator[Engine]:
    engine = open_engine(postgres.new_database())
    yield engine
    engine.dispose()


class CountingReceiver(WebhookReceiver):
    """The webhook receiver (signature verified), keeping every `Idempotency-Key` as it
    arrives, before answering: a request whose sender dies waiting has still reached the
    provider. `delay_s` per request makes a batch slow enough to be killed in the middle."""

    def __init__(self, secret: str, delay_s: float = 0.0) -> None:
        super().__init__(secret)
        self.delay_s = delay_s
        self.keys: list[str] = []

    def answer(self, path: str, headers: EmailHeaders, body: bytes) -> Answer:
        status, extra, payload = super().answer(path, headers, body)
        if status == 204:
            with self.lock:
                self.keys.append(str(headers.get("Idempotency-Key")))
        if self.delay_s:
            time.sleep(self.delay_s)
        return status, extra, payload


def worker(db: str, receiver: WebhookReceiver, name: str, *extra: str) -> subprocess.Popen[str]:
    """A sender process (tests/alerts/outbox_worker.py), once it has said `ready`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.outbox_worker", "--db", db]
        + ["--webhook", receiver.url, "--secret", SECRET, "--worker", name, *extra],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", f"{name} did not start"
    return process


def finished(process: subprocess.Popen[str], timeout_s: float) -> dict[str, object]:
    """The JSON counts a worker run `--until-empty` prints as it ends."""
    out, _ = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, out
    return dict(json.loads(out.strip().splitlines()[-1]))


def restart(smtp: SmtpServer) -> None:
    """Start a stopped SmtpServer again on the same port (and with the same mailbox): aiosmtpd
    closes a controller's event loop when it stops, so it gets a new one."""
    smtp._controller.loop = asyncio.new_event_loop()
    smtp.start()


def test_an_smtp_outage_delays_every_email_and_duplicates_none(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SMTP down, then back on the same port: every email arrives once (by Message-ID).

    Time is scaled: in production the backoff is 30 s doubling to an hour (BACKOFF_BASE_S,
    BACKOFF_CAP_S) and the issue's outage is 60 s; here it is 0.2 s doubling to 2 s and a 4 s
    outage, which is the same sequence (several transient failures per row, each rescheduled
    later with jitter, then delivery once the server answers) in a fifteenth of the time, so
    the module stays well under 90 s.
    """
    monkeypatch.setattr(outbox, "BACKOFF_BASE_S", 0.2)
    monkeypatch.setattr(outbox, "BACKOFF_CAP_S", 2.0)
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    smtp = SmtpServer(ca, str(ca_file), SMTP_USER, SMTP_PASSWORD)
    smtp.start()
    ids = people(engine, "email")
    channel = EmailChannel(smtp.url(), "Ruộng <canhbao@example.vn>", str(ca_file), timeout_s=5)
    sender = Sender(engine, {"email": channel}, "mail", batch=10)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if not sender.run_once():
                time.sleep(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        before = add_rows(engine, ids, "email", 6, "before")
        wait_until(lambda: statuses(engine) == {"delivered": 6}, 20, "the first emails")
        smtp.stop()  # nothing in flight: every row so far answered
        during = add_rows(engine, ids, "email", 24, "during")  # alerts keep coming meanwhile
        down_at = time.monotonic()
        wait_until(
            lambda: sender.counts[("email", "transient")] >= 2 * len(during),
            10,
            lambda: f"retries during the outage: {sender.counts}",
        )
        time.sleep(max(0.0, 4.0 - (time.monotonic() - down_at)))
        retries = sender.counts[("email", "transient")]
        restart(smtp)
        up_at = time.monotonic()
        wait_until(
            lambda: statuses(engine) == {"delivered": 30},
            20,
            lambda: f"after the outage: {statuses(engine)}",
        )
        recovered_s = time.monotonic() - up_at
    finally:
        stop.set()
        thread.join(10)
        smtp.stop()
    ids_seen = Counter(str(m["Message-ID"]) for m in smtp.mailbox.messages)
    expected = {f"<{key}.ruong@example.vn>" for key in before + during}
    print(
        f"\nSMTP outage: {len(expected)} rows, {retries} transient failures in "
        f"{time.monotonic() - down_at - recovered_s:.1f} s down, all delivered "
        f"{recovered_s:.1f} s after it came back; received {sum(ids_seen.values())}, "
        f"distinct Message-IDs {len(ids_seen)}, twice {sum(n > 1 for n in ids_seen.values())}"
    )
    assert set(ids_seen) == expected
    assert max(ids_seen.values()) == 1
    assert sender.counts[("email", "delivered")] == 30


def test_a_sender_killed_mid_batch_loses_nothing_and_the_person_sees_each_once(
    engine: Engine, postgres: PostgresServer
) -> None:
    """SIGKILL a sender process while a slow receiver holds its request: a second sender takes
    the stale claims over after its lease; every row is delivered, and at most the one in
    flight reached the receiver twice, under the same key, which the receiver absorbs."""
    db = engine.url.render_as_string(hide_password=False)
    ids = people(engine, "webhook")
    keys = add_rows(engine, ids, "webhook", 20, "kill")
    receiver = CountingReceiver(SECRET, delay_s=0.3)
    receiver.start()
    try:
        first = worker(db, receiver, "first", "--batch", "8")
        wait_until(lambda: len(receiver.keys) >= 5, 20, "the first sender at work")
        first.send_signal(signal.SIGKILL)  # its 5th request is waiting 0.3 s for the answer
        first.wait(10)
        killed_after = len(receiver.keys)
        left = statuses(engine)
        assert left["claimed"] > 0, f"the kill landed after the batch: {left}"
        second = worker(db, receiver, "second", "--batch", "5", "--lease-s", "2", "--until-empty")
        report = finished(second, 60)
    finally:
        receiver.stop()
    got = Counter(receiver.keys)
    twice = [key for key, n in got.items() if n > 1]
    print(
        f"\nkilled mid-batch: {len(keys)} rows; the first sender had reached the receiver "
        f"{killed_after} times and left {left['claimed']} claimed; the second took "
        f"{report['taken']}; received {len(receiver.keys)}, distinct keys {len(got)}, "
        f"duplicates absorbed by the receiver {len(twice)} {twice}"
    )
    assert statuses(engine) == {"delivered": len(keys)}
    assert set(got) == set(keys)  # the person sees each one, once the receiver dedupes
    assert len(twice) <= 1 and all(got[key] == 2 for key in twice)
    assert per_sender(engine)["second"] >= left["claimed"] + left["pending"]


def test_two_senders_on_one_postgres_deliver_10000_with_no_duplicate(
    engine: Engine,
) -> None:
    """Two sender processes claiming concurrently from one PostgreSQL database (SKIP LOCKED):
    10,000 rows, each received exactly once, both senders doing part of the work."""
    db = engine.url.render_as_string(hide_password=False)
    ids = people(engine, "webhook")
    keys = add_rows(engine, ids, "webhook", 10_000, "pair")
    receiver = CountingReceiver(SECRET)
    receiver.start()
    try:
        senders = [
            worker(db, receiver, name, "--until-empty", "--wait-go", "--backoff-s", "0.2,2")
            for name in ("left", "right")
        ]
        started = time.monotonic()
        for process in senders:  # both claim from the same moment
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [finished(process, 120) for process in senders]
        seconds = time.monotonic() - started
    finally:
        receiver.stop()
    got = Counter(receiver.keys)
    twice = sum(n > 1 for n in got.values())
    by_sender = per_sender(engine)
    print(
        f"\ntwo senders: {len(keys)} rows, taken {[r['taken'] for r in reports]} "
        f"(delivered by {dict(by_sender)}), received {len(receiver.keys)}, distinct "
        f"{len(got)}, duplicates {twice}, {seconds:.1f} s, "
        f"{len(receiver.keys) / seconds:.0f} deliveries/s"
    )
    assert statuses(engine) == {"delivered": len(keys)}
    assert set(got) == set(keys) and twice == 0
    assert len(receiver.keys) == len(keys)
    assert by_sender["left"] > 0 and by_sender["right"] > 0
    assert sum(int(str(r["taken"])) for r in reports) == len(keys)
    assert Outbox(engine, "check").depth() == (0, 0.0)
    assert not receiver.rejected
