"""`ruong node flash`: the firmware and one node's config onto a board, verified, started.

Where a node joins the data path: `flash` copies the build (ruong/technician/build.py)
and the node's config file, the node key and its gateway address inside, checks every file's
sha256 on the board, resets it, and waits until the node's first report lands in the
gateway's store, so the technician leaves the field knowing the node is heard.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from backend.config import MQTT_PORTS, ConfigError, Settings, parse_url
from backend.mqtt_auth import ca_der, node_credentials
from backend.quantities import QUANTITIES
from backend.registry import NodeInfo, Registry, RegistryError, SoilCalibration
from backend.store import open_store
from backend.store.base import Row, Store, StoreError
from ruong.technician.build import (
    MANIFEST_FILE,
    Build,
    build_firmware,
    check_mpy_compatible,
    read_manifest,
)
from ruong.technician.check import format_value
from ruong.technician.device import Device
from ruong.technician.errors import TechnicianError, UsageError

CONFIG_FILE = "config.json"  # firmware/app.py CONFIG_FILE: what main.py reads at boot
STATE_DIR = "state"  # counter, outbox, rain pulses: kept across flashes (replay protection)
NODE_CA_FILE = "mqtt_ca.der"  # over mqtts://: the CA that signed the broker's certificate


def node_gateway(settings: Settings, info: NodeInfo, platform: str, override: str | None) -> str:
    """The gateway URL the node sends to: `override`, else this site's [coap]/[mqtt] address.

    A board reaches the gateway over Wi-Fi, so a loopback or wildcard address is refused for
    it; the unix-port board runs on this computer, where loopback is right.
    """
    schemes = {"coap": {"coap": 5683}, "mqtt": MQTT_PORTS}[info.transport]  # mqtts: TLS
    if override is not None:
        try:
            endpoint = parse_url(override, "--gateway", schemes)
        except ConfigError as exc:
            raise UsageError(f"{exc} (node {info.node} uses {info.transport})") from None
    else:
        endpoint_or_none = settings.coap if info.transport == "coap" else settings.mqtt
        if endpoint_or_none is None:
            raise UsageError(
                f"node {info.node} uses {info.transport} but this site has no [{info.transport}]"
                " address: pass --gateway"
            )
        endpoint = endpoint_or_none
    host = endpoint.host
    if platform == "esp32" and _this_computer_only(host):
        raise UsageError(
            f"gateway address {host} is this computer, not one the board can reach over Wi-Fi: "
            f"pass --gateway {endpoint.scheme}://<gateway LAN address>:{endpoint.port}"
        )
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{endpoint.scheme}://{host}:{endpoint.port}"


def _this_computer_only(host: str) -> bool:
    """A loopback or wildcard address: right on this computer, unreachable from a board."""
    if host in ("", "localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name: the board resolves it
    return address.is_loopback or address.is_unspecified


def node_config(
    info: NodeInfo,
    gateway: str,
    platform: str,
    interval_s: float,
    calibration: SoilCalibration | None,
) -> dict[str, object]:
    """The node's config file (firmware/config.py keys); it holds the node key and, for MQTT,
    its broker account (backend/mqtt_auth.py) and over mqtts:// the CA file `NODE_CA_FILE`.

    `interval_s` is the time between samples in seconds; `calibration` the registry's soil
    calibration of the node, None before its first `ruong node calibrate`.
    """
    config: dict[str, object] = {
        "node": info.node,
        "key": info.key.hex(),
        "transport": info.transport,
        "gateway": gateway,
        "field": info.field,
        "seed": 0,
        "interval_s": interval_s,
        "cycles": 0,  # forever
        "state_dir": STATE_DIR,
    }
    if info.transport == "mqtt":
        config.update(node_credentials(info))
        if gateway.startswith("mqtts://"):
            config["mqtt_ca"] = NODE_CA_FILE
    if calibration is not None:
        config["soil_cal"] = calibration.soil_cal
    if platform != "esp32":
        config["host_drivers"] = True  # the unix-port board: real drivers on the host HAL
    return config


def node_ca(settings: Settings) -> bytes:
    """`[mqtt] ca_file` as DER, the file a node verifies the broker with over mqtts://."""
    if settings.mqtt is None or not settings.mqtt.ca_file:
        raise UsageError(
            "a node over mqtts:// needs the broker's CA certificate: set [mqtt] ca_file "
            "(a board trusts no CA of its own)"
        )
    return ca_der(settings.mqtt.ca_file)


def live_node(registry: Registry, node_id: str) -> NodeInfo:
    """The registry's node `node_id`; RegistryError when it is unknown or revoked."""
    info = registry.node(node_id)
    if info is None:
        raise RegistryError(f"unknown node {node_id!r}: ruong node list shows the provisioned ones")
    if info.revoked:
        raise RegistryError(f"node {node_id} is revoked: provision a new one for this board")
    return info


def last_status(store: Store, node: str) -> Row | None:
    """The node's newest `node_status` row (sample time, counter, battery, rssi), or None."""
    for row in store.latest("node_status", "node"):
        if row.tags.get("node") == node:
            return row
    return None


def is_new_report(row: Row | None, before: Row | None) -> bool:
    """A status row the node sent after `before` (its message counter only grows)."""
    if row is None:
        return False
    if before is None:
        return True
    counter, old = row.fields.get("counter"), before.fields.get("counter")
    if isinstance(counter, int | float) and isinstance(old, int | float):
        return counter > old
    return row.time_ms > before.time_ms


def wait_for_report(
    store: Store,
    node: str,
    before: Row | None,
    timeout_s: float,
    idle: Callable[[float], None] = time.sleep,
    poll_s: float = 1.0,
) -> Row | None:
    """Poll the store (every `poll_s` seconds, `idle` in between) until the node's first
    report after `before` is there; that row, or None after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        row = last_status(store, node)
        if is_new_report(row, before):
            return row
        if time.monotonic() >= deadline:
            return None
        idle(min(poll_s, max(0.0, deadline - time.monotonic())))


@dataclass
class FlashResult:
    """What a flash did: the build now on the board, the files it wrote and removed."""

    build_id: str
    written: list[str]
    removed: list[str]
    report: Row | None  # None with --no-wait


def flash(
    settings: Settings,
    registry: Registry,
    port: str,
    node_id: str,
    gateway: str | None = None,
    interval_s: float = 900.0,
    wait_s: float | None = 120.0,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> FlashResult:
    """Flash the firmware and node `node_id`'s config onto the board on `port`, verify every
    file's sha256 on the board, reset it, and (unless `wait_s` is None) wait up to `wait_s`
    seconds for its first report at the gateway's store."""
    info = live_node(registry, node_id)
    if not interval_s > 0:
        raise UsageError(f"--interval must be a positive number of seconds, got {interval_s}")
    store = open_store(settings.store) if wait_s is not None else None
    try:
        before = last_status(store, node_id) if store is not None else None
        with Device.open(port) as device:
            dev = device.info()
            say(f"board on {port}: {dev.platform}, MicroPython {dev.micropython}")
            build = build_firmware(dev.platform)
            check_mpy_compatible(dev, build)
            url = node_gateway(settings, info, dev.platform, gateway)
            config = node_config(info, url, dev.platform, interval_s, registry.calibration(node_id))
            files = dict(build.files)
            files[CONFIG_FILE] = json.dumps(config).encode()
            if "mqtt_ca" in config:
                files[NODE_CA_FILE] = node_ca(settings)
            written, removed = _copy(device, build, files, force)
            on_device = device.hashes(sorted(files))
            local = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
            bad = sorted(name for name in files if on_device[name] != local[name])
            if bad:
                raise TechnicianError(
                    f"sha256 on the board differs from this computer's for {', '.join(bad)}: "
                    "the copy was damaged (cable? full flash?); run the flash again"
                )
            say(
                f"firmware {build.build_id}: {len(files)} files verified on the board by sha256 "
                f"({len(written)} written, {len(removed)} stale removed)"
            )
            say(f"node {info.node} ({info.field}) -> {url} every {interval_s:g} s")
            started = time.time()
            device.reset()
            say("board reset: the node is starting")
            if store is None:
                return FlashResult(build.build_id, written, removed, None)

            def idle(seconds: float) -> None:
                for line in device.read_output(seconds).splitlines():
                    if line.strip():
                        say(f"  board| {line.rstrip()}")

            assert wait_s is not None  # the store is opened only when waiting
            row = wait_for_report(store, node_id, before, wait_s, idle)
        if row is None:
            raise TechnicianError(
                f"no report from {node_id} at the gateway within {wait_s:g} s: is the gateway "
                "running, and can the node reach it? (`ruong node check` on the board)"
            )
        fields = dict(row.fields)
        for reading in store.rows("readings", {"node": node_id}, since_ms=row.time_ms):
            if reading.time_ms == row.time_ms:  # the same sample's soil and weather values
                fields.update(reading.fields)
        values = ", ".join(
            f"{name} {format_value(fields[name], QUANTITIES[name].unit)}"
            for name in QUANTITIES
            if name in fields
        )
        say(
            f"first report at the gateway after {time.time() - started:.1f} s: "
            f"counter {row.fields.get('counter')}, sampled "
            f"{datetime.fromtimestamp(row.time_ms / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"
            + (f", {values}" if values else "")
        )
        return FlashResult(build.build_id, written, removed, row)
    except StoreError as exc:
        raise TechnicianError(
            f"cannot read the gateway's store ({settings.store_url}): {exc}"
        ) from None
    finally:
        if store is not None:
            store.close()


def _copy(
    device: Device, build: Build, files: dict[str, bytes], force: bool
) -> tuple[list[str], list[str]]:
    """Write the files the board lacks or has different, the manifest, remove stale ones."""
    manifest = read_manifest(device)
    old_files = manifest.files if manifest is not None else {}
    present = set(device.listdir())
    current = device.hashes(sorted(files)) if not force else {}
    local = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    written = []
    for name in sorted(files):
        if current.get(name) == local[name]:
            continue
        if name == CONFIG_FILE:  # the node key's file: a cut-off write leaves the old one whole
            device.write_atomic(name, files[name])
        else:
            device.write(name, files[name])
        written.append(name)
    # a stale X.py shadows the new X.mpy (MicroPython imports .py first); files the last
    # flash put there and this one does not are leftovers
    stale = {f"{Path(n).stem}.py" for n in files if n.endswith(".mpy")} | set(old_files)
    removed = sorted((stale & present) - set(files) - {MANIFEST_FILE})
    for name in removed:
        device.remove(name)
    new_manifest = {
        "build": build.build_id,
        "files": build.hashes,
        "flashed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    device.write_atomic(MANIFEST_FILE, json.dumps(new_manifest).encode())
    return written, removed
