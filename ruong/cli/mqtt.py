"""`ruong mqtt sync`: the broker's password file and ACL written from the registry.

Run it after `ruong node provision` or `ruong node revoke`, then reload the broker
(`systemctl reload mosquitto`, or `kill -HUP` its pid): a new node can log in, a revoked one
no longer can. The gateway account is the user and password of `[mqtt] url`
(docs/mqtt-broker.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.config import ConfigError, Settings
from backend.mqtt_auth import MqttAuthError, write_broker_files
from backend.registry import Registry


def cmd_mqtt_sync(settings: Settings, args: argparse.Namespace) -> int:
    broker = settings.mqtt
    if broker is None or not broker.username or not broker.password:
        raise ConfigError(
            "[mqtt] url needs the gateway's account, e.g. "
            "mqtt://ruong-gateway:SECRET@broker:1883, to write it into the password file"
        )
    with Registry(settings.registry_url) as registry:
        nodes = registry.nodes()  # every farm's: one broker serves the registry's gateways
    try:
        accounts = write_broker_files(
            Path(args.passwd), Path(args.acl), nodes, broker.username, broker.password
        )
    except MqttAuthError as exc:
        raise ConfigError(f"ruong mqtt sync: {exc}") from None
    revoked = sum(1 for n in nodes if n.revoked)
    print(
        f"{args.passwd}: {len(accounts) - 1} node accounts and the gateway's "
        f"({broker.username}); {revoked} revoked nodes left out"
    )
    print(f"{args.acl}: each node its own topics, the gateway ruong/+/up, status and config")
    print("reload the broker to apply: systemctl reload mosquitto (or kill -HUP its pid)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    mqtt = sub.add_parser("mqtt", help="the MQTT broker's accounts")
    mqtt_sub = mqtt.add_subparsers(dest="mqtt_command", required=True, metavar="ACTION")
    sync = mqtt_sub.add_parser(
        "sync", help="write the broker's password file and ACL from the registry"
    )
    sync.add_argument("--passwd", required=True, help="Mosquitto password_file to write")
    sync.add_argument("--acl", required=True, help="Mosquitto acl_file to write")
    sync.set_defaults(func=cmd_mqtt_sync)
