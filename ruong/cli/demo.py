"""`ruong demo`: everything on this machine with simulated nodes (ruong/demo.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.config import Settings


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from ruong.demo import run_demo

    return run_demo(
        settings,
        data_dir=Path(args.data_dir),
        nodes=args.nodes,
        interval_s=args.interval,
        exit_after_s=args.exit_after,
        embedded=args.embedded,
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run everything on this machine with simulated nodes")
    demo.add_argument("--exit-after", type=float, metavar="SECONDS", help="stop cleanly after")
    demo.add_argument("--nodes", type=int, default=4, help="simulated nodes (default 4)")
    demo.add_argument("--interval", type=float, default=10.0, help="node interval, s (default 10)")
    demo.add_argument("--data-dir", default="ruong-data", help="where the demo keeps its state")
    demo.add_argument(
        "--embedded",
        action="store_true",
        help="use the embedded SQLite store and amqtt broker even if InfluxDB/Mosquitto exist",
    )
    demo.set_defaults(func=cmd_demo)
