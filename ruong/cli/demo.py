"""`ruong demo`: everything on this machine with simulated nodes (ruong/demo.py)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from backend.config import Settings


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. 360") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"--speed {value:g} must be within 1..10000")
    return value


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-07-20") from None


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from ruong.demo import run_demo

    return run_demo(
        settings,
        data_dir=Path(args.data_dir),
        nodes=args.nodes,
        # with a faster clock, a node still reports every 15 minutes of the season (what the
        # alert rules and the history expect), at least every 2 real seconds
        interval_s=args.interval
        if args.interval is not None
        else (10.0 if args.speed == 1.0 else max(2.0, 900.0 / args.speed)),
        exit_after_s=args.exit_after,
        embedded=args.embedded,
        speed=args.speed,
        start=args.start,
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run everything on this machine with simulated nodes")
    demo.add_argument("--exit-after", type=float, metavar="SECONDS", help="stop cleanly after")
    demo.add_argument("--nodes", type=int, default=4, help="simulated nodes (default 4)")
    demo.add_argument(
        "--interval",
        type=float,
        help="node interval, real s (default 10; with --speed N, 15 minutes of the season)",
    )
    demo.add_argument("--data-dir", default="ruong-data", help="where the demo keeps its state")
    demo.add_argument(
        "--embedded",
        action="store_true",
        help="use the embedded SQLite store and amqtt broker even if InfluxDB/Mosquitto exist",
    )
    demo.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="simulated time runs N times faster: nodes, forecasts, alerts, weather, dashboard",
    )
    demo.add_argument(
        "--start",
        type=_day,
        help="the simulated day to start on (default today), e.g. one in the rice season",
    )
    demo.set_defaults(func=cmd_demo)
