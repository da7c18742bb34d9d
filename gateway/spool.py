"""The gateway's durable spool: accepted uplinks live here between the ack and InfluxDB's 204.

One SQLite file in WAL mode with `synchronous=FULL`, so a committed uplink survives a process
kill and a power cut. Three tables:
- `uplinks`: the points of each accepted uplink as InfluxDB line protocol (ms precision), encoded
  once at spool time so the writer only joins text; released only once the store has them;
- `seen`: the (node, counter) pairs inside each node's replay window: a counter seen before is a
  duplicate (acknowledged again, stored once), one older than the window is a replay (refused);
- `dead`: points the store refused as invalid (an InfluxDB 4xx), kept with the error, never
  silently dropped.

All methods are blocking and must be called from one thread (the gateway gives the spool a
single-thread executor); SQLite serialises the rest.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from backend.store import Point
from backend.store.base import line_protocol
from gateway.lineproto import parse_lines

REPLAY_WINDOW = 4096  # counters; a node's outbox holds far fewer unacknowledged uplinks
# PRAGMA user_version: 0 = `points` columns hold JSON (before line protocol), 1 = line protocol
SPOOL_FORMAT = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uplinks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    counter INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    points TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    node TEXT NOT NULL,
    counter INTEGER NOT NULL,
    PRIMARY KEY (node, counter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY,
    node TEXT NOT NULL,
    counter INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    points TEXT NOT NULL,
    error TEXT NOT NULL,
    dead_ms INTEGER NOT NULL
);
"""

STORED, DUPLICATE, REPLAY = "stored", "duplicate", "replay"


def encode_points(points: Sequence[Point]) -> str:
    """Points as line protocol, one line each, joined by "\\n"."""
    return "\n".join(line_protocol(p) for p in points)


@dataclass(frozen=True)
class Entry:
    """One verified uplink, ready to spool: its points, or the line protocol already encoded."""

    node: str
    counter: int
    points: Sequence[Point] = ()
    lines: str = ""

    def text(self) -> str:
        """The line protocol stored for this uplink."""
        return self.lines or encode_points(self.points)


@dataclass(frozen=True)
class Spooled:
    """An uplink read back from the spool for writing; `lines` is its line protocol."""

    id: int
    node: str
    counter: int
    received_ms: int
    lines: str

    @cached_property
    def points(self) -> list[Point]:
        """The points, for a store that takes `Point`s rather than line protocol."""
        return parse_lines(self.lines)

    @property
    def point_count(self) -> int:
        return self.lines.count("\n") + 1


def _from_json(text: str) -> str:
    """A spool row of format 0 (points as JSON) as line protocol."""
    return encode_points([Point(m, tags, fields, t) for m, tags, fields, t in json.loads(text)])


class Spool:
    def __init__(self, path: str | Path, replay_window: int = REPLAY_WINDOW) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self.replay_window = replay_window
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # durable before we acknowledge
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._max: dict[str, int] = dict(
            self._db.execute("SELECT node, MAX(counter) FROM seen GROUP BY node").fetchall()
        )

    def _migrate(self) -> None:
        """Bring a spool written by an older gateway to SPOOL_FORMAT, in one transaction."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SPOOL_FORMAT:
            return
        with self._transaction():
            for table in ("uplinks", "dead"):
                rows = self._db.execute(f"SELECT id, points FROM {table}").fetchall()
                self._db.executemany(
                    f"UPDATE {table} SET points = ? WHERE id = ?",
                    [(_from_json(text), row_id) for row_id, text in rows],
                )
            self._db.execute(f"PRAGMA user_version = {SPOOL_FORMAT}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One explicit transaction: all of it or none, one fsync. The connection is in
        autocommit mode, where `with connection` alone would commit statement by statement."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def commit(self, entries: list[Entry], now_ms: int | None = None) -> list[str]:
        """Spool `entries` in one transaction; return STORED, DUPLICATE or REPLAY for each."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        outcomes: list[str] = []
        new_max = dict(self._max)
        rows: list[tuple[str, int, int, str]] = []  # inserted in arrival order, so ids are too
        with self._transaction():
            for e in entries:
                top = new_max.get(e.node, 0)
                if e.counter <= top - self.replay_window:
                    outcomes.append(REPLAY)
                    continue
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO seen (node, counter) VALUES (?, ?)", (e.node, e.counter)
                ).rowcount
                if not inserted:
                    outcomes.append(DUPLICATE)
                    continue
                rows.append((e.node, e.counter, now_ms, e.text()))
                outcomes.append(STORED)
                if e.counter > top:
                    new_max[e.node] = e.counter
                    if e.counter // 1024 != top // 1024:  # prune now and then, not every commit
                        self._db.execute(
                            "DELETE FROM seen WHERE node = ? AND counter <= ?",
                            (e.node, e.counter - self.replay_window),
                        )
            self._db.executemany(
                "INSERT INTO uplinks (node, counter, received_ms, points) VALUES (?, ?, ?, ?)",
                rows,
            )
        self._max = new_max
        return outcomes

    def peek(self, max_points: int) -> list[Spooled]:
        """The oldest spooled uplinks, up to about `max_points` points (at least one uplink)."""
        batch: list[Spooled] = []
        total = 0
        rows = self._db.execute(
            "SELECT id, node, counter, received_ms, points FROM uplinks ORDER BY id LIMIT ?",
            (max(1, max_points),),
        )
        for row_id, node, counter, received_ms, text in rows:
            item = Spooled(row_id, node, counter, received_ms, text)
            if batch and total + item.point_count > max_points:
                break
            batch.append(item)
            total += item.point_count
        return batch

    def release(self, ids: list[int]) -> None:
        """Forget uplinks the store has acknowledged."""
        with self._transaction():
            self._db.executemany("DELETE FROM uplinks WHERE id = ?", [(i,) for i in ids])

    def quarantine(self, item: Spooled, error: str, now_ms: int | None = None) -> None:
        """Move an uplink the store refused as invalid to `dead`, with the store's error."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._transaction():
            self._db.execute(
                "INSERT INTO dead (id, node, counter, received_ms, points, error, dead_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    item.id,
                    item.node,
                    item.counter,
                    item.received_ms,
                    item.lines,
                    error,
                    now_ms,
                ),
            )
            self._db.execute("DELETE FROM uplinks WHERE id = ?", (item.id,))

    def depth(self) -> tuple[int, int | None]:
        """(uplinks waiting, receive time of the oldest in Unix ms or None)."""
        count, oldest = self._db.execute(
            "SELECT COUNT(*), MIN(received_ms) FROM uplinks"
        ).fetchone()
        return int(count), oldest

    def dead_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0])

    def used_bytes(self) -> int:
        """Bytes of the database in use (SQLite reuses freed pages, so the file may be larger)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def close(self) -> None:
        self._db.close()
