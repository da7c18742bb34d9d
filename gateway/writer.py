"""Drain the spool into the store: batched, retried with backoff and jitter, never throttled.

A batch is released from the spool only after the store acknowledged it (InfluxDB's 204). A
transient failure (store down, 5xx) keeps the batch and retries with exponential backoff plus
jitter; a permanent one (the store rejects the data, a 4xx) is narrowed down to the offending
uplinks, which go to the spool's `dead` table with the error, so one bad point cannot block the
rest. After an outage the backlog drains in full batches back to back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from backend.store import Store, StoreError
from backend.store.influx import InfluxStore
from gateway.metrics import GatewayMetrics
from gateway.spool import Spool, Spooled

log = logging.getLogger("ruong.gateway.writer")

BATCH_POINTS = 5000
LINGER_S = 0.02  # wait this long for more uplinks before writing a small batch
MAX_BACKOFF_S = 30.0

T = TypeVar("T")


class SpoolWriter:
    def __init__(
        self,
        spool: Spool,
        store: Store,
        executor: Executor,
        metrics: GatewayMetrics,
        batch_points: int = BATCH_POINTS,
    ) -> None:
        self.spool = spool
        self.store = store
        self.executor = executor
        self.metrics = metrics
        self.batch_points = batch_points
        self.wakeup = asyncio.Event()
        self.drained = asyncio.Event()  # set whenever the spool is seen empty
        self.used_bytes = 0  # spool size at the last gauge refresh
        self._gauges_at = 0.0

    async def _spool(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def refresh_gauges(self) -> None:
        self._gauges_at = time.monotonic()
        self.used_bytes = await self._spool(self.spool.used_bytes)
        self.metrics.spool_bytes.set(self.used_bytes)
        depth, oldest = await self._spool(self.spool.depth)
        self.metrics.spool_depth.set(depth)
        # real seconds on any clock: `oldest` is when the gateway received the uplink (spool
        # bookkeeping, gateway/ingest.py), and the gauge says how long the store has been behind
        self.metrics.spool_oldest_age.set(0 if oldest is None else time.time() - oldest / 1000)
        self.metrics.dead.set(await self._spool(self.spool.dead_count))

    async def _write(self, batch: list[Spooled]) -> None:
        started = time.perf_counter()
        if isinstance(self.store, InfluxStore):  # the spooled line protocol as it is
            text = "\n".join(item.lines for item in batch)
            await asyncio.to_thread(self.store.write_lines, text)
        else:
            points = [p for item in batch for p in item.points]
            await asyncio.to_thread(self.store.write, points)
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        self.metrics.points_written.inc(sum(item.point_count for item in batch))

    async def _isolate(self, batch: list[Spooled]) -> None:
        """The store refused the batch as invalid: write uplink by uplink, quarantine the bad."""
        for item in batch:
            try:
                await self._write([item])
            except StoreError as exc:
                if not exc.permanent:
                    raise
                log.error(
                    "store refused uplink node=%s counter=%d, kept in spool.dead: %s",
                    item.node,
                    item.counter,
                    exc,
                )
                await self._spool(self.spool.quarantine, item, str(exc))
                continue
            await self._spool(self.spool.release, [item.id])

    async def _deliver(self, batch: list[Spooled]) -> None:
        """Write and release `batch`; raise StoreError only for a transient failure."""
        try:
            await self._write(batch)
        except StoreError as exc:
            if not exc.permanent:
                raise
            self.metrics.store_errors.labels("permanent").inc()
            await self._isolate(batch)
            return
        await self._spool(self.spool.release, [item.id for item in batch])

    async def run(self) -> None:
        """Forever: take the oldest batch, write it, release it."""
        backoff = 0.5
        while True:
            if time.monotonic() - self._gauges_at > 1.0:
                await self.refresh_gauges()
            batch = await self._spool(self.spool.peek, self.batch_points)
            if not batch:
                self.drained.set()
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
                except TimeoutError:
                    pass
                await asyncio.sleep(LINGER_S)
                continue
            self.drained.clear()
            try:
                await self._deliver(batch)
                backoff = 0.5
            except StoreError as exc:  # transient: the batch stays in the spool
                self.metrics.store_errors.labels("transient").inc()
                delay = backoff * random.uniform(0.5, 1.5)
                log.warning(
                    "store write failed (%s), %d uplinks kept, retry in %.1f s",
                    exc,
                    len(batch),
                    delay,
                )
                await self.refresh_gauges()
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
