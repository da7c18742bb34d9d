"""`ruong db upgrade|status|downsample`: the registry's schema (backend/db.py,
backend/migrations/) and the store's downsampled series (backend/store/downsample.py)."""

from __future__ import annotations

import argparse
import sys
import time

from backend import db
from backend.config import Settings
from backend.store import StoreError, open_store

DAY_MS = 86_400_000
DOWNSAMPLE_DAYS = 400  # a year and a season: what the dashboard compares against


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    engine = db.create(settings.registry_url)
    try:
        before, after = db.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"registry already at schema {after}")
    else:
        print(f"registry upgraded from schema {before or 'none (empty)'} to {after}")
    return ensure_store(settings)


def ensure_store(settings: Settings) -> int:
    """Create the store's downsampled series where missing; print what was done."""
    if settings.store.scheme == "sqlite":
        # nothing to create (it aggregates its raw rows), and opening it would create its file
        # wherever `ruong db upgrade` happens to run
        print("store: embedded SQLite, nothing to set up")
        return 0
    try:
        with open_store(settings.store) as store:
            created = store.ensure_downsampling()
    except StoreError as exc:
        if exc.permanent:  # a server without CQs: nothing to set up, and not a failure
            print(f"store: not downsampled: {exc}")
            return 0
        print(f"ruong db upgrade: store {settings.store_url}: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f"store: created {', '.join(created)}")
    else:
        print("store: downsampling already set up")
    return 0


def cmd_db_status(settings: Settings, args: argparse.Namespace) -> int:
    engine = db.create(settings.registry_url)
    try:
        at = db.state(engine)
    finally:
        engine.dispose()
    print(f"registry schema {at.current or 'none (empty)'}; this Ruộng's newest {at.head}")
    return 0 if at.current == at.head else 1


def cmd_db_downsample(settings: Settings, args: argparse.Namespace) -> int:
    """Set up downsampling and backfill the last `--days` days: history written before the
    continuous queries existed, or while they were off, which they never go back to."""
    if settings.store.scheme == "sqlite":
        print("store: embedded SQLite aggregates its raw rows, nothing to backfill")
        return 0
    until_ms = int(time.time() * 1000)
    since_ms = until_ms - args.days * DAY_MS
    started = time.monotonic()
    try:
        with open_store(settings.store) as store:
            created = store.ensure_downsampling()
            written = store.backfill_downsampled(since_ms, until_ms)
    except StoreError as exc:
        print(f"ruong db downsample: store {settings.store_url}: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f"store: created {', '.join(created)}")
    print(
        f"store: backfilled the last {args.days} days: {written} hourly points written "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0


def _days(text: str) -> int:
    days = int(text)
    if days <= 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return days


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "db",
        help="the registry's schema (upgrade it, or show where it is) and the store's "
        "downsampled series",
    )
    db_sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade",
        help="bring the registry to this version's schema (back it up first) and create the "
        "store's downsampled series",
    ).set_defaults(func=cmd_db_upgrade)
    db_sub.add_parser(
        "status", help="the registry's schema version (exit 1 when not the newest)"
    ).set_defaults(func=cmd_db_status)
    downsample = db_sub.add_parser(
        "downsample", help="backfill the store's hourly series from the raw readings"
    )
    downsample.add_argument(
        "--days",
        type=_days,
        default=DOWNSAMPLE_DAYS,
        help=f"how many days back from now (default {DOWNSAMPLE_DAYS})",
    )
    downsample.set_defaults(func=cmd_db_downsample)
