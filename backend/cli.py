"""`ruong`: the one command in front of everything (DESIGN.md, "Top level").

Each subcommand reads the settings once (`--config ruong.toml` plus `RUONG_*` variables) and
hands the typed `Settings` to the part it runs. Errors a user can fix (bad config, unknown node,
missing program) print one clear line and exit 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from backend import fleet, forecast_cli, logs, node_config, technician
from backend.config import ConfigError, Settings, load_settings
from backend.node_config import NodeConfigError
from backend.registry import TRANSPORTS, Registry, RegistryError
from backend.services import ServiceError
from backend.sim import SimError
from backend.store import StoreError, open_store
from dashboard.data import NodeView, latest_by_node
from dashboard.i18n import LANGUAGES

log = logging.getLogger("ruong")

USER_ERRORS = (ConfigError, NodeConfigError, RegistryError, ServiceError, SimError)


def _registry(settings: Settings) -> Registry:
    return Registry(settings.registry_url)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from backend.demo import run_demo

    return run_demo(
        settings,
        data_dir=Path(args.data_dir),
        nodes=args.nodes,
        interval_s=args.interval,
        exit_after_s=args.exit_after,
        embedded=args.embedded,
    )


def cmd_gateway(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "status":
        return gateway_status(settings)
    from gateway.service import serve

    asyncio.run(serve(settings))
    return 0


def gateway_status(settings: Settings) -> int:
    """Print a running gateway's counters from its /metrics; exit 1 when it does not answer."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    if settings.metrics is None:
        print("ruong gateway status: [gateway] metrics_bind is off", file=sys.stderr)
        return 2
    url = f"http://{settings.metrics.host}:{settings.metrics.port}/metrics"
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError as exc:
        print(f"gateway not answering at {url}: {exc}", file=sys.stderr)
        return 1
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("ruong_"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created", "_bucket")):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}{'{' + labels + '}' if labels else ''} {sample.value:g}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import waitress

    from backend.store import open_store
    from dashboard.app import create_app

    endpoint = settings.dashboard
    app = create_app(lambda: open_store(settings.store))
    print(f"Ruộng dashboard: http://{endpoint.host}:{endpoint.port}/", flush=True)
    waitress.serve(app.server, host=endpoint.host, port=endpoint.port, threads=8)
    return 0


def cmd_node_provision(settings: Settings, args: argparse.Namespace) -> int:
    with _registry(settings) as registry:
        info = registry.provision(args.farm or settings.farm, args.field, args.transport)
    if args.json:
        print(json.dumps(info.as_json()))
    else:
        print(f"node {info.node} on {info.farm}/{info.field} over {info.transport}")
        print(f"key  {info.key.hex()}  (keep it secret: it goes only into the node's config)")
    return 0


def _views(settings: Settings) -> list[NodeView] | None:
    """The store's newest view of every node, or None (after a line on stderr) when the
    store cannot be read; an embedded store that does not exist yet has no views."""
    endpoint = settings.store
    if endpoint.scheme == "sqlite" and not Path(endpoint.path).exists():
        return []  # nothing has reported here yet; do not create the file by listing
    try:
        store = open_store(endpoint)
        try:
            return latest_by_node(store)
        finally:
            store.close()
    except StoreError as exc:
        print(
            f"ruong node list: cannot read the store ({settings.store_url}): {exc}; "
            "showing the registry only",
            file=sys.stderr,
        )
        return None


def cmd_node_list(settings: Settings, args: argparse.Namespace) -> int:
    with _registry(settings) as registry:
        nodes = registry.nodes(None if args.all_farms else settings.farm)
    if not nodes and not args.json:
        print("no nodes provisioned yet: ruong node provision --field F --transport coap")
        return 0
    now_ms = int(time.time() * 1000)
    health = fleet.fleet_health(nodes, _views(settings), now_ms)
    if args.json:
        print(json.dumps([fleet.as_json(h) for h in health]))
    else:
        print(fleet.render(health, now_ms, args.lang))
    return 0


def cmd_node_revoke(settings: Settings, args: argparse.Namespace) -> int:
    with _registry(settings) as registry:
        registry.revoke(args.node)
    print(f"node {args.node} revoked: the gateway refuses its uplinks from now on")
    return 0


def cmd_sim(settings: Settings, args: argparse.Namespace) -> int:
    from backend.sim import run_sim

    with _registry(settings) as registry:
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


def cmd_hw_power(settings: Settings, args: argparse.Namespace) -> int:
    from hardware.power import main as power_main

    return power_main(args.extra)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ruong",
        description="Ruộng: sensor nodes -> gateway -> InfluxDB -> forecasts -> dashboard",
    )
    parser.add_argument("--config", help="ruong.toml to read (default: ./ruong.toml if present)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    gateway = sub.add_parser("gateway", help="run the CoAP server and MQTT subscriber")
    gateway.add_argument(
        "action",
        nargs="?",
        choices=["run", "status"],
        default="run",
        help="run (default) or print a running gateway's counters",
    )
    gateway.set_defaults(func=cmd_gateway)
    sub.add_parser("serve", help="run the dashboard").set_defaults(func=cmd_serve)

    node = sub.add_parser(
        "node", help="provision, list, revoke, flash, calibrate, check and configure nodes"
    )
    node_sub = node.add_subparsers(dest="node_command", required=True, metavar="ACTION")
    provision = node_sub.add_parser("provision", help="register a node with a fresh key")
    provision.add_argument("--field", required=True, help="field name, e.g. ruong-1")
    provision.add_argument("--transport", required=True, choices=TRANSPORTS)
    provision.add_argument("--farm", help="farm (default: [site] farm)")
    provision.add_argument("--json", action="store_true", help="print id and key as JSON")
    provision.set_defaults(func=cmd_node_provision)
    listing = node_sub.add_parser("list", help="list the farm's nodes")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--all-farms", action="store_true")
    listing.add_argument(
        "--lang", choices=LANGUAGES, default="en", help="language of the advice column"
    )
    listing.set_defaults(func=cmd_node_list)
    revoke = node_sub.add_parser("revoke", help="revoke a node's key")
    revoke.add_argument("node")
    revoke.set_defaults(func=cmd_node_revoke)
    technician.add_parsers(node_sub)  # flash, calibrate, check (backend/technician.py)
    node_config.add_parser(node_sub)  # remote config (backend/node_config.py)

    sim = sub.add_parser("sim", help="run simulated nodes (real MicroPython firmware)")
    sim.add_argument("--nodes", type=int, default=2)
    sim.add_argument("--cycles", type=int, default=3)
    sim.add_argument("--interval", type=float, default=2.0, help="seconds between cycles")
    sim.add_argument("--state-dir", default="ruong-data/sim", help="node state (counters)")
    sim.set_defaults(func=cmd_sim)

    forecast_cli.add_parsers(sub)

    hw = sub.add_parser("hw", help="hardware tools: the node's power budget")
    hw_sub = hw.add_subparsers(dest="hw_command", required=True, metavar="ACTION")
    # its options belong to hardware.power, which parses them (and answers --help)
    power = hw_sub.add_parser(
        "power", add_help=False, help="average current and battery life of a node design"
    )
    power.set_defaults(func=cmd_hw_power, passthrough=True)
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


if __name__ == "__main__":
    sys.exit(main())
