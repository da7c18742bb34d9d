"""`ruong node ...`: provision, list and revoke nodes here; flash, calibrate and check through
the technician tools (ruong/technician/), remote config through ruong/node_config.py."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from backend.audit import Audit, cli_actor
from backend.config import Settings
from backend.i18n import LANGUAGES
from backend.mqtt_auth import node_credentials
from backend.node_health import NodeView, latest_by_node
from backend.registry import TRANSPORTS, Registry
from backend.store import StoreError, open_store
from ruong import fleet, node_config, technician


def _audit(
    registry: Registry,
    settings: Settings,
    action: str,
    node: str,
    details: dict[str, str] | None = None,
) -> None:
    audit = Audit(registry.engine, settings.audit_syslog)
    try:
        audit.record(cli_actor(), action, "success", target=node, details=details)
    finally:
        audit.close()


def cmd_node_provision(settings: Settings, args: argparse.Namespace) -> int:
    with Registry(settings.registry_url) as registry:
        info = registry.provision(args.farm or settings.farm, args.field, args.transport)
        _audit(registry, settings, "node.provision", info.node, {"field": info.field})
    # an MQTT node's broker account: username = node id, password derived from the key
    broker = node_credentials(info) if info.transport == "mqtt" else {}
    if args.json:
        print(json.dumps(info.as_json() | broker))
    else:
        print(f"node {info.node} on {info.farm}/{info.field} over {info.transport}")
        print(f"key  {info.key.hex()}  (keep it secret: it goes only into the node's config)")
        if broker:
            print(f"mqtt user {broker['mqtt_user']}, password {broker['mqtt_password']}")
            print("run `ruong mqtt sync` and reload the broker before the node connects")
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
    with Registry(settings.registry_url) as registry:
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
    with Registry(settings.registry_url) as registry:
        registry.revoke(args.node)
        _audit(registry, settings, "node.revoke", args.node)
    print(f"node {args.node} revoked: the gateway refuses its uplinks from now on")
    print("an MQTT node's broker account goes with the next `ruong mqtt sync` and reload")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    technician.add_parsers(node_sub)  # flash, calibrate, check (ruong/technician/)
    node_config.add_parser(node_sub)  # remote config (ruong/node_config.py)
