"""One hop of the data path: a verified uplink becomes store points, written before any ack.

Transport adapters (coap_server, mqtt_client) call `Ingest.accept`; it raises UplinkRejected for
bad input (counted by reason, logged) and StoreError when the store did not take the points, in
which case the transport must not acknowledge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from backend.quantities import QUANTITIES
from backend.registry import NodeInfo, Registry
from backend.store import Point, Store, StoreError
from gateway.uplink import Uplink, UplinkRejected, decode_uplink

log = logging.getLogger("ruong.gateway")


def uplink_points(uplink: Uplink) -> list[Point]:
    """Points of the InfluxDB schema (DESIGN.md): `readings` and `node_status`, one per time."""
    node = uplink.node
    tags = {"farm": node.farm, "field": node.field, "node": node.node}
    points: list[Point] = []
    for time_ms, values in sorted(uplink.samples.items()):
        by_measurement: dict[str, dict[str, float | int]] = {}
        for name, value in values.items():
            by_measurement.setdefault(QUANTITIES[name].measurement, {})[name] = value
        status = by_measurement.setdefault("node_status", {})
        status["counter"] = uplink.counter
        for measurement, fields in by_measurement.items():
            points.append(Point(measurement, tags, fields, time_ms))
    return points


class Ingest:
    def __init__(
        self, registry: Registry, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.counts: Counter[str] = Counter()

    def _lookup(self, node_id: str) -> NodeInfo | None:
        return self.registry.node(node_id)

    async def accept(
        self, data: bytes, transport: str, peer: str = "", claimed_node: str | None = None
    ) -> Uplink:
        """Verify, validate and store `data`; return the uplink once the store has it.

        `claimed_node` is the node the transport says sent it (the MQTT topic); it must be the
        node whose key signed it.
        """
        try:
            uplink = await asyncio.to_thread(decode_uplink, data, self._lookup, self.clock())
            if claimed_node is not None and claimed_node != uplink.node.node:
                raise UplinkRejected(
                    "topic_mismatch",
                    f"sent on {claimed_node}'s topic, signed by {uplink.node.node}",
                )
        except UplinkRejected as exc:
            self.counts[f"rejected:{exc.reason}"] += 1
            log.warning(
                "uplink rejected transport=%s peer=%s reason=%s detail=%s",
                transport,
                peer,
                exc.reason,
                exc.detail,
            )
            raise
        points = uplink_points(uplink)
        try:
            await asyncio.to_thread(self.store.write, points)
        except StoreError:
            self.counts["store_error"] += 1
            raise
        self.counts["accepted"] += 1
        log.info(
            "uplink stored transport=%s node=%s counter=%d samples=%d points=%d",
            transport,
            uplink.node.node,
            uplink.counter,
            len(uplink.samples),
            len(points),
        )
        return uplink
