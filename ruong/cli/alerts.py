"""`ruong alerts [run|list|ack|test]`: the evaluator and sender (backend/alerts/), the alerts
as they stand, an acknowledgement from the command line, one test message to a person."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from backend.accounts import Accounts
from backend.alerts import configured
from backend.alerts.outbox import Item, enqueue
from backend.alerts.sender import Sender
from backend.alerts.store import AlertStore
from backend.alerts.thresholds import add_threshold, thresholds
from backend.audit import Audit, cli_actor
from backend.clock import Clock
from backend.config import Settings
from backend.i18n import Message, render
from backend.identity import AccountError
from backend.registry import Registry
from backend.store import open_store

STATES = ("pending", "firing", "resolved", "expired")


def cmd_alerts_run(settings: Settings, args: argparse.Namespace) -> int:
    """Evaluate every `[alerts] evaluate_every` s and send what is due, until stopped."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = f"{socket.gethostname()}-{os.getpid()}"
    clock = Clock.of(settings)  # the site's: the demo's may run N times faster
    with Registry(settings.registry_url) as registry, open_store(settings.store) as store:
        evaluator = configured.evaluator(settings, registry, store, clock)
        sender = Sender(
            registry.engine,
            configured.channels(settings),
            worker,
            link_base=settings.alerts_base_url or settings.dashboard_bind,
            link_secret=settings.alerts_link_secret,
            clock=clock,
        )
        print(f"ruong alerts: evaluating every {settings.alerts_evaluate_every:g} s", flush=True)
        deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
        next_round = time.monotonic()
        try:
            while not stop.is_set():
                if time.monotonic() >= next_round:
                    result = evaluator.run_once()
                    print(
                        f"evaluated {result.evaluated}: {result.transitions} transitions, "
                        f"{result.queued} messages queued, {result.muted} muted"
                        + ("" if result.store_ok else "; the store does not answer"),
                        flush=True,
                    )
                    next_round = time.monotonic() + settings.alerts_evaluate_every
                    if args.once:
                        while sender.run_once():
                            pass
                        break
                while sender.run_once():
                    pass
                if deadline is not None and time.monotonic() >= deadline:
                    break
                stop.wait(1.0)
        finally:
            sender.close()
    return 0


def cmd_alerts_list(settings: Settings, args: argparse.Namespace) -> int:
    with Registry(settings.registry_url) as registry:
        alerts = AlertStore(registry.engine).alerts(args.state)
    if args.json:
        print(
            json.dumps(
                [a.as_json() | {"text": render(a.message, args.lang)} for a in alerts],
                ensure_ascii=False,
            )
        )
        return 0
    if not alerts:
        print("no alerts" + (f" {args.state}" if args.state else ""))
    for a in alerts:
        acked = f" acked {a.acked_at:%d/%m %H:%M}" if a.acked_at else ""
        print(
            f"{a.id:>5} {a.state:<9} L{a.level} {a.rule:<20} {a.subject:<16}{acked}  "
            f"{render(a.message, args.lang)}"
        )
    return 0


def cmd_alerts_ack(settings: Settings, args: argparse.Namespace) -> int:
    with Registry(settings.registry_url) as registry:
        view = AlertStore(registry.engine, Clock.of(settings)).acknowledge(args.id, None, args.note)
        if view is None:
            raise AccountError(f"unknown alert {args.id}")
        audit = Audit(registry.engine, settings.audit_syslog)
        audit.record(cli_actor(), "alert.ack", "success", target=f"alert:{args.id}")
        audit.close()
    print(f"alert {args.id} acknowledged: reminders and escalation stop")
    return 0


def cmd_alerts_test(settings: Settings, args: argparse.Namespace) -> int:
    """One test message to a person over one channel, through the outbox like any other."""
    channels = configured.channels(settings)
    if args.channel not in channels and args.channel != "inbox":
        raise AccountError(
            f"channel {args.channel!r} is not configured (configured: "
            f"{', '.join(sorted(channels)) or 'none'}; set [channels.{args.channel}] url)"
        )
    clock = Clock.of(settings)
    now = datetime.fromtimestamp(clock.now_s(), UTC)
    with Registry(settings.registry_url) as registry:
        person = Accounts(registry.engine).user(args.user)
        with Session(registry.engine) as session, session.begin():
            enqueue(
                session,
                [
                    Item(
                        idempotency_key=f"test-{person.id}-{args.channel}-{now.timestamp():.0f}",
                        person_id=person.id,
                        channels=(args.channel,),
                        subject=Message("alert.test.subject"),
                        message=Message("alert.test.body", {"channel": args.channel}),
                        level=1,
                        send_at=now,
                    )
                ],
                now,
            )
        sender = Sender(registry.engine, channels, f"test-{os.getpid()}", clock=clock)
        try:
            sender.run_once()
        finally:
            sender.close()
    outcome = ", ".join(f"{c}: {o} x{n}" for (c, o), n in sorted(sender.counts.items()))
    print(f"test message to {person.login}: {outcome or 'nothing sent'}")
    return 0 if any(o == "delivered" for (_, o) in sender.counts) else 1


def cmd_alerts_threshold(settings: Settings, args: argparse.Namespace) -> int:
    """Add a reading threshold to a field (`--below` or `--above`), or list them."""
    with Registry(settings.registry_url) as registry:
        if args.below is None and args.above is None:
            for t in thresholds(registry.engine, args.field):
                side = "below" if t.below else "above"
                print(
                    f"{t.id:>4} field {t.field_id}: {t.quantity} {side} {t.value:g} (level {t.level})"
                )
            return 0
        made = add_threshold(
            registry.engine,
            args.field,
            args.quantity,
            args.below is not None,
            args.below if args.below is not None else args.above,
            args.level,
        )
        audit = Audit(registry.engine, settings.audit_syslog)
        audit.record(cli_actor(), "threshold.add", "success", target=f"field:{args.field}")
        audit.close()
    print(
        f"threshold {made.id}: alert when field {made.field_id}'s {made.quantity} goes "
        f"{'below' if made.below else 'above'} {made.value:g} (level {made.level})"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser("alerts", help="run the alert evaluator and sender; list, ack, test")
    alerts.set_defaults(func=cmd_alerts_run, once=False, exit_after=None)
    alerts_sub = alerts.add_subparsers(dest="alerts_command", metavar="ACTION")
    run = alerts_sub.add_parser("run", help="evaluate and send until stopped (the default)")
    run.add_argument("--once", action="store_true", help="one round, send what is due, exit")
    run.add_argument("--exit-after", type=float, metavar="SECONDS")
    run.set_defaults(func=cmd_alerts_run)
    listing = alerts_sub.add_parser("list", help="alerts, newest change first")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--lang", choices=("vi", "en"), default="vi")
    listing.set_defaults(func=cmd_alerts_list)
    ack = alerts_sub.add_parser("ack", help="acknowledge an alert: reminders and escalation stop")
    ack.add_argument("id", type=int)
    ack.add_argument("--note", help="what was done")
    ack.set_defaults(func=cmd_alerts_ack)
    threshold = alerts_sub.add_parser(
        "threshold", help="a field's reading threshold (with --below/--above), or the list"
    )
    threshold.add_argument("--field", type=int, help="the field's id (ruong field add prints it)")
    threshold.add_argument("--quantity", default="soil_vwc", help="e.g. soil_vwc, water_level")
    side = threshold.add_mutually_exclusive_group()
    side.add_argument("--below", type=float, help="alert when the reading goes below this")
    side.add_argument("--above", type=float, help="alert when the reading goes above this")
    threshold.add_argument("--level", type=int, default=2, choices=(1, 2, 3))
    threshold.set_defaults(func=cmd_alerts_threshold)
    test = alerts_sub.add_parser("test", help="send one test message to a person")
    test.add_argument("--user", required=True, help="phone number or username")
    test.add_argument(
        "--channel", required=True, choices=("zalo", "sms", "email", "webhook", "inbox")
    )
    test.set_defaults(func=cmd_alerts_test)
