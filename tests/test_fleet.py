"""`ruong node list`: the registry's nodes with their health from the store, and advice that
says what to do (the dashboard's node rules, in its words)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from backend.node_health import NodeView
from backend.registry import NodeInfo, Registry
from backend.store import Point, open_store
from ruong import fleet
from tests.conftest import free_port, write_config
from tests.test_cli import ruong

NOW_MS = 1_782_900_000_000


def node(name: str, revoked: bool = False) -> NodeInfo:
    return NodeInfo(name, "farm", "ruong-1", "coap", bytes(32), revoked)


def keys(health: fleet.NodeHealth) -> list[str]:
    return [a.key for a in health.advice]


def test_each_node_gets_its_own_advice_and_field_advice_is_left_out() -> None:
    views = [
        NodeView("n1", "ruong-1", "farm", NOW_MS - 60_000, {"battery": 3.41, "rssi": -80.0}),
        NodeView("n2", "ruong-1", "farm", NOW_MS - 2 * 3600_000, {"battery": 3.9}),
        # water 30 cm down is advice for the farmer's field, not about the node
        NodeView("n3", "ruong-1", "farm", NOW_MS - 60_000, {"water_level": -0.3, "faults": 2.0}),
        NodeView("n5", "ruong-1", "farm", NOW_MS - 60_000, {"battery": 3.2}),
    ]
    nodes = [node("n1"), node("n2"), node("n3"), node("n4"), node("n5", revoked=True)]
    n1, n2, n3, n4, n5 = fleet.fleet_health(nodes, views, NOW_MS)
    assert keys(n1) == ["battery_low"] and (n1.battery_v, n1.rssi_dbm) == (3.41, -80.0)
    assert keys(n2) == ["offline"] and n2.last_report_ms == NOW_MS - 2 * 3600_000
    assert keys(n3) == ["sensor_faults"]
    assert keys(n4) == ["never_reported"] and n4.last_report_ms is None
    assert keys(n5) == [] and n5.battery_v == 3.2  # revoked: silent is right


def test_the_table_says_what_to_do_in_either_language() -> None:
    views = [NodeView("n1", "ruong-1", "farm", NOW_MS - 300_000, {"battery": 3.41})]
    health = fleet.fleet_health([node("n1"), node("n2")], views, NOW_MS)
    lines = fleet.render(health, NOW_MS, "en").splitlines()
    assert lines[0].split() == [
        "node", "field", "transport", "state", "last", "report", "battery", "rssi", "advice"
    ]  # fmt: skip
    assert lines[1].split()[:7] == ["n1", "farm/ruong-1", "coap", "active", "5", "min", "ago"]
    assert "3.41 V" in lines[1] and "Battery low (3.41 V): replace or charge it soon" in lines[1]
    assert "never" in lines[2] and "flash it (ruong node flash)" in lines[2]
    vi = fleet.render(health, NOW_MS, "vi")
    assert "5 phút trước" in vi and "Pin yếu (3.41 V)" in vi and "Chưa gửi số liệu" in vi


def test_an_unreadable_store_claims_nothing() -> None:
    (health,) = fleet.fleet_health([node("n1")], None, NOW_MS)
    assert not health.known and health.advice == ()
    row = fleet.render([health], NOW_MS, "en").splitlines()[1]
    assert row.split()[4:] == ["?", "-", "-", "-"]
    assert "advice" not in fleet.as_json(health) and "key" not in fleet.as_json(health)


def farm(tmp_path: Path, store_url: str, fields: dict[str, str]) -> tuple[Path, list[NodeInfo]]:
    """A ruong.toml for farm "farm" on `store_url`, and one node provisioned per
    {field: transport}, in order."""
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    config = write_config(
        tmp_path / "ruong.toml", site_farm="farm", registry_url=registry_url, store_url=store_url
    )
    with Registry(registry_url) as registry:
        nodes = [registry.provision("farm", f, transport) for f, transport in fields.items()]
    return config, nodes


def test_ruong_node_list_reads_the_registry_and_the_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'readings.db'}"
    config, (seen, silent) = farm(tmp_path, store_url, {"ruong-1": "coap", "ruong-2": "mqtt"})
    now_ms = int(time.time() * 1000)
    store = open_store(store_url)
    tags = {"farm": "farm", "field": "ruong-1", "node": seen.node}
    store.write(
        [
            Point("readings", tags, {"soil_vwc": 31.0}, now_ms - 120_000),
            Point(
                "node_status", tags, {"battery": 3.38, "rssi": -67, "counter": 4}, now_ms - 120_000
            ),
        ]
    )
    store.close()

    done = ruong("--config", str(config), "node", "list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = {n["node"]: n for n in json.loads(done.stdout)}
    assert listed[seen.node]["battery_v"] == 3.38 and listed[seen.node]["rssi_dbm"] == -67
    assert listed[seen.node]["advice"] == ["battery_low"]
    assert listed[silent.node]["last_report_ms"] is None
    assert listed[silent.node]["advice"] == ["never_reported"]

    done = ruong("--config", str(config), "node", "list", "--lang", "vi", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith(seen.node))
    assert "2 phút trước" in row and "-67 dBm" in row and "Pin yếu (3.38 V)" in row


def test_ruong_node_list_without_its_database_says_so_and_lists_the_registry(
    tmp_path: Path,
) -> None:
    dead = f"influxdb://127.0.0.1:{free_port(socket.SOCK_STREAM)}/ruong"  # nothing listens
    config, (info,) = farm(tmp_path, dead, {"ruong-1": "coap"})
    done = ruong("--config", str(config), "node", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"cannot read the store ({dead})" in done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith(info.node))
    assert row.split()[4:] == ["?", "-", "-", "-"]
