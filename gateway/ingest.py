"""One hop of the data path: verify an uplink, spool it durably, then let the transport ack.

Transport adapters (coap_server, mqtt_client) call `Ingest.accept`. It returns once the uplink
is committed to the spool (or was already there: a duplicate), raises UplinkRejected for bad
input (counted by reason, logged), and `NotDurable` when it cannot make the uplink durable right
now (spool over its bound, or failing), in which case the transport must not acknowledge.
Concurrent accepts share one spool transaction (group commit), so durability costs one fsync
per batch, not per uplink.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from backend.quantities import QUANTITIES
from backend.registry import NodeInfo, Registry
from backend.store import Point, Store
from gateway.metrics import GatewayMetrics
from gateway.spool import DUPLICATE, REPLAY, Entry, Spool
from gateway.uplink import Uplink, UplinkRejected, decode_uplink
from gateway.writer import SpoolWriter

log = logging.getLogger("ruong.gateway")

KEY_CACHE_S = 10.0  # a revoked key is refused at most this long after `ruong node revoke`
MAX_GROUP = 1000


class NotDurable(RuntimeError):
    """The uplink could not be spooled now; the sender should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


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
        self,
        registry: Registry,
        spool: Spool,
        store: Store,
        spool_max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.spool = spool
        self.metrics = GatewayMetrics()
        self.spool_max_bytes = spool_max_bytes
        self.clock = clock
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="spool")
        self.writer = SpoolWriter(spool, store, self.executor, self.metrics)
        self._keys: dict[str, tuple[float, NodeInfo | None]] = {}
        self._queue: list[tuple[Entry, asyncio.Future[str]]] = []
        self._committer: asyncio.Task[None] | None = None

    def _lookup(self, node_id: str) -> NodeInfo | None:
        now = time.monotonic()
        cached = self._keys.get(node_id)
        if cached is not None and now - cached[0] < KEY_CACHE_S:
            return cached[1]
        if len(self._keys) > 100_000:  # random kids must not grow the cache without bound
            self._keys.clear()
        info = self.registry.node(node_id)
        self._keys[node_id] = (now, info)
        return info

    def reject(self, exc: UplinkRejected, transport: str, peer: str) -> None:
        """Count and log a refused uplink by its reason code."""
        self.metrics.rejects.labels(exc.reason).inc()
        self.metrics.uplinks.labels(transport, "rejected").inc()
        log.warning(
            "uplink rejected transport=%s peer=%s reason=%s detail=%s",
            transport,
            peer,
            exc.reason,
            exc.detail,
        )

    async def accept(
        self, data: bytes, transport: str, peer: str = "", claimed_node: str | None = None
    ) -> str:
        """Verify, validate and spool `data`; return "stored" or "duplicate" once durable.

        `claimed_node` is the node the transport says sent it (the MQTT topic); it must be the
        node whose key signed it.
        """
        if self.writer.used_bytes > self.spool_max_bytes:
            self.metrics.uplinks.labels(transport, "shed").inc()
            raise NotDurable(
                f"spool full ({self.writer.used_bytes} > {self.spool_max_bytes} bytes)", 30
            )
        try:
            uplink = decode_uplink(data, self._lookup, self.clock())
            if claimed_node is not None and claimed_node != uplink.node.node:
                raise UplinkRejected(
                    "topic_mismatch",
                    f"sent on {claimed_node}'s topic, signed by {uplink.node.node}",
                )
        except UplinkRejected as exc:
            self.reject(exc, transport, peer)
            raise
        outcome = await self._commit(Entry(uplink.node.node, uplink.counter, uplink_points(uplink)))
        if outcome == REPLAY:
            exc = UplinkRejected(
                "replay", f"counter {uplink.counter} is older than node {uplink.node.node}'s window"
            )
            self.reject(exc, transport, peer)
            raise exc
        self.metrics.uplinks.labels(transport, outcome).inc()
        log.log(
            logging.INFO if outcome != DUPLICATE else logging.WARNING,
            "uplink %s transport=%s node=%s counter=%d samples=%d",
            outcome,
            transport,
            uplink.node.node,
            uplink.counter,
            len(uplink.samples),
        )
        self.writer.wakeup.set()
        return outcome

    async def _commit(self, entry: Entry) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                outcomes = await loop.run_in_executor(
                    self.executor, self.spool.commit, [entry for entry, _ in group]
                )
            except sqlite3.Error as exc:
                log.error("spool commit failed for %d uplinks: %s", len(group), exc)
                for _, future in group:
                    if not future.done():  # a cancelled request no longer waits
                        future.set_exception(NotDurable(f"spool unavailable: {exc}", 10))
                continue
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
