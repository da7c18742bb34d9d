"""`ruong node config NODE`: show or change a node's remote config (docs/protocol.md "Config
downlink"). The gateway signs the newest version and sends it to the node, which applies it
from its next cycle without a reflash.

Settings are checked with the firmware's own validation (firmware/config.py, loaded from its
file), laid over a node config that has only the required keys, so the tools refuse what the
node would refuse. The node checks again against its real config file and says so in its
report line if it still refuses.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping

from backend.audit import Audit, cli_actor
from backend.config import Settings
from backend.firmware_src import firmware_module
from backend.registry import NodeConfig, Registry, RegistryError

# the node config keys a flashed node always has, standing in for the real file when the
# tools validate (interval_s as `ruong node flash` writes it by default)
REQUIRED_CONFIG = {
    "node": "n0000000",
    "key": "00" * 32,
    "transport": "coap",
    "gateway": "coap://gateway",
    "field": "field",
    "interval_s": 900,
    "cycles": 0,
    "state_dir": "/state",
}


class NodeConfigError(ValueError):
    """A remote config the node would refuse; the message names the key."""


def remote_keys() -> tuple[str, ...]:
    """The keys a downlink may set (firmware/config.py REMOTE_KEYS)."""
    return tuple(firmware_module("config").REMOTE_KEYS)


def validate(settings: Mapping[str, object]) -> None:
    """Raise NodeConfigError unless the node would accept `settings` as its remote config."""
    allowed = remote_keys()
    for key in settings:
        if key not in allowed:
            raise NodeConfigError(f"{key!r} cannot be set remotely; keys: {', '.join(allowed)}")
    config = firmware_module("config")
    try:
        config.parse_config({**REQUIRED_CONFIG, **settings})
    except config.ConfigError as exc:
        raise NodeConfigError(str(exc)) from None


def assignment(text: str) -> tuple[str, object]:
    """`KEY=VALUE` with VALUE in JSON (`600`, `3.4`, `[2600, 5, 1400, 45]`) -> (key, value)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise NodeConfigError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        raise NodeConfigError(f"{key}: {value!r} is not a JSON value (number, list)") from None


def changed(
    current: Mapping[str, object], assignments: Iterable[str], unset: Iterable[str]
) -> dict[str, object]:
    """`current` with the `KEY=VALUE` assignments applied and the `unset` keys removed
    (they go back to the node's flashed value); validated."""
    settings = dict(current)
    settings.update(assignment(text) for text in assignments)
    for key in unset:
        if key not in settings:
            raise NodeConfigError(f"{key!r} is not set remotely, nothing to unset")
        del settings[key]
    validate(settings)
    return settings


def _show(config: NodeConfig | None, node: str) -> None:
    if config is None:
        print(f"{node}: no remote config; it runs its flashed config file")
        return
    print(f"{node}: config version {config.version} ({config.created_at:%Y-%m-%d %H:%M} UTC)")
    for key, value in sorted(config.settings.items()):
        print(f"  {key} = {json.dumps(value)}")
    if not config.settings:
        print("  (empty: the flashed values)")


def cmd_node_config(settings: Settings, args: argparse.Namespace) -> int:
    """Show the node's remote config, or make the next version of it."""
    with Registry(settings.registry_url) as registry:
        if registry.node(args.node) is None:
            raise RegistryError(f"unknown node {args.node!r}")
        current = registry.config(args.node)
        if not (args.set or args.unset or args.calibration):
            result = current
        else:
            assignments = list(args.set)
            if args.calibration:
                cal = registry.calibration(args.node)
                if cal is None:
                    raise NodeConfigError(
                        f"{args.node} was never calibrated: ruong node calibrate --port P {args.node}"
                    )
                assignments.append(f"soil_cal={json.dumps(cal.soil_cal)}")
            new = changed({} if current is None else current.settings, assignments, args.unset)
            result = registry.set_config(args.node, new)
            if current is None or result.version != current.version:
                audit = Audit(registry.engine, settings.audit_syslog)
                audit.record(
                    cli_actor(),
                    "node.config",
                    "success",
                    target=args.node,
                    details={"version": result.version, "keys": ",".join(sorted(new))},
                )
                audit.close()
    if args.json:
        print(json.dumps(None if result is None else result.as_json()))
        return 0
    _show(result, args.node)
    if result is not None and (current is None or result.version != current.version):
        print("the gateway sends it with the node's next report (CoAP) or at once (MQTT, retained)")
    return 0


def add_parser(node_sub: argparse._SubParsersAction) -> None:
    """`ruong node config NODE [--set KEY=VALUE]... [--unset KEY]... [--calibration]`."""
    config = node_sub.add_parser(
        "config",
        help="show or change a node's remote config (interval, duty cycle, calibration)",
        description="Without options: show. Each change makes a new version, which the "
        "gateway signs and sends to the node. Keys: " + ", ".join(remote_keys()),
    )
    config.add_argument("node")
    config.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="VALUE in JSON"
    )
    config.add_argument("--unset", action="append", default=[], metavar="KEY")
    config.add_argument(
        "--calibration",
        action="store_true",
        help="send the soil-probe calibration last measured by `ruong node calibrate`",
    )
    config.add_argument("--json", action="store_true")
    config.set_defaults(func=cmd_node_config)
