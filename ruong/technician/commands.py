"""The command line of `ruong node flash | calibrate | check`: argparse wiring and the three
command functions, which turn the package's errors into a message and an exit code.

The `node` command of ruong/cli calls `add_parsers` with its subparsers; each command reads
what it needs from the settings (the registry, the store) and passes it down.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from backend.config import Settings
from backend.registry import Registry
from ruong.technician.calibrate import calibrate
from ruong.technician.check import check
from ruong.technician.errors import TechnicianError
from ruong.technician.flash import flash


def _run(action: str, work: Callable[[], int]) -> int:
    """`work()`'s exit code, or the error's with its message on stderr (no traceback)."""
    try:
        return work()
    except TechnicianError as exc:
        print(f"ruong node {action}: {exc}", file=sys.stderr)
        return exc.exit_code


def cmd_flash(settings: Settings, args: argparse.Namespace) -> int:
    """`ruong node flash --port PORT NODE`."""

    def work() -> int:
        with Registry(settings.registry_url) as registry:
            flash(
                settings,
                registry,
                args.port,
                args.node,
                gateway=args.gateway,
                interval_s=args.interval,
                wait_s=None if args.no_wait else args.wait,
                force=args.force,
            )
        return 0

    return _run("flash", work)


def cmd_calibrate(settings: Settings, args: argparse.Namespace) -> int:
    """`ruong node calibrate --port PORT NODE`."""

    def work() -> int:
        with Registry(settings.registry_url) as registry:
            calibrate(
                registry,
                args.port,
                args.node,
                samples=args.samples,
                dry_vwc=args.dry_percent,
                wet_vwc=args.wet_percent,
                yes=args.yes,
            )
        return 0

    return _run("calibrate", work)


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """`ruong node check --port PORT`."""
    return _run("check", lambda: check(args.port))


def add_parsers(node_sub: argparse._SubParsersAction) -> None:
    """`ruong node flash|calibrate|check` under the `node` command's subparsers."""
    port_help = "serial port of the board, e.g. /dev/ttyUSB0 (python -m mpremote devs lists them)"
    flash_p = node_sub.add_parser(
        "flash", help="compile and copy the firmware and a node's config to a board, verify, start"
    )
    flash_p.add_argument("--port", required=True, help=port_help)
    flash_p.add_argument("node", help="node id from ruong node provision")
    flash_p.add_argument(
        "--gateway",
        metavar="URL",
        help="where the node sends (coap://host:5683 | mqtt://host:1883); default: this site's",
    )
    flash_p.add_argument(
        "--interval", type=float, default=900.0, help="seconds between samples (default 900)"
    )
    flash_p.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the node's first report at the gateway (default 120)",
    )
    flash_p.add_argument("--no-wait", action="store_true", help="do not wait for a report")
    flash_p.add_argument("--force", action="store_true", help="rewrite files the board already has")
    flash_p.set_defaults(func=cmd_flash)

    cal = node_sub.add_parser(
        "calibrate", help="two-point dry/wet calibration of a node's soil probe over USB"
    )
    cal.add_argument("--port", required=True, help=port_help)
    cal.add_argument("node", help="node id (must be the one flashed on the board)")
    cal.add_argument("--samples", type=int, default=20, help="ADC readings per point (default 20)")
    cal.add_argument(
        "--dry-percent",
        type=float,
        default=0.0,
        help="VWC %% of the dry medium (default 0: dry air; e.g. 5 for dry field soil)",
    )
    cal.add_argument(
        "--wet-percent",
        type=float,
        default=100.0,
        help="VWC %% of the wet medium (default 100: water; e.g. 45 for saturated paddy soil)",
    )
    cal.add_argument(
        "--yes", action="store_true", help="save without asking (Enter still starts each step)"
    )
    cal.set_defaults(func=cmd_calibrate)

    chk = node_sub.add_parser("check", help="read every sensor on a board and self-test it")
    chk.add_argument("--port", required=True, help=port_help)
    chk.set_defaults(func=cmd_check)
