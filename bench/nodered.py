"""The Node-RED comparison for bench.ingest: the home-made "Mosquitto + Node-RED + InfluxDB" path.

Installs `node-red` and `node-red-contrib-influxdb` with npm into a cache directory outside the
repository (`$XDG_CACHE_HOME/ruong-bench/node-red`, default `~/.cache/...`; reused across runs,
first run downloads ~300 packages), writes a flow and a settings.js into a temp user dir, and
runs `node-red --userDir DIR --port PORT` on loopback with the editor and HTTP nodes disabled
(`httpAdminRoot: false`, `httpNodeRoot: false`).

The flow, as a typical Node-RED user builds it:
    mqtt in   `bench/nodered/+/up`, QoS 1, clean session, output "parsed JSON object"
 -> function  `{farm, field, node, time, <quantity>: value, ...}` -> `[fields, tags]`
              (`time`, Unix ms, stays among the fields: influxdb out makes it the timestamp)
 -> influxdb out (node-red-contrib-influxdb, InfluxDB 1.x), measurement `readings`,
              precision ms, one HTTP /write per message.

What it does not do, unlike `ruong gateway`: no COSE MAC (the payload is plain JSON that anyone
on the broker can forge), no replay window or counter, no validation of quantities or sample
times, no `node_status` point, and no spool: the MQTT client PUBACKs each message when it
arrives, before InfluxDB has the point, so a crash or an InfluxDB outage loses what is in flight
(a failed write is retried at most twice, in memory, by the `influx` client, then only logged).
Nor does it batch or push back: every message becomes its own POST as soon as it arrives, so a
burst becomes thousands of concurrent single-point writes (bench.ingest counts the failures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from ruong.services import ManagedProcess, free_port, spawn

# node-red 5.x needs Node >= 22.9; 4.1.x runs on Node >= 18.5, which Debian and Ubuntu ship
NODE_RED = "4.1.8"
INFLUX_NODES = "0.7.0"
MIN_NODE = (18, 5)
TOPIC_PREFIX = "bench/nodered"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ruong-bench" / "node-red"
)

SHAPE = """\
const p = msg.payload;
const tags = {farm: p.farm, field: p.field, node: p.node};
const fields = {};
for (const k in p) {
    if (!(k in tags)) fields[k] = p[k];
}
msg.payload = [fields, tags];
return msg;
"""


class NodeRedError(RuntimeError):
    """Node-RED could not be installed or did not come up."""


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NodeRedError(
            f"'{name}' not found on PATH: the Node-RED comparison needs Node.js >= "
            f"{MIN_NODE[0]}.{MIN_NODE[1]} and npm (e.g. sudo apt-get install nodejs npm); "
            "or pass --no-node-red"
        )
    return path


def _installed_version(cache: Path, package: str) -> str | None:
    try:
        meta = json.loads((cache / "node_modules" / package / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(meta.get("version"))


def install(cache: Path = CACHE) -> tuple[str, Path]:
    """(node binary, node-red's red.js), installing the pinned packages with npm if needed."""
    node = require_tool("node")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    version = tuple(int(x) for x in out.stdout.strip().lstrip("v").split(".")[:2])
    if version < MIN_NODE:
        raise NodeRedError(
            f"node {out.stdout.strip()} is too old for node-red {NODE_RED} "
            f"(needs >= {MIN_NODE[0]}.{MIN_NODE[1]}); or pass --no-node-red"
        )
    wanted = {"node-red": NODE_RED, "node-red-contrib-influxdb": INFLUX_NODES}
    if all(_installed_version(cache, p) == v for p, v in wanted.items()):
        print(f"Node-RED: node-red {NODE_RED}, node-red-contrib-influxdb {INFLUX_NODES} in {cache}")
    else:
        npm = require_tool("npm")
        specs = [f"{p}@{v}" for p, v in wanted.items()]
        print(f"Node-RED: npm install {' '.join(specs)} into {cache} (first run only) ...")
        cache.mkdir(parents=True, exist_ok=True)
        if not (cache / "package.json").exists():
            (cache / "package.json").write_text(
                '{"name": "ruong-bench-node-red", "private": true}\n'
            )
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(cache),
                "--no-audit",
                "--no-fund",
                "--omit=dev",
                "--save-exact",
                *specs,
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise NodeRedError(
                f"npm install failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        print(
            f"Node-RED: {result.stdout.strip().splitlines()[-1] if result.stdout.strip() else 'done'}"
        )
    red = cache / "node_modules" / "node-red" / "red.js"
    if not red.exists():
        raise NodeRedError(f"{red} missing after npm install; delete {cache} and retry")
    return node, red


def flow(broker_port: int, influx_port: int, database: str) -> list[dict[str, object]]:
    """The flow described in the module docstring, as Node-RED's flows.json."""
    return [
        {"id": "bench-tab", "type": "tab", "label": "ruong bench"},
        {
            "id": "bench-broker",
            "type": "mqtt-broker",
            "name": "mosquitto",
            "broker": "127.0.0.1",
            "port": str(broker_port),
            "clientid": "bench-node-red",
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": True,
        },
        {
            "id": "bench-influx",
            "type": "influxdb",
            "hostname": "127.0.0.1",
            "port": str(influx_port),
            "protocol": "http",
            "database": database,
            "name": "influxd",
            "usetls": False,
            "influxdbVersion": "1.x",
        },
        {
            "id": "bench-in",
            "type": "mqtt in",
            "z": "bench-tab",
            "name": "uplinks",
            "topic": f"{TOPIC_PREFIX}/+/up",
            "qos": "1",
            "datatype": "json",
            "broker": "bench-broker",
            "nl": False,
            "rap": True,
            "rh": 0,
            "inputs": 0,
            "wires": [["bench-shape"]],
        },
        {
            "id": "bench-shape",
            "type": "function",
            "z": "bench-tab",
            "name": "[fields, tags]",
            "func": SHAPE,
            "outputs": 1,
            "wires": [["bench-out"]],
        },
        {
            "id": "bench-out",
            "type": "influxdb out",
            "z": "bench-tab",
            "influxdb": "bench-influx",
            "name": "readings",
            "measurement": "readings",
            "precision": "ms",
            "retentionPolicy": "",
            "wires": [],
        },
    ]


SETTINGS = """\
module.exports = {
    uiHost: "127.0.0.1",
    httpAdminRoot: false,
    httpNodeRoot: false,
    flowFile: "flows.json",
    credentialSecret: false,
    diagnostics: { enabled: false },
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: "info", metrics: false, audit: false } },
};
"""


@dataclass
class NodeRed:
    process: ManagedProcess
    database: str

    @staticmethod
    def topic(node: str) -> str:
        return f"{TOPIC_PREFIX}/{node}/up"

    def write_errors(self) -> int:
        """Writes the influxdb out node has logged as failed so far (it drops them: no retry)."""
        log = self.process.log_path.read_text(errors="replace")
        return log.count("[error] [influxdb out:")

    def stop(self) -> None:
        self.process.stop()


def start_node_red(
    workdir: Path,
    broker_port: int,
    influx_http: str,
    database: str,
    installed: tuple[str, Path] | None = None,
    timeout: float = 60.0,
) -> NodeRed:
    """Run the flow on the given broker and InfluxDB; return once it is subscribed.

    `installed` is install()'s result (default: call it). Creates `database` (influxdb out does
    not). "Ready" is the flow started and the mqtt-broker node connected; callers should still
    send a probe through before timing (see probe()).
    """
    node, red = installed or install()
    user_dir = workdir / "node-red"
    user_dir.mkdir(parents=True, exist_ok=True)
    influx_port = int(influx_http.rsplit(":", 1)[1])
    (user_dir / "flows.json").write_text(json.dumps(flow(broker_port, influx_port, database)))
    (user_dir / "settings.js").write_text(SETTINGS)
    httpx.post(f"{influx_http}/query", params={"q": f'CREATE DATABASE "{database}"'})
    port = free_port()
    print(f"Node-RED: starting on 127.0.0.1:{port}, user dir {user_dir}")
    proc = spawn(
        "node-red",
        [node, str(red), "--userDir", str(user_dir), "--port", str(port)],
        workdir,
    )
    deadline = time.monotonic() + timeout
    while True:
        log = proc.log_path.read_text(errors="replace")
        if "Started flows" in log and "Connected to broker" in log:
            return NodeRed(proc, database)
        if "Waiting for missing types" in log:
            proc.stop()
            raise NodeRedError(f"node-red is missing node types:\n{proc.log_tail()}")
        if proc.proc.poll() is not None or time.monotonic() > deadline:
            proc.stop()
            raise NodeRedError(f"node-red did not come up in {timeout:.0f} s:\n{proc.log_tail()}")
        time.sleep(0.1)


def probe(broker_port: int, influx_http: str, database: str, timeout: float = 30.0) -> float:
    """Send one JSON message through the running flow until it is queryable; seconds taken.

    Proves the subscription is in place (a QoS 1 publish before it would be dropped) and warms
    the path up. The probe's field is `probe`, so COUNT(soil_vwc) does not see it.
    """
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-node-red-probe")
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    started = time.monotonic()
    q = {"db": database, "q": "SELECT COUNT(probe) FROM readings"}
    try:
        while time.monotonic() - started < timeout:
            body = {
                "farm": "bench",
                "field": "probe",
                "node": "probe",
                "time": int(time.time() * 1000),
                "probe": 1,
            }
            client.publish(NodeRed.topic("probe"), json.dumps(body), qos=1).wait_for_publish(5)
            for _ in range(20):
                series = httpx.get(f"{influx_http}/query", params=q).json()["results"][0]
                if series.get("series"):
                    return time.monotonic() - started
                time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    raise NodeRedError(f"a probe published to Node-RED was not queryable after {timeout:.0f} s")
