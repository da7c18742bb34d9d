"""`ruong db upgrade|status`: the registry's schema (backend/db.py, backend/migrations/)."""

from __future__ import annotations

import argparse

from backend import db
from backend.config import Settings


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
    return 0


def cmd_db_status(settings: Settings, args: argparse.Namespace) -> int:
    engine = db.create(settings.registry_url)
    try:
        at = db.state(engine)
    finally:
        engine.dispose()
    print(f"registry schema {at.current or 'none (empty)'}; this Ruộng's newest {at.head}")
    return 0 if at.current == at.head else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="the registry's schema: upgrade it, or show where it is")
    db_sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade", help="bring the registry to this version's schema (back it up first)"
    ).set_defaults(func=cmd_db_upgrade)
    db_sub.add_parser(
        "status", help="the registry's schema version (exit 1 when not the newest)"
    ).set_defaults(func=cmd_db_status)
