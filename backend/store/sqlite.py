"""Embedded store on SQLite for a single farm with no InfluxDB installed (`ruong demo` default).

Same `Store` interface and semantics as InfluxDB: a point is identified by measurement, tag set
and time, and a later write of the same point merges its fields (InfluxDB's upsert rule).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from backend.store.base import Point, Row, Store, StoreError, check_aggregate

# the SQL aggregate computing each `fn` of Store.aggregate
_SQL_AGGREGATE = {"mean": "AVG", "sum": "SUM", "min": "MIN", "max": "MAX"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,      -- canonical JSON of the tag set
    time_ms INTEGER NOT NULL,
    fields TEXT NOT NULL,      -- JSON object
    PRIMARY KEY (measurement, series, time_ms)
);
"""


class SqliteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def write(self, points: Sequence[Point]) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for p in points:
                        series = json.dumps(dict(p.tags), sort_keys=True, ensure_ascii=False)
                        old = self._db.execute(
                            "SELECT fields FROM points WHERE measurement=? AND series=? AND time_ms=?",
                            (p.measurement, series, p.time_ms),
                        ).fetchone()
                        merged = {**(json.loads(old[0]) if old else {}), **p.fields}
                        self._db.execute(
                            "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)",
                            (p.measurement, series, p.time_ms, json.dumps(merged)),
                        )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {exc}") from exc

    def _select(self, sql: str, args: Sequence[object]) -> list[Row]:
        with self._lock:
            found = self._db.execute(sql, args).fetchall()
        return [Row(t, json.loads(s), json.loads(f)) for s, t, f in found]

    def latest(self, measurement: str, group_by: str) -> list[Row]:
        rows = self._select(
            "SELECT series, MAX(time_ms), fields FROM points WHERE measurement=? GROUP BY series",
            (measurement,),
        )
        best: dict[str, Row] = {}
        for row in rows:
            key = row.tags.get(group_by, "")
            if key not in best or row.time_ms > best[key].time_ms:
                best[key] = row
        return sorted(best.values(), key=lambda r: r.tags.get(group_by, ""))

    def rows(
        self,
        measurement: str,
        where: Mapping[str, str] | None = None,
        since_ms: int | None = None,
    ) -> list[Row]:
        rows = self._select(
            "SELECT series, time_ms, fields FROM points WHERE measurement=? AND time_ms>=? "
            "ORDER BY time_ms",
            (measurement, since_ms if since_ms is not None else -(2**62)),
        )
        wanted = dict(where or {})
        return [r for r in rows if all(r.tags.get(k) == v for k, v in wanted.items())]

    def aggregate(
        self,
        measurement: str,
        field: str,
        where: Mapping[str, str],
        since_ms: int,
        until_ms: int,
        every_s: int,
        fn: str = "mean",
    ) -> list[tuple[int, float]]:
        function = _SQL_AGGREGATE[check_aggregate(fn)]
        # windows aligned on the epoch, as InfluxDB's GROUP BY time() aligns them
        width = int(every_s) * 1000
        conditions = "".join(" AND json_extract(series, ?) = ?" for _ in where)
        args: list[object] = [width, width, f"$.{field}", measurement, since_ms, until_ms]
        for key, value in where.items():
            args += [f"$.{key}", value]
        sql = (
            f"SELECT (time_ms / ?) * ? AS window, {function}(json_extract(fields, ?)) AS value "
            "FROM points WHERE measurement = ? AND time_ms >= ? AND time_ms < ?"
            f"{conditions} GROUP BY window HAVING value IS NOT NULL ORDER BY window"
        )
        with self._lock:
            found = self._db.execute(sql, args).fetchall()
        return [(int(window), float(value)) for window, value in found]

    def ensure_downsampling(self) -> list[str]:
        """Nothing to create: the embedded store aggregates its raw rows in SQL every time. It
        holds one farm's few nodes (the demo's, a lone farm's), not the hundreds of fields
        whose year of raw rows makes InfluxDB want an hourly series."""
        return []

    def backfill_downsampled(self, since_ms: int, until_ms: int) -> int:
        """Nothing to backfill: there is no downsampled series (see ensure_downsampling)."""
        return 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
