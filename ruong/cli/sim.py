"""`ruong sim`: N simulated nodes, each the real firmware on MicroPython (ruong/sim.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backend.config import Settings
from backend.registry import Registry


def cmd_sim(settings: Settings, args: argparse.Namespace) -> int:
    from ruong.sim import run_sim

    with Registry(settings.registry_url) as registry:
        reports = run_sim(
            settings,
            registry,
            Path(args.state_dir),
            nodes=args.nodes,
            cycles=args.cycles,
            interval_s=args.interval,
        )
    for report in reports:
        print(json.dumps(report))
    acknowledged = sum(1 for r in reports if r.get("result") in ("2.04", "puback"))
    print(f"{acknowledged}/{len(reports)} uplinks acknowledged", file=sys.stderr)
    return 0 if acknowledged == len(reports) else 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("sim", help="run simulated nodes (real MicroPython firmware)")
    sim.add_argument("--nodes", type=int, default=2)
    sim.add_argument("--cycles", type=int, default=3)
    sim.add_argument("--interval", type=float, default=2.0, help="seconds between cycles")
    sim.add_argument("--state-dir", default="ruong-data/sim", help="node state (counters)")
    sim.set_defaults(func=cmd_sim)
