"""Alerts benchmark: evaluate many fields' rules, then push many deliveries to a local webhook.

    .venv/bin/python -m bench.alerts [--fields 10000] [--deliveries 10000]
        [--registry sqlite|postgres] [--senders 2] [--rate 100] [--seconds 120]

Builds a registry (SQLite in a temp dir, or a PostgreSQL of its own via ruong.postgres
`start_postgres`) with one organisation, `--farmers` farmers and `--fields` fields over 20
communes, a node on every tenth field, and an SQLite store with one irrigation forecast per
field (`--share` of them "irrigate today", level 3) (bench/alerts_world.py). Then:
- evaluation: `Evaluator.run_once` three times, 21 min apart: round 1 starts the alerts
  (pending), round 2 fires them (`pending_s` has passed: transitions and outbox rows), round 3
  is the steady state; seconds per 1,000 fields against the 10,000-fields-in-10-s target;
- delivery: outbox rows (`outbox.enqueue`, one transaction per batch, `created_at` = the
  moment of the state change) sent by `Sender`s (threads, each its own `WebhookChannel`) to a
  receiver in its own process (bench/alerts_receiver.py) that records each key's arrival:
  (a) baseline, the same POSTs straight to the receiver with httpx from one thread; (b) the
  outbox as fast as it goes (batches of 1,000) with 1 and with `--senders` senders; (c) the
  outbox at `--rate` rows/s (10 per 100 ms) for what is left of the `--seconds` budget.
  Printed: deliveries/s, and p50/p99 from the row's `created_at` to its arrival (for (a): of
  each POST's round trip), against the p99 < 30 s at 100 alerts/s target.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.alerts.channels.webhook import SIGNATURE_HEADER, WebhookChannel, signature
from backend.alerts.engine import Evaluator
from backend.alerts.outbox import Item, enqueue
from backend.alerts.sender import Sender
from backend.i18n import Message
from backend.registry import Registry
from backend.schema import OutboxRow, utc
from backend.store import open_store
from bench.alerts_receiver import Receiver
from bench.alerts_world import build

SECRET = "bench-webhook-secret"
TZ = "Asia/Ho_Chi_Minh"
EVAL_AT = datetime(2026, 4, 10, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội: all rounds the same day
ROUND_GAP = timedelta(minutes=21)  # more than the default pending_s (20 min)
TARGET_EVAL_S = 10.0  # 10,000 fields
TARGET_P99_S = 30.0
SUBJECT = Message("alert.digest_subject", {"count": 1, "day": "2026-04-10"})
WORDS = Message(
    "irrigation.today", {"amount": Message("irrigation.amount", {"mm": 25, "m3": 37.5})}
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def evaluate(evaluator: Evaluator, fields: int) -> list[tuple[str, float, str]]:
    rows = []
    for k, name in enumerate(("1 (alerts pending)", "2 (alerts fire)", "3 (steady)")):
        t0 = time.perf_counter()
        result = evaluator.run_once(EVAL_AT + k * ROUND_GAP)
        took = time.perf_counter() - t0
        detail = (
            f"{result.evaluated} observations, {result.transitions} transitions, "
            f"{result.queued} outbox rows"
        )
        rows.append((name, took, detail))
    return rows


class Delivery:
    """One outbox run: a producer enqueues `count` rows (`batch` per `every_s`, or as fast as
    it goes), `senders` threads send them; the receiver's arrival times against `created_at`."""

    def __init__(self, registry: Registry, receiver: Receiver, people: list[int]) -> None:
        self.registry, self.receiver, self.people = registry, receiver, people
        self.run = 0

    def _items(self, prefix: str, start: int, n: int, now: datetime) -> list[Item]:
        return [
            Item(
                f"{prefix}-{k}",
                self.people[k % len(self.people)],
                ("webhook",),
                SUBJECT,
                WORDS,
                3,
                now,
            )
            for k in range(start, start + n)
        ]

    def __call__(
        self, count: int, senders: int, batch: int, every_s: float, deadline: float
    ) -> tuple[float, list[float], int]:
        """(deliveries/s, latencies s, rows sent)."""
        self.run += 1
        prefix = f"r{self.run}"
        engine = self.registry.engine
        stop = threading.Event()
        errors: list[BaseException] = []

        def guarded(work: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    work()
                except Exception as exc:  # noqa: BLE001  (re-raised after the run)
                    errors.append(exc)
                    stop.set()

            return run

        def produce() -> None:
            tick = time.monotonic()
            for start in range(0, count, batch):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                now = datetime.now(UTC)
                with Session(engine) as session, session.begin():
                    enqueue(
                        session, self._items(prefix, start, min(batch, count - start), now), now
                    )
                if every_s:
                    tick += every_s
                    time.sleep(max(0.0, tick - time.monotonic()))

        def send(k: int) -> None:
            sender = Sender(engine, {"webhook": WebhookChannel(self.receiver.url, SECRET)}, f"b{k}")
            try:
                while not stop.is_set():
                    if sender.run_once() == 0:
                        time.sleep(0.02)
            finally:
                sender.close()

        threads = [threading.Thread(target=guarded(produce), name="producer")]
        threads += [threading.Thread(target=guarded(partial(send, k))) for k in range(senders)]
        began = time.time()
        for thread in threads:
            thread.start()
        threads[0].join()
        with Session(engine) as session:
            made = (
                session.scalar(
                    select(func.count()).where(OutboxRow.idempotency_key.startswith(prefix + "-"))
                )
                or 0
            )
        while not stop.is_set() and self.receiver.count()[0] < made and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        arrivals = dict(self.receiver.take())
        with Session(engine) as session:
            created = dict(
                session.execute(
                    select(OutboxRow.idempotency_key, OutboxRow.created_at).where(
                        OutboxRow.idempotency_key.startswith(prefix + "-")
                    )
                ).all()
            )
            session.execute(delete(OutboxRow))  # the next run starts from an empty outbox
            session.commit()
        latencies = [t - utc(created[k]).timestamp() for k, t in arrivals.items() if k in created]
        span = (max(arrivals.values()) - began) if arrivals else float("inf")
        return len(arrivals) / span, latencies, len(arrivals)


def baseline(url: str, count: int) -> tuple[float, list[float]]:
    """The same signed POSTs straight to the receiver, one httpx client, one thread."""
    body = (
        b'{"idempotency_key":"k","level":3,"subject":"C\xe1\xba\xa3nh b\xc3\xa1o","body":"'
        + "Tưới hôm nay: 25 mm (37,5 m³)".encode() * 4
        + b'","ack_url":null,"lang":"vi","sent_at":"2026-04-10T00:30:00Z"}'
    )
    round_trips = []
    with httpx.Client(timeout=10) as client:
        began = time.perf_counter()
        for k in range(count):
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": f"base-{k}",
                SIGNATURE_HEADER: f"t={stamp},v1={signature(SECRET, stamp, body)}",
            }
            t0 = time.perf_counter()
            client.post(url, content=body, headers=headers).raise_for_status()
            round_trips.append(time.perf_counter() - t0)
        took = time.perf_counter() - began
    return count / took, round_trips


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.alerts", description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=10000)
    ap.add_argument("--farmers", type=int, default=300)
    ap.add_argument("--share", type=float, default=0.3, help="fields told to irrigate today")
    ap.add_argument("--deliveries", type=int, default=10000)
    ap.add_argument("--registry", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--rate", type=float, default=100.0, help="rows/s of the latency run (c)")
    ap.add_argument("--seconds", type=float, default=120.0, help="budget of the delivery runs")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ruong-bench-alerts-"))
    postgres = receiver = registry = store = None
    try:
        if args.registry == "postgres":
            from ruong.postgres import start_postgres  # ruong/services.py's until it moved

            postgres = start_postgres(work / "postgres")
            url = postgres.new_database()
        else:
            url = f"sqlite:///{work / 'registry.db'}"
        registry = Registry(url)
        store = open_store(f"sqlite:///{work / 'readings.db'}")
        t0 = time.perf_counter()
        world = build(
            registry,
            store,
            args.fields,
            args.farmers,
            args.share,
            EVAL_AT - timedelta(hours=1),
            EVAL_AT + 2 * ROUND_GAP,  # the nodes report throughout: no node alerts
        )
        print(
            f"registry {args.registry}: {world.fields} fields, {len(world.farmer_ids)} farmers, "
            f"{world.nodes} nodes, {world.irrigate} fields to irrigate today; built in "
            f"{time.perf_counter() - t0:.1f} s (not counted)"
        )
        evaluator = Evaluator(registry, store, TZ, quiet_hours=())
        rounds = evaluate(evaluator, args.fields)
        per_k = 1000 / args.fields
        print(f"\nevaluation, {args.fields} fields        s/round  s per 1,000 fields")
        for name, took, detail in rounds:
            print(f"  round {name:<22} {took:7.2f}  {took * per_k:8.3f}   {detail}")
        worst = max(t for _, t, _ in rounds) * 10000 / args.fields
        verdict = "met" if worst < TARGET_EVAL_S else "NOT met"
        print(f"  target 10,000 fields < {TARGET_EVAL_S:.0f} s: {verdict} (worst {worst:.1f} s)")
        with Session(registry.engine) as session, session.begin():
            session.execute(delete(OutboxRow))  # the evaluation's rows: dated EVAL_AT, not now

        receiver = Receiver(SECRET).start()
        n = args.deliveries
        rows: list[tuple[str, float, list[float], int]] = []
        rate, trips = baseline(receiver.url, n)
        receiver.take()
        rows.append(("(a) bare httpx loop, 1 thread", rate, trips, n))
        run = Delivery(registry, receiver, world.farmer_ids)
        budget_end = time.monotonic() + args.seconds
        for senders in sorted({1, args.senders}):
            got = run(n, senders, 1000, 0.0, budget_end)
            rows.append((f"(b) outbox, {senders} sender(s), max", got[0], got[1], got[2]))
        left = budget_end - time.monotonic()
        count = int(min(n, max(10.0, left - 5) * args.rate))
        got = run(
            count, args.senders, 10, 10 / args.rate, time.monotonic() + count / args.rate + 60
        )
        label = f"(c) outbox, {args.senders} sender(s), {args.rate:g}/s"
        rows.append((label, got[0], got[1], got[2]))

        print(f"\ndelivery to a local webhook ({args.registry})  sent  deliveries/s  p50 s  p99 s")
        for name, per_s, lat, sent in rows:
            print(
                f"  {name:<34} {sent:6d}  {per_s:11.0f}  {pct(lat, 0.5):5.3f}  {pct(lat, 0.99):5.3f}"
            )
        p99 = pct(rows[-1][2], 0.99)
        verdict = "met" if p99 < TARGET_P99_S else "NOT met"
        print(f"  target p99 < {TARGET_P99_S:.0f} s at {args.rate:g} alerts/s: {verdict}")
        print(
            f"  (b)/(a) speed: {rows[1][1] / rows[0][1]:.2f}x; receiver rejected {receiver.count()[1]}"
        )
        print("  latency: (a) each POST's round trip; (b), (c) outbox created_at -> arrival")
        return 0
    finally:
        if receiver is not None:
            receiver.stop()
        if store is not None:
            store.close()
        if registry is not None:
            registry.close()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
