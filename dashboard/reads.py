"""The store as the pages read it: within a deadline, else from the last answer.

A stalled store (InfluxDB stopped by a full disk or SIGSTOP: it accepts the connection and
never answers) must not leave a farmer with a blank screen. Every page reads through
:class:`Reads`, which answers each named read from the store when the store answers within
`deadline_s`, and otherwise from the last answer it had, marked stale with its time; the
page then shows that answer under the `stale-banner`. After a failure, reads answer from
the cache without asking the store for `pause_s`, so a page of several reads renders in one
deadline, not one per read; pages asking for the same read at once share one query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backend.clock import Clock
from backend.store import Store, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A read's value; `at_ms` when the store gave it (Unix ms, None: never), `stale` when it
    is not this moment's answer (the store is slow or down)."""

    value: T | None
    at_ms: int | None
    stale: bool


class Reads:
    """Named store reads with a deadline and a last-answer cache, shared by every page.

    deadline_s: how long a read waits for the store when it has an answer to fall back on;
    first_deadline_s: when it has none (a server just started, a field nobody opened since):
    a slow store's answer is then worth waiting for, since the alternative is an empty page.
    fresh_s: an answer younger than this is served without asking the store again (the
    nodes report every 15 min; several phones opening the same commune cost one query).
    All of these are real seconds; an answer's `at_ms` is the site's time (`clock`), the
    time a stale banner shows next to the data's own.
    """

    def __init__(
        self,
        store: Store,
        deadline_s: float = 1.2,
        first_deadline_s: float = 8.0,
        fresh_s: float = 20.0,
        pause_s: float = 5.0,
        workers: int = 4,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.deadline_s = deadline_s
        self.first_deadline_s = first_deadline_s
        self.fresh_s = fresh_s
        self.pause_s = pause_s
        self.clock = clock or Clock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reads")
        self._lock = threading.Lock()
        self._cache: dict[Hashable, tuple[float, int, object]] = {}
        self._pending: dict[Hashable, Future[object]] = {}
        self._down_until = 0.0

    def get(self, key: Hashable, fetch: Callable[[Store], T]) -> Answer[T]:
        """`fetch(store)` under `key`: fresh, cached within `fresh_s`, or stale."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self.fresh_s:
                return Answer(cached[2], cached[1], False)  # type: ignore[arg-type]
            if now < self._down_until:
                return self._stale(key)
            pending = self._pending.get(key)
            if pending is not None and not pending.done():
                future = pending  # another page asks the same: wait for that one answer
            else:
                future = self._pool.submit(self._fetch, key, fetch)
                self._pending[key] = future
        try:
            value = future.result(
                timeout=self.deadline_s if cached is not None else self.first_deadline_s
            )
        except (StoreError, FutureTimeout) as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.pause_s
                log.warning("store read %r answered from the cache: %s", key, exc or "timed out")
                return self._stale(key)
        with self._lock:
            cached = self._cache[key]
        return Answer(value, cached[1], False)  # type: ignore[arg-type]

    def _fetch(self, key: Hashable, fetch: Callable[[Store], T]) -> T:
        """Run in the pool: the answer becomes the cached one before the caller sees it,
        also when it comes after the caller's deadline (a slow store still gives the next
        page its values)."""
        value = fetch(self.store)
        with self._lock:
            self._cache[key] = (time.monotonic(), self.clock.now_ms(), value)
            self._pending.pop(key, None)
        return value

    def _stale(self, key: Hashable) -> Answer[Any]:
        cached = self._cache.get(key)
        if cached is None:
            return Answer(None, None, True)
        return Answer(cached[2], cached[1], True)
