"""InfluxDB through its v1 HTTP API: line protocol to `/write`, InfluxQL to `/query`.

One client for every major version (docs/architecture.md, "Real components"): 1.x natively,
2.x via its v1-compatibility API (user = anything, password = token, DBRP mapping), 3.x Core
natively. httpx rather than `influxdb-client`, which speaks only the 2.x API.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from backend.config import Endpoint
from backend.store import downsample as ds
from backend.store.base import Point, Row, Store, StoreError, check_aggregate, line_protocol
from backend.store.downsample import quote_ident, quote_literal

GZIP_ABOVE_BYTES = 4096  # small writes are not worth the CPU


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

    def _query(
        self, q: str, method: str = "GET", check: bool = True, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        """The results of the statements in `q` (`;`-separated: one round trip), one per
        statement; StoreError when one has an error, unless not `check`. `timeout_s` replaces
        the client's timeout for this request."""
        params = {"q": q, "db": self.database, "epoch": "ms", **self._auth}
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s
        try:
            resp = self._http.request(method, "/query", params=params, timeout=timeout)
        except httpx.HTTPError as exc:
            raise StoreError(f"InfluxDB at {self.base_url} unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise StoreError(f"InfluxDB query failed ({resp.status_code}): {resp.text.strip()}")
        results: list[dict[str, Any]] = resp.json().get("results", [])
        for result in results if check else ():
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
        return [row for result in self._query(q) for row in _result_rows(result)]

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
        fn: str = "mean",
    ) -> list[tuple[int, float]]:
        """See Store.aggregate. Windows of whole hours over a range reaching back more than
        two days (downsample.RESAMPLE_FOR_S) read the hourly series (`ruong_1h`) for the
        hours it covers and the raw measurement for the rest (the last two days, hours after
        the CQ's last run, history never backfilled); the hourly series keeps sum, count, min
        and max per hour, so the answer equals the raw aggregate: exactly for min and max, to
        float rounding for sum and mean (backend/store/downsample.py)."""
        check_aggregate(fn)
        series = ds.series_for(measurement, field)
        candidate = ds.hourly_candidate(since_ms, until_ms, every_s, int(time.time() * 1000))
        covered = (
            self._hourly_coverage(series, field, where, candidate)
            if series is not None and candidate is not None
            else None
        )
        if series is None or covered is None:
            columns = f"{fn}({quote_ident(field)}) AS value"
            q = ds.windowed(quote_ident(measurement), columns, where, (since_ms, until_ms), every_s)
            return [
                (row.time_ms, float(row.fields["value"]))
                for row in self._series_rows(q)
                if isinstance(row.fields.get("value"), int | float)
            ]
        hourly = ds.part_columns(field, fn, hourly=True)
        raw = ds.part_columns(field, fn, hourly=False)
        statements = [ds.windowed(ds.hourly_measurement(series), hourly, where, covered, every_s)]
        statements += [
            ds.windowed(quote_ident(measurement), raw, where, span, every_s)
            for span in ds.raw_spans(since_ms, until_ms, covered)
        ]
        self._ensure_database()
        pieces = [
            [(row.time_ms, _numbers(row.fields)) for row in _result_rows(result)]
            for result in self._query("; ".join(statements))
        ]
        return ds.combine(fn, pieces)

    def _hourly_coverage(
        self,
        series: ds.Downsampled,
        field: str,
        where: Mapping[str, str],
        candidate: tuple[int, int],
    ) -> tuple[int, int] | None:
        """The hours of `candidate` the hourly series covers for these tags (None: none, or
        downsampling was never set up here), in one round trip."""
        count = quote_ident(ds.hourly_field(field, "count"))
        tags = [f"{quote_ident(k)} = {quote_literal(v)}" for k, v in where.items()]
        conditions = " AND ".join([*tags, ds.time_range(*candidate)])
        source = f"{ds.hourly_measurement(series)} WHERE {conditions}"
        self._ensure_database()
        results = self._query(
            f"SHOW RETENTION POLICIES ON {quote_ident(self.database)}; "
            f"SELECT first({count}) FROM {source}; SELECT last({count}) FROM {source}",
            check=False,
        )
        if len(results) != 3 or ds.RETENTION_POLICY not in _first_column(results[0]):
            return None  # `ruong db upgrade` never ran here, or not InfluxDB 1.x
        for result in results[1:]:
            if "error" in result:
                raise StoreError(f"InfluxDB query error: {result['error']}")
        first, last = (_result_rows(r) for r in results[1:])
        return ds.covered_span(
            candidate, first[0].time_ms if first else None, last[0].time_ms if last else None
        )

    def ensure_downsampling(self) -> list[str]:
        """Create the database, the retention policy `ruong_1h` and a continuous query per
        downsampled measurement where missing; a CQ whose fields are not this version's (a
        quantity added since) is dropped and created again. An existing RP is left as it is:
        an operator may have changed its duration. Idempotent, and safe when two processes
        (gateways starting together) race to create the same CQ. A permanent StoreError on
        InfluxDB 2.x and 3.x, which have no CQs (their aggregates read the raw rows)."""
        version = self._server_version()
        if version and version.lstrip("v").split(".")[0] != "1":
            raise StoreError(
                f"InfluxDB {version} has no continuous queries (1.x only): aggregates read "
                "the raw rows",
                permanent=True,
            )
        self._ensure_database()
        done: list[str] = []
        if ds.RETENTION_POLICY not in self._retention_policies():
            self._query(ds.create_retention_policy(self.database), method="POST")
            done.append(f"retention policy {ds.RETENTION_POLICY}")
        existing = self._continuous_queries()
        for series in ds.SERIES:
            stored = existing.get(series.target)
            if stored is not None and ds.continuous_query_is_current(stored, series):
                continue
            if stored is not None:
                self._query(ds.drop_continuous_query(series, self.database), method="POST")
            try:
                self._query(ds.create_continuous_query(series, self.database), method="POST")
            except StoreError:
                # another process created it since we looked: fine if it is this version's
                now = self._continuous_queries().get(series.target)
                if now is None or not ds.continuous_query_is_current(now, series):
                    raise
                continue
            replaced = " (replaced: its fields changed)" if stored is not None else ""
            done.append(f"continuous query {series.target}{replaced}")
        return done

    def backfill_downsampled(self, since_ms: int, until_ms: int) -> int:
        """Run each CQ's SELECT ... INTO over [since_ms, until_ms), a day at a time (see
        Store.backfill_downsampled); the retention policy must exist (ensure_downsampling).
        Its time is measured by bench/year_of_data.py."""
        self._ensure_database()
        written = 0
        for span in ds.backfill_spans(since_ms, until_ms, int(time.time() * 1000)):
            for series in ds.SERIES:
                q = ds.select_into(series, self.database, span)
                for result in self._query(q, "POST", timeout_s=ds.BACKFILL_TIMEOUT_S):
                    for row in _result_rows(result):
                        written += int(row.fields.get("written", 0))
        return written

    def _server_version(self) -> str:
        """What /ping says the server is ("1.8.10", "v2.7.4"; "" when it does not say)."""
        try:
            resp = self._http.get("/ping")
        except httpx.HTTPError as exc:
            raise StoreError(f"InfluxDB at {self.base_url} unreachable: {exc}") from exc
        return resp.headers.get("X-Influxdb-Version", "")

    def _retention_policies(self) -> set[str]:
        q = f"SHOW RETENTION POLICIES ON {quote_ident(self.database)}"
        return _first_column(self._query(q)[0])

    def _continuous_queries(self) -> dict[str, str]:
        """name -> query text of this database's CQs."""
        return {
            values[0]: values[1]
            for result in self._query("SHOW CONTINUOUS QUERIES")
            for series in result.get("series", [])
            if series.get("name") == self.database
            for values in series.get("values") or []
        }

    def close(self) -> None:
        self._http.close()


def _result_rows(result: Mapping[str, Any]) -> list[Row]:
    """The rows of one statement's result in /query's JSON (`epoch=ms`)."""
    rows: list[Row] = []
    for series in result.get("series") or []:
        columns = series["columns"]
        tags = dict(series.get("tags") or {})
        for values in series["values"]:
            record = dict(zip(columns, values, strict=True))
            time_ms = int(record.pop("time"))
            fields = {k: v for k, v in record.items() if v is not None}
            rows.append(Row(time_ms, dict(tags), fields))
    return rows


def _first_column(result: Mapping[str, Any]) -> set[str]:
    """The first column's values of a SHOW statement's result (names)."""
    return {
        str(values[0])
        for series in result.get("series") or []
        for values in series.get("values") or []
    }


def _numbers(fields: Mapping[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in fields.items() if isinstance(v, int | float)}
