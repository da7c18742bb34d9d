"""The gateway's MQTT side on real Mosquitto: QoS 1 uplinks stored, bad ones dropped by reason."""

from __future__ import annotations

import time

import pytest

from backend.mqtt_auth import node_password
from backend.registry import NodeInfo
from backend.store import open_store
from ruong.services import MosquittoServer
from tests.conftest import GatewayProcess, MqttTestClient, wait_until
from tests.uplinks import uplink

pytestmark = pytest.mark.services


def publish_all(broker: MosquittoServer, messages: list[tuple[NodeInfo, bytes]]) -> None:
    """Each payload published QoS 1 on its node's topic, logged in as that node (the only
    topic the broker lets it publish on), in order."""
    clients: dict[str, MqttTestClient] = {}
    try:
        for node, payload in messages:
            if node.node not in clients:
                clients[node.node] = MqttTestClient(
                    broker.port, node.node, node_password(node.key), f"test-{node.node}"
                )
            clients[node.node].publish(f"ruong/{node.node}/up", payload)
    finally:
        for client in clients.values():
            client.close()


def test_mqtt_uplinks_stored_and_bad_ones_dropped(
    gateway: GatewayProcess, mosquitto: MosquittoServer
) -> None:
    gateway.process.wait_for_log("MQTT subscribed", 20)
    registry = gateway.registry()
    a = registry.provision("test-farm", "ruong-1", "mqtt")
    b = registry.provision("test-farm", "ruong-2", "mqtt")
    registry.close()
    mosquitto.allow([a, b])
    t0 = round(time.time()) - 120
    publish_all(
        mosquitto,
        [
            (a, b"\x00\x01 garbage"),
            (a, uplink(a.key, a.node, 1, t0, {"soil_vwc": 30.0, "rain": 1.2})),
            (a, uplink(b.key, b.node, 1, t0, {"soil_vwc": 99.0})),  # b's uplink on a's topic
            (b, uplink(a.key, b.node, 2, t0, {"soil_vwc": 99.0})),  # signed with a's key
            (b, uplink(b.key, b.node, 3, t0 + 60, {"air_temp": 24.5})),
        ],
    )
    store = open_store(gateway.settings.store)
    try:
        wait_until(lambda: len(store.rows("readings", {}, since_ms=0)) >= 2, 20, "two readings")
        time.sleep(0.5)  # let any wrongly accepted message land before counting
        rows = {r.tags["node"]: r for r in store.rows("readings", {}, since_ms=0)}
    finally:
        store.close()
    assert rows[a.node].fields == {"soil_vwc": 30.0, "rain": 1.2}
    assert rows[a.node].time_ms == t0 * 1000
    assert rows[b.node].fields == {"air_temp": 24.5}
    assert rows[b.node].tags == {"farm": "test-farm", "field": "ruong-2", "node": b.node}
    log = gateway.log()
    for reason in ("malformed_cbor", "topic_mismatch", "bad_mac"):
        assert f"reason={reason}" in log
