"""InfluxDB through its v1 HTTP API: line protocol to `/write`, InfluxQL to `/query`.

One client for every major version (docs/architecture.md, "Real components"): 1.x natively,
2.x via its v1-compatibility API (user = anything, password = token, DBRP mapping), 3.x Core
natively. httpx rather than `influxdb-client`, which speaks only the 2.x API.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence

import httpx

from backend.config import Endpoint
from backend.store.base import Point, Row, Store, StoreError, line_protocol

GZIP_ABOVE_BYTES = 4096  # small writes are not worth the CPU


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxStore(Store):
    def __init__(self, endpoint: Endpoint, timeout_s: float = 10.0) -> None:
        scheme = "https" if endpoint.scheme == "influxdbs" else "http"
        self.database = endpoint.path
        self.base_url = f"{scheme}://{endpoint.host}:{endpoint.port}"
        self._auth = (
            {"u": endpoint.username or "", "p": endpoint.password or ""}
            if endpoint.password
            else {}
        )
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        self._database_ready = False

    def _ensure_database(self) -> None:
        if not self._database_ready:
            self._query(f"CREATE DATABASE {quote_ident(self.database)}", method="POST")
            self._database_ready = True

    def _query(self, q: str, method: str = "GET") -> list[dict]:
        params = {"q": q, "db": self.database, "epoch": "ms", **self._auth}
        try:
            resp = self._http.request(method, "/query", params=params)
        except httpx.HTTPError as exc:
            raise StoreError(f"InfluxDB at {self.base_url} unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise StoreError(f"InfluxDB query failed ({resp.status_code}): {resp.text.strip()}")
        results = resp.json().get("results", [])
        for result in results:
            if "error" in result:
                raise StoreError(f"InfluxDB query error: {result['error']} in {q!r}")
        return results

    def write(self, points: Sequence[Point]) -> None:
        if points:
            self.write_lines("\n".join(line_protocol(p) for p in points))

    def write_lines(self, text: str) -> None:
        """POST line protocol (ms precision) to /write, gzipped above GZIP_ABOVE_BYTES;
        StoreError unless InfluxDB answers 204. The gateway's spool keeps its uplinks as line
        protocol and hands them over as they are."""
        if not text:
            return
        self._ensure_database()
        body = text.encode()
        headers = {}
        if len(body) > GZIP_ABOVE_BYTES:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params = {"db": self.database, "precision": "ms", **self._auth}
        try:
            resp = self._http.post("/write", params=params, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._database_ready = False  # a restarted server may have lost it
            raise StoreError(f"InfluxDB at {self.base_url} unreachable: {exc}") from exc
        if resp.status_code != 204:
            # 4xx (bad line, type conflict, too large) will fail again; 5xx/429 may not
            permanent = 400 <= resp.status_code < 500 and resp.status_code not in (404, 429)
            if resp.status_code == 404:
                self._database_ready = False
            raise StoreError(
                f"InfluxDB refused the write ({resp.status_code}): {resp.text.strip()}",
                permanent=permanent,
            )

    def _series_rows(self, q: str) -> list[Row]:
        self._ensure_database()
        rows: list[Row] = []
        for result in self._query(q):
            for series in result.get("series", []):
                columns = series["columns"]
                tags = dict(series.get("tags") or {})
                for values in series["values"]:
                    record = dict(zip(columns, values, strict=True))
                    time_ms = int(record.pop("time"))
                    fields = {k: v for k, v in record.items() if v is not None}
                    rows.append(Row(time_ms, dict(tags), fields))
        return rows

    def latest(self, measurement: str, group_by: str) -> list[Row]:
        q = f"SELECT * FROM {quote_ident(measurement)} GROUP BY * ORDER BY time DESC LIMIT 1"
        best: dict[str, Row] = {}
        for row in self._series_rows(q):
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
        conditions = [f"{quote_ident(k)} = {quote_literal(v)}" for k, v in (where or {}).items()]
        if since_ms is not None:
            conditions.append(f"time >= {int(since_ms)}ms")
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        q = f"SELECT * FROM {quote_ident(measurement)}{clause} GROUP BY *"
        return sorted(self._series_rows(q), key=lambda r: r.time_ms)

    def aggregate(
        self,
        measurement: str,
        field: str,
        where: Mapping[str, str],
        since_ms: int,
        until_ms: int,
        every_s: int,
    ) -> list[tuple[int, float]]:
        conditions = [f"{quote_ident(k)} = {quote_literal(v)}" for k, v in where.items()]
        conditions += [f"time >= {int(since_ms)}ms", f"time < {int(until_ms)}ms"]
        q = (
            f"SELECT mean({quote_ident(field)}) AS value FROM {quote_ident(measurement)} "
            f"WHERE {' AND '.join(conditions)} GROUP BY time({int(every_s)}s) fill(none)"
        )
        return [
            (row.time_ms, float(row.fields["value"]))
            for row in self._series_rows(q)
            if isinstance(row.fields.get("value"), int | float)
        ]

    def close(self) -> None:
        self._http.close()
