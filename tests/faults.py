"""Traffic for the fault tests: many signed uplinks over real CoAP and MQTT, recording acks."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import aiocoap
import paho.mqtt.client as mqtt
from aiocoap.numbers.codes import Code

from backend.mqtt_auth import node_password
from backend.registry import NodeInfo
from backend.store import Store
from ruong.services import MosquittoServer
from tests.uplinks import uplink


@dataclass
class Sample:
    node: NodeInfo
    counter: int
    time_s: int
    payload: bytes


@dataclass
class Traffic:
    """A stream of distinct uplinks, round-robin over `nodes`, one sample second apart."""

    nodes: list[NodeInfo]
    t0: int = field(default_factory=lambda: int(time.time()) - 3600)
    sent: int = 0

    def next(self) -> Sample:
        node = self.nodes[self.sent % len(self.nodes)]
        counter = self.sent // len(self.nodes) + 1
        t = self.t0 + self.sent
        self.sent += 1
        value = 20.0 + (self.sent % 600) / 10
        return Sample(
            node, counter, t, uplink(node.key, node.node, counter, t, {"soil_vwc": value})
        )


async def coap_send(ctx: aiocoap.Context, port: int, sample: Sample, timeout_s: float) -> str:
    """POST one uplink; return the response code ("2.04", ...) or "timeout"."""
    request = aiocoap.Message(
        code=Code.POST,
        uri=f"coap://127.0.0.1:{port}/r",
        payload=sample.payload,
        content_format=17,
    )
    try:
        response = await asyncio.wait_for(ctx.request(request).response, timeout_s)
    except (TimeoutError, aiocoap.error.Error):
        return "timeout"
    return str(response.code.dotted)


def stored_times(store: Store) -> dict[str, list[int]]:
    """Sample times (Unix ms) per node in `readings`, as stored (duplicates would repeat)."""
    out: dict[str, list[int]] = {}
    for row in store.rows("readings", {}, since_ms=0):
        out.setdefault(row.tags["node"], []).append(row.time_ms)
    return out


def expected_times(samples: list[Sample]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for s in sorted(samples, key=lambda s: s.time_s):
        out.setdefault(s.node.node, []).append(s.time_s * 1000)
    return out


class MqttPublisher:
    """QoS 1 publishers with persistent sessions, one per node and logged in as that node
    (the broker's ACL lets a node publish only on its own topic), recording which publishes
    were PUBACKed. The broker must know the nodes' accounts (`MosquittoServer.allow`)."""

    def __init__(self, broker: MosquittoServer, client_id: str = "fault-publisher") -> None:
        self.broker = broker
        self.client_id = client_id
        self.acked: list[Sample] = []
        self._by_mid: dict[tuple[str, int], Sample] = {}
        self._early: set[tuple[str, int]] = set()  # PUBACKed before publish() saw the mid
        self._lock = threading.Lock()  # each client's network thread reports its own PUBACKs
        self.clients: dict[str, mqtt.Client] = {}

    def _client(self, node: NodeInfo) -> mqtt.Client:
        client = self.clients.get(node.node)
        if client is None:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=f"{self.client_id}-{node.node}",
                clean_session=False,
            )
            client.username_pw_set(node.node, node_password(node.key))
            client.on_publish = lambda _c, _u, mid, _rc, _p, n=node.node: self._on_publish(n, mid)
            client.max_queued_messages_set(0)
            client.reconnect_delay_set(0.2, 2)
            client.connect("127.0.0.1", self.broker.port)
            client.loop_start()
            self.clients[node.node] = client
        return client

    def _on_publish(self, node: str, mid: int) -> None:
        with self._lock:
            sample = self._by_mid.pop((node, mid), None)
            if sample is None:
                self._early.add((node, mid))
            else:
                self.acked.append(sample)

    def publish(self, sample: Sample) -> None:
        """Publish `sample` on its node's topic, as that node."""
        client = self._client(sample.node)
        # not under self._lock: paho calls on_publish holding its own lock, which publish takes
        mid = client.publish(f"ruong/{sample.node.node}/up", sample.payload, qos=1).mid
        with self._lock:
            if (sample.node.node, mid) in self._early:
                self._early.discard((sample.node.node, mid))
                self.acked.append(sample)
            else:
                self._by_mid[(sample.node.node, mid)] = sample

    def close(self) -> None:
        for client in self.clients.values():
            client.loop_stop()
            client.disconnect()
