"""The walking skeleton end to end, every hop real: the firmware on MicroPython (64 kB heap)
-> CoAP or MQTT (Mosquitto) -> `ruong gateway` -> InfluxDB, started as a user would start it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.store import open_store
from ruong.services import MosquittoServer
from tests.conftest import GatewayProcess, wait_until

pytestmark = [pytest.mark.services, pytest.mark.micropython]


def test_nodes_over_coap_and_mqtt_reach_influxdb(
    gateway: GatewayProcess, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    # provisioned before the run (which takes the farm's first live nodes), so that the
    # broker knows the MQTT node's account before it connects, as `ruong mqtt sync` does
    with gateway.registry() as registry:
        nodes = [
            registry.provision("test-farm", field, transport)
            for field, transport in (("ruong-1", "coap"), ("ruong-2", "mqtt"))
        ]
    mosquitto.allow(nodes)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruong.cli",
            "--config",
            str(gateway.config),
            "sim",
            "--nodes",
            "2",
            "--cycles",
            "3",
            "--interval",
            "1",
            "--state-dir",
            str(tmp_path / "sim"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr + gateway.log()[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert "6/6 uplinks acknowledged" in done.stderr

    registry = gateway.registry()
    nodes = {n.node: n for n in registry.nodes("test-farm")}
    registry.close()
    assert sorted(n.transport for n in nodes.values()) == ["coap", "mqtt"]
    assert {r["result"] for r in reports if nodes[r["node"]].transport == "coap"} == {"2.04"}
    assert {r["result"] for r in reports if nodes[r["node"]].transport == "mqtt"} == {"puback"}

    store = open_store(gateway.settings.store)
    try:
        wait_until(
            lambda: len(store.rows("readings", {}, since_ms=0)) >= len(reports),
            10,
            "not every acknowledged uplink is queryable",
        )
        for report in reports:
            node = nodes[report["node"]]
            rows = [
                r
                for r in store.rows("readings", {"node": node.node}, since_ms=0)
                if r.time_ms == round(report["t"] * 1000)
            ]
            assert len(rows) == 1, f"sample {report} stored {len(rows)} times"
            row = rows[0]
            assert row.tags == {"farm": "test-farm", "field": node.field, "node": node.node}
            readings = {k: v for k, v in report["values"].items() if k not in ("battery", "rssi")}
            assert row.fields.keys() == readings.keys()
            for name, value in readings.items():
                assert math.isclose(row.fields[name], value, rel_tol=1e-6), (name, row, report)
            status = store.rows("node_status", {"node": node.node}, since_ms=row.time_ms)[0]
            assert status.fields["counter"] == report["ctr"]
    finally:
        store.close()
    # the sample time is the node's, not the gateway's arrival time: a fresh run's samples are
    # within the run's window and in increasing order per node
    for node_id in nodes:
        times = [r["t"] for r in reports if r["node"] == node_id]
        assert times == sorted(times) and len(set(times)) == 3


def test_sim_takes_its_config_after_the_subcommand_and_runs_from_its_default_state_dir(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """`ruong sim --config ruong.toml` as a new user types it, in a farm directory: the
    default `--state-dir ruong-data/sim` is relative to it, not to the firmware's."""
    farm = tmp_path / "farm"
    farm.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "ruong.cli", "sim", "--config", str(gateway.config), "-v"]
        + ["--nodes", "1", "--cycles", "1", "--interval", "1"],
        cwd=farm,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + gateway.log()[-3000:]
    assert "1/1 uplinks acknowledged" in done.stderr
    (report,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert (farm / "ruong-data" / "sim" / report["node"] / "config.json").is_file()
