"""One hop of the data path: verify uplinks, spool them durably, then let the transport ack.

Transports hand over bytes; `Ingest` answers once each uplink is committed to the spool (or was
already there: a duplicate). Work is done in batches: a batch is decoded, MAC-checked, validated
and turned into line protocol in one pass, then committed in one SQLite transaction on the
spool's thread, so durability costs one fsync per batch, not per uplink, and there is no task
or future per uplink on the MQTT path.

- `accept_batch` (MQTT) takes the messages read so far and returns one `Outcome` per message;
- `accept` (CoAP, one request at a time) queues the uplink; concurrent requests share a batch.

An outcome is "stored" or "duplicate" (durable: acknowledge), an `UplinkRejected` (bad input,
counted by reason and logged; acknowledge-and-drop over MQTT, a 4.xx over CoAP), or
`NotDurable` (spool over its bound or failing: the transport must not acknowledge).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from backend.audit import Audit
from backend.clock import Clock
from backend.quantities import QUANTITIES
from backend.registry import NodeInfo, Registry
from backend.store import Point, Store
from backend.store.base import line_protocol
from gateway.metrics import GatewayMetrics
from gateway.spool import DUPLICATE, REPLAY, Entry, Spool
from gateway.uplink import MAX_FUTURE_S, Uplink, UplinkRejected, decode_uplink
from gateway.writer import SpoolWriter

log = logging.getLogger("ruong.gateway")

KEY_CACHE_S = 10.0  # a revoked key is refused at most this long after `ruong node revoke`
MAX_GROUP = 1000  # uplinks per spool transaction
SUMMARY_S = 10.0  # period of the "uplinks in the last ... s" log line
AUDIT_S = 3600.0  # refused uplinks go to the audit trail summarised per node per hour


class NotDurable(RuntimeError):
    """The uplink could not be spooled now; the sender should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


Outcome = str | UplinkRejected | NotDurable


@dataclass(frozen=True)
class Received:
    """One uplink as a transport handed it over.

    `claimed_node` is the node the transport says sent it (the MQTT topic); it must be the node
    whose key signed it.
    """

    data: bytes
    transport: str
    peer: str = ""
    claimed_node: str | None = None


def uplink_points(uplink: Uplink) -> list[Point]:
    """Points of the InfluxDB schema (docs/architecture.md, "Store schema"): `readings` and `node_status`, one per time."""
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


# Quantity names are field keys written without escaping by `uplink_lines`.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")
if not all(_PLAIN_KEY.fullmatch(name) for name in QUANTITIES):
    raise RuntimeError("a quantity name needs line-protocol escaping; uplink_lines cannot take it")


class LineEncoder:
    """`uplink_points` straight to line protocol, caching each node's series key.

    The text equals `"\\n".join(line_protocol(p) for p in uplink_points(uplink))`
    (tests/test_gateway_lines.py checks it) at a fraction of the cost.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str, str], str] = {}

    def _key(self, measurement: str, node: NodeInfo) -> str:
        cache_key = (measurement, node.farm, node.field, node.node)
        series = self._series.get(cache_key)
        if series is None:
            if len(self._series) > 100_000:
                self._series.clear()
            tags = {"farm": node.farm, "field": node.field, "node": node.node}
            probe = line_protocol(Point(measurement, tags, {"x": 1}, 0))
            series = probe[: -len(" x=1i 0")]  # measurement and escaped, sorted tags
            self._series[cache_key] = series
        return series

    def encode(self, uplink: Uplink) -> str:
        """Line protocol (ms precision) of one uplink, lines joined by "\\n"."""
        node = uplink.node
        counter = f"counter={uplink.counter}i"
        lines: list[str] = []
        for time_ms, values in sorted(uplink.samples.items()):
            by_measurement: dict[str, list[str]] = {}
            for name, value in values.items():
                by_measurement.setdefault(QUANTITIES[name].measurement, []).append(
                    f"{name}={value!r}"
                )
            by_measurement.setdefault("node_status", []).append(counter)
            for measurement, fields in by_measurement.items():
                lines.append(f"{self._key(measurement, node)} {','.join(fields)} {time_ms}")
        return "\n".join(lines)


@dataclass
class _Verified:
    """A batch after verification: an outcome per item (placeholders for the accepted), and
    the spool entries of the accepted with their index in the batch."""

    outcomes: list[Outcome]
    entries: list[Entry]
    accepted: list[tuple[int, Uplink]]


class Ingest:
    def __init__(
        self,
        registry: Registry,
        spool: Spool,
        store: Store,
        spool_max_bytes: int,
        clock: Clock | None = None,
    ) -> None:
        """clock: the site's clock (default the real one); sample times are checked against
        its "now". The spool's received/dead times and the key cache stay on real time: they
        are the gateway's bookkeeping (how long an uplink has waited for the store, when to
        look a key up again), not times of the site's data."""
        self.registry = registry
        self.spool = spool
        self.metrics = GatewayMetrics()
        self.spool_max_bytes = spool_max_bytes
        self.clock = clock or Clock()
        self.max_future_s = self.clock.site_seconds(MAX_FUTURE_S)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="spool")
        self.writer = SpoolWriter(spool, store, self.executor, self.metrics)
        self._encoder = LineEncoder()
        self._keys: dict[str, tuple[float, NodeInfo | None]] = {}
        self._queue: list[tuple[Received, asyncio.Future[Outcome]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._tally: Counter[str] = Counter()  # outcomes since the last summary line
        self._tally_lock = threading.Lock()  # counted on the spool thread and the event loop
        # refusals since the last audit summary: (node it claimed or peer:<address>, reason)
        self._refused: Counter[tuple[str, str]] = Counter()

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

    def _count(self, outcome: str, n: int = 1) -> None:
        with self._tally_lock:
            self._tally[outcome] += n

    def reject(self, exc: UplinkRejected, transport: str, peer: str) -> None:
        """Count and log a refused uplink by its reason code."""
        self.metrics.rejects.labels(exc.reason).inc()
        self.metrics.uplinks.labels(transport, "rejected").inc()
        self._count("rejected")
        with self._tally_lock:
            self._refused[(exc.node or f"peer:{peer}", exc.reason)] += 1
        log.warning(
            "uplink rejected transport=%s peer=%s reason=%s detail=%s",
            transport,
            peer,
            exc.reason,
            exc.detail,
            extra={
                "event": "uplink_rejected",
                "transport": transport,
                "peer": peer,
                "reason": exc.reason,
                "detail": exc.detail,
            },
        )

    def _verify(self, items: list[Received]) -> _Verified:
        """Decode, authenticate, validate and encode `items`; rejections counted and logged."""
        verified = _Verified([], [], [])
        now_s = self.clock.now_s()
        for i, item in enumerate(items):
            try:
                uplink = decode_uplink(item.data, self._lookup, now_s, self.max_future_s)
                if item.claimed_node is not None and item.claimed_node != uplink.node.node:
                    raise UplinkRejected(
                        "topic_mismatch",
                        f"sent on {item.claimed_node}'s topic, signed by {uplink.node.node}",
                    )
            except UplinkRejected as exc:
                self.reject(exc, item.transport, item.peer)
                verified.outcomes.append(exc)
                continue
            verified.outcomes.append(DUPLICATE)  # placeholder until the commit says
            verified.entries.append(
                Entry(uplink.node.node, uplink.counter, lines=self._encoder.encode(uplink))
            )
            verified.accepted.append((i, uplink))
        return verified

    def _commit(self, items: list[Received], verified: _Verified) -> list[Outcome]:
        """Spool the verified uplinks in one transaction (runs on the spool thread)."""
        outcomes = verified.outcomes
        if not verified.entries:
            return outcomes
        try:
            results = self.spool.commit(verified.entries)
        except sqlite3.Error as exc:
            log.error("spool commit failed for %d uplinks: %s", len(verified.entries), exc)
            for i, _ in verified.accepted:
                outcomes[i] = NotDurable(f"spool unavailable: {exc}", 10)
            return outcomes
        counts: Counter[tuple[str, str]] = Counter()
        for (i, uplink), result in zip(verified.accepted, results, strict=True):
            item = items[i]
            if result == REPLAY:
                replayed = UplinkRejected(
                    "replay",
                    f"counter {uplink.counter} is older than node {uplink.node.node}'s window",
                    uplink.node.node,
                )
                self.reject(replayed, item.transport, item.peer)
                outcomes[i] = replayed
                continue
            outcomes[i] = result
            counts[(item.transport, result)] += 1
            log.log(
                logging.WARNING if result == DUPLICATE else logging.DEBUG,
                "uplink %s transport=%s node=%s counter=%d samples=%d",
                result,
                item.transport,
                uplink.node.node,
                uplink.counter,
                len(uplink.samples),
            )
        for (transport, result), n in counts.items():
            self.metrics.uplinks.labels(transport, result).inc(n)
            self._count(result, n)
        return outcomes

    async def accept_batch(self, items: list[Received]) -> list[Outcome]:
        """Verify and spool `items` together; one outcome per item, in order, once durable.

        Verification runs here, on the event loop, as one synchronous pass over the batch; only
        the commit goes to the spool thread. (Verifying on that thread too was measured slower:
        with the GIL, a CPU-bound thread makes the loop wait for the GIL after every recv.)
        """
        if not items:
            return []
        if self.writer.used_bytes > self.spool_max_bytes:  # shed before doing any work
            for item in items:
                self.metrics.uplinks.labels(item.transport, "shed").inc()
            self._count("shed", len(items))
            full = f"spool full ({self.writer.used_bytes} > {self.spool_max_bytes} bytes)"
            return [NotDurable(full, 30) for _ in items]
        verified = self._verify(items)
        loop = asyncio.get_running_loop()
        outcomes = await loop.run_in_executor(self.executor, self._commit, items, verified)
        self.writer.wakeup.set()
        return outcomes

    async def accept(
        self, data: bytes, transport: str, peer: str = "", claimed_node: str | None = None
    ) -> str:
        """Verify, validate and spool `data`; return "stored" or "duplicate" once durable.

        Raises UplinkRejected (counted and logged) or NotDurable. Concurrent calls share one
        spool transaction.
        """
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((Received(data, transport, peer, claimed_node), future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._flush())
        outcome = await future
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _flush(self) -> None:
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            outcomes = await self.accept_batch([item for item, _ in group])
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if not future.done():  # a cancelled request no longer waits
                    future.set_result(outcome)

    async def report(self, period_s: float = SUMMARY_S) -> None:
        """Forever: one INFO line per period with the outcomes counted in it (if any)."""
        while True:
            await asyncio.sleep(period_s)
            with self._tally_lock:
                tally, self._tally = self._tally, Counter()
            if tally:
                log.info(
                    "uplinks in the last %.0f s: %s",
                    period_s,
                    " ".join(f"{k}={v}" for k, v in sorted(tally.items())),
                )

    def audit_refusals(self, audit: Audit) -> int:
        """Write the refusals counted since the last call to the audit trail, one event per
        node (or unknown sender) with its count per reason; the number of events."""
        with self._tally_lock:
            refused, self._refused = self._refused, Counter()
        by_subject: dict[str, dict[str, int]] = {}
        for (subject, reason), n in refused.items():
            by_subject.setdefault(subject, {})[reason] = n
        for subject, reasons in sorted(by_subject.items()):
            peer = subject.startswith("peer:")
            audit.record(
                subject if peer else f"node:{subject}",
                "uplink.rejected",
                "refused",
                target=None if peer else subject,
                client=subject[len("peer:") :] if peer else None,
                details=reasons,
            )
        return len(by_subject)

    async def audit_every(self, audit: Audit, period_s: float = AUDIT_S) -> None:
        """Forever: the refusals of each period (an hour) to the audit trail; the last
        partial period when cancelled (the gateway stopping)."""
        try:
            while True:
                await asyncio.sleep(period_s)
                await asyncio.get_running_loop().run_in_executor(None, self.audit_refusals, audit)
        finally:
            self.audit_refusals(audit)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
