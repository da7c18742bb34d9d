"""`ruong`: the one command in front of everything (docs/architecture.md, "Layers").

One module per subcommand in this package, each with `add_parser(sub)` and its `cmd_*`
functions. Each command reads the settings once (`--config ruong.toml` plus `RUONG_*`
variables, given before or after the subcommand) and hands the typed `Settings` to the part it
runs. Errors a user can fix (bad config, unknown node, missing program) print one clear line
and exit 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence

from backend import logs
from backend.alerts.thresholds import ThresholdError
from backend.config import ConfigError, Settings, load_settings
from backend.db import SchemaError
from backend.identity import AccountError
from backend.registry import RegistryError
from ruong.cli import (
    alerts,
    db,
    demo,
    field,
    forecast,
    gateway,
    hw,
    mqtt,
    node,
    people,
    report,
    serve,
    sim,
)
from ruong.node_config import NodeConfigError
from ruong.services import ServiceError
from ruong.sim import SimError

USER_ERRORS = (
    AccountError,
    ThresholdError,
    ConfigError,
    NodeConfigError,
    RegistryError,
    SchemaError,
    ServiceError,
    SimError,
)
SUBCOMMANDS = (
    demo,
    gateway,
    serve,
    node,
    sim,
    field,
    forecast,
    hw,
    db,
    people,
    mqtt,
    alerts,
    report,
)


def _add_common(parser: argparse.ArgumentParser, top: bool) -> None:
    """The options every command takes, before or after its name (`ruong sim --config x`);
    below the top, SUPPRESS keeps a value given before the subcommand."""
    parser.add_argument(
        "--config",
        default=None if top else argparse.SUPPRESS,
        help="ruong.toml to read (default: ./ruong.toml if present)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="debug logging",
    )


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every subcommand parser below `parser`, at any depth (`node`, `node flash`, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield child
                yield from _parsers(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ruong",
        description="Ruộng: sensor nodes -> gateway -> InfluxDB -> forecasts -> dashboard",
    )
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    for child in _parsers(parser):
        _add_common(child, top=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logs.setup("text", args.verbose)  # until the settings say otherwise
    func: Callable[[Settings, argparse.Namespace], int] = args.func
    try:
        settings = load_settings(args.config)
        logs.setup(settings.log_format, args.verbose)
        return func(settings, args)
    except USER_ERRORS as exc:
        print(f"ruong {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
