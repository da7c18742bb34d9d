"""Traffic for the fault tests: many signed uplinks over real CoAP and MQTT, recording acks."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiocoap
import paho.mqtt.client as mqtt
from aiocoap.numbers.codes import Code

from backend.registry import NodeInfo
from backend.store import Store
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
    """A QoS 1 publisher with a persistent session that records which publishes were PUBACKed."""

    def __init__(self, port: int, client_id: str = "fault-publisher") -> None:
        self.acked: list[Sample] = []
        self._by_mid: dict[int, Sample] = {}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.on_publish = self._on_publish
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, _c, _u, mid, _rc, _p) -> None:  # type: ignore[no-untyped-def]
        sample = self._by_mid.pop(mid, None)
        if sample is not None:
            self.acked.append(sample)

    def publish(self, sample: Sample) -> None:
        info = self.client.publish(f"ruong/{sample.node.node}/up", sample.payload, qos=1)
        self._by_mid[info.mid] = sample

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
