"""`ruong hw power ...`: hardware tools; the options belong to hardware.power, which parses
them (and answers --help)."""

from __future__ import annotations

import argparse

from backend.config import Settings


def cmd_hw_power(settings: Settings, args: argparse.Namespace) -> int:
    from hardware.power import main as power_main

    return power_main(args.extra)


def add_parser(sub: argparse._SubParsersAction) -> None:
    hw = sub.add_parser("hw", help="hardware tools: the node's power budget")
    hw_sub = hw.add_subparsers(dest="hw_command", required=True, metavar="ACTION")
    power = hw_sub.add_parser(
        "power", add_help=False, help="average current and battery life of a node design"
    )
    power.set_defaults(func=cmd_hw_power, passthrough=True)
