"""dashboard/reads.py: a read answers within its deadline, else from the last answer marked
stale; a late answer still fills the cache; pages asking at once share one query."""

from __future__ import annotations

import threading
import time

from backend.store import StoreError
from dashboard.reads import Reads


class Gate:
    """A fetch that answers `value` when the test opens the gate (a stalled store until then),
    counting how often it was asked."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0
        self.value = 1

    def __call__(self, _store: object) -> int:
        self.calls += 1
        self.open.wait(5)
        return self.value


def test_fresh_then_stale_from_the_cache_then_back() -> None:
    reads = Reads(store=None, deadline_s=0.2, fresh_s=0.0, pause_s=0.3)  # type: ignore[arg-type]
    # (a cached answer exists before the store stalls: the short deadline applies)
    gate = Gate()
    gate.open.set()
    first = reads.get("k", gate)
    assert (first.value, first.stale) == (1, False) and first.at_ms is not None
    gate.open.clear()
    gate.value = 2
    started = time.monotonic()
    stalled = reads.get("k", gate)
    assert time.monotonic() - started < 0.5  # the deadline, not the store's silence
    assert (stalled.value, stalled.stale, stalled.at_ms) == (1, True, first.at_ms)
    assert reads.get("other", gate).stale  # paused: no second query while the store stalls
    gate.open.set()  # the stalled query answers late: its value is kept
    time.sleep(0.4)
    assert (reads.get("k", lambda s: 3).value, gate.calls) == (3, 2)


def test_with_nothing_cached_a_read_waits_longer_for_a_slow_store() -> None:
    reads = Reads(store=None, deadline_s=0.05, first_deadline_s=2.0)  # type: ignore[arg-type]
    gate = Gate()
    threading.Timer(0.3, gate.open.set).start()  # slower than deadline_s, within the first
    answer = reads.get("k", gate)
    assert (answer.value, answer.stale) == (1, False)


def test_a_late_answer_fills_the_cache_for_the_next_page() -> None:
    reads = Reads(
        store=None,  # type: ignore[arg-type]
        deadline_s=0.1,
        first_deadline_s=0.1,
        fresh_s=10.0,
        pause_s=0.0,
    )
    gate = Gate()
    assert reads.get("k", gate).value is None  # nothing cached yet, and too slow
    gate.open.set()
    time.sleep(0.1)
    answer = reads.get("k", gate)
    assert (answer.value, answer.stale, gate.calls) == (1, False, 1)


def test_pages_asking_at_once_share_one_query_and_errors_are_stale() -> None:
    reads = Reads(store=None, deadline_s=2.0, fresh_s=0.0, pause_s=0.0)  # type: ignore[arg-type]
    gate = Gate()
    answers: list[object] = []
    threads = [
        threading.Thread(target=lambda: answers.append(reads.get("k", gate).value))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    gate.open.set()
    for thread in threads:
        thread.join()
    assert (answers, gate.calls) == ([1, 1, 1], 1)

    def down(_store: object) -> int:
        raise StoreError("InfluxDB unreachable")

    failed = reads.get("k", down)
    assert (failed.value, failed.stale) == (1, True)
