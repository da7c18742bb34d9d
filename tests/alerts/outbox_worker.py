"""A real sender process for the outbox fault tests (tests/alerts/test_outbox_faults.py): runs
`Sender(...).run_once()` in a loop against one webhook endpoint, as `ruong alerts send` would,
so a test can SIGKILL it mid-batch or run two of them on one PostgreSQL database.

    python -m tests.alerts.outbox_worker --db URL --webhook URL --secret S --worker NAME
        [--lease-s 120] [--batch 50] [--backoff-s 0.2,2] [--until-empty] [--wait-go]

It prints `ready` once connected; with `--wait-go` it then waits for a line on stdin, so two
processes start claiming at the same moment. With `--until-empty` it stops when no row is left
pending or claimed and prints its counts as one JSON line; otherwise it runs until killed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from backend.alerts import outbox
from backend.alerts.channels.webhook import WebhookChannel
from backend.alerts.sender import Sender
from backend.db import open_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outbox_worker")
    parser.add_argument("--db", required=True)
    parser.add_argument("--webhook", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--lease-s", type=float, default=outbox.LEASE_S)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--backoff-s", default=None, help="base,cap: a test's scaled time")
    parser.add_argument("--until-empty", action="store_true")
    parser.add_argument("--wait-go", action="store_true")
    parser.add_argument("--max-s", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.backoff_s:
        base, cap = (float(v) for v in args.backoff_s.split(","))
        outbox.BACKOFF_BASE_S, outbox.BACKOFF_CAP_S = base, cap
    engine = open_engine(args.db)
    channel = WebhookChannel(args.webhook, args.secret, timeout_s=10)
    sender = Sender(
        engine, {"webhook": channel}, args.worker, batch=args.batch, lease_s=args.lease_s
    )
    sender.outbox.depth()  # connected: the database answers
    print("ready", flush=True)
    if args.wait_go:
        sys.stdin.readline()
    started = time.monotonic()
    taken = 0
    while time.monotonic() - started < args.max_s:
        got = sender.run_once()
        taken += got
        if got:
            continue
        if args.until_empty and sender.outbox.depth()[0] == 0:
            break
        time.sleep(0.05)
    else:
        print(f"{args.worker}: gave up after {args.max_s} s", file=sys.stderr)
        return 1
    counts = {f"{ch}/{outcome}": n for (ch, outcome), n in sender.counts.items()}
    print(json.dumps({"worker": args.worker, "taken": taken, "counts": counts}), flush=True)
    channel.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
