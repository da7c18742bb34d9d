"""Downsampling: the hourly series InfluxDB keeps beside the raw measurements, and how a
windowed aggregate is split between the two (the pure part; backend/store/influx.py runs it).

Each raw measurement that carries quantities (`readings`, `node_status`; backend/quantities.py)
has an hourly twin in the retention policy `ruong_1h`: `readings_1h`, `node_status_1h`, with
the raw tags (farm, field, node) and, per quantity `q`:

- `q`: the hourly value a person or Grafana reads: the mean, or for an amount per sample
  (`rain`: mm since the previous sample) the sum, since rain in an hour is the sum of its
  samples and a mean of them depends on how often the node samples;
- `q_sum` (not for amounts, whose `q` is already the sum), `q_count`, `q_min`, `q_max`: the
  parts an aggregate over longer windows is built from, so that it equals the raw aggregate
  (below).

A continuous query per measurement (`readings_1h`, `node_status_1h`) writes the hourly points
as hours pass; `backfill` runs the same SELECT ... INTO over a past range (CQs only cover new
intervals: history written before the CQ existed, or while CQs were off, needs it).

Why counts and not only means: a mean over a day from 24 hourly means is right only when every
hour has as many samples, and nodes miss uplinks, drop samples (a full outbox) and change
their interval. With sum and count per hour, mean = sum of sums / sum of counts is the raw
mean to float rounding whatever the sampling; min and max of the hourly min and max are
exact, and the sum of hourly sums is the raw sum to float rounding (the addition order
differs).

Times are Unix milliseconds throughout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from backend.quantities import HEALTH, QUANTITIES
from backend.store.base import check_aggregate

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

RETENTION_POLICY = "ruong_1h"
# INF: the hourly series is the long record (season against season, year against year) and
# small (about 9 000 points a year per node and measurement); if the raw measurements are ever
# given a finite retention, the hourly series is what remains, so it must not expire with them.
RP_DURATION = "INF"
# hourly points are few: one shard group a year instead of InfluxDB's default week for INF
RP_SHARD_DURATION = "52w"

# The CQ recomputes the last two days every hour (RESAMPLE FOR), so uplinks that arrive late
# (a node's outbox after an outage, the gateway's spool replaying after InfluxDB was down) still
# reach the hourly series within that time. Readers take those two days from the raw rows,
# which may still change the hours the CQ will recompute.
RESAMPLE_FOR_S = 2 * 86_400
# One SELECT ... INTO per day of raw data: InfluxDB 1.x takes about as long per day whatever
# the chunk (measured, bench/year_of_data.py: 100 fields of 15-minute data, about 0.6 s a day
# on 2 cores, growing with the number of hourly fields written), and a day keeps each request
# short as the fields grow.
BACKFILL_CHUNK_MS = DAY_MS
# per backfill request: a day of a few thousand fields, on a slow disk
BACKFILL_TIMEOUT_S = 300.0

# quantities that are amounts per sample (docs/vocabulary.md: rain is "rain since the previous
# sample", in mm): their hourly value is the sum, not the mean
AMOUNTS = frozenset({"rain"})

# the parts of an aggregate, and which parts each `fn` needs
PARTS = ("sum", "count", "min", "max")
NEEDS: dict[str, tuple[str, ...]] = {
    "mean": ("sum", "count"),
    "sum": ("sum",),
    "min": ("min",),
    "max": ("max",),
}
# InfluxQL function giving a part from raw values, and from the hourly parts
RAW_REDUCER = {"sum": "sum", "count": "count", "min": "min", "max": "max"}
HOURLY_REDUCER = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (measurement, tag key, field, RP, database)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    """An InfluxQL string literal in single quotes (a tag value)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Downsampled:
    """A raw measurement and its hourly twin in RETENTION_POLICY (also the CQ's name)."""

    source: str
    target: str
    quantities: tuple[str, ...]


def _series(measurement: str) -> Downsampled:
    # what the sensors measure; the health counts (dropped, faults) are sent only when not
    # zero, so an hourly mean of them would mean nothing
    names = tuple(
        q.name for q in QUANTITIES.values() if q.measurement == measurement and q.name not in HEALTH
    )
    return Downsampled(measurement, f"{measurement}_1h", names)


SERIES: tuple[Downsampled, ...] = (_series("readings"), _series("node_status"))


def series_for(measurement: str, field: str) -> Downsampled | None:
    """The downsampled series holding `field` of `measurement`, or None (read the raw rows)."""
    for series in SERIES:
        if series.source == measurement and field in series.quantities:
            return series
    return None


def hourly_field(quantity: str, part: str) -> str:
    """The field of the hourly series holding `part` ("sum", "count", "min", "max") of
    `quantity`: an amount's sum is the quantity's own field."""
    if part == "sum" and quantity in AMOUNTS:
        return quantity
    return f"{quantity}_{part}"


def _hourly_columns(quantity: str) -> list[tuple[str, str]]:
    """(InfluxQL function, alias) for each hourly field of `quantity`, the readable value first."""
    columns = [("sum" if quantity in AMOUNTS else "mean", quantity)]
    columns += [
        (RAW_REDUCER[part], hourly_field(quantity, part))
        for part in PARTS
        if hourly_field(quantity, part) != quantity
    ]
    return columns


def hourly_aliases(series: Downsampled) -> frozenset[str]:
    """Every field the hourly series `series` has."""
    return frozenset(alias for q in series.quantities for _, alias in _hourly_columns(q))


def time_range(since_ms: int, until_ms: int) -> str:
    """The InfluxQL condition for [since_ms, until_ms)."""
    return f"time >= {int(since_ms)}ms AND time < {int(until_ms)}ms"


def select_into(series: Downsampled, database: str, span: tuple[int, int] | None = None) -> str:
    """The SELECT ... INTO that writes `series`' hourly points: the body of its CQ (no `span`:
    InfluxDB sets the time range of each run) or a backfill of [span[0], span[1]).
    `GROUP BY time(1h), *` keeps the raw tags as tags."""
    columns = ", ".join(
        f"{function}({quote_ident(q)}) AS {quote_ident(alias)}"
        for q in series.quantities
        for function, alias in _hourly_columns(q)
    )
    target = ".".join(quote_ident(n) for n in (database, RETENTION_POLICY, series.target))
    where = f" WHERE {time_range(*span)}" if span is not None else ""
    return (
        f"SELECT {columns} INTO {target} FROM {quote_ident(series.source)}{where} "
        "GROUP BY time(1h), *"
    )


def create_retention_policy(database: str) -> str:
    return (
        f"CREATE RETENTION POLICY {quote_ident(RETENTION_POLICY)} ON {quote_ident(database)} "
        f"DURATION {RP_DURATION} REPLICATION 1 SHARD DURATION {RP_SHARD_DURATION}"
    )


def _resample_clause() -> str:
    return f"RESAMPLE EVERY 1h FOR {RESAMPLE_FOR_S // 86_400}d"


def create_continuous_query(series: Downsampled, database: str) -> str:
    return (
        f"CREATE CONTINUOUS QUERY {quote_ident(series.target)} ON {quote_ident(database)} "
        f"{_resample_clause()} BEGIN {select_into(series, database)} END"
    )


def drop_continuous_query(series: Downsampled, database: str) -> str:
    return f"DROP CONTINUOUS QUERY {quote_ident(series.target)} ON {quote_ident(database)}"


def continuous_query_is_current(stored: str, series: Downsampled) -> bool:
    """Whether a CQ as SHOW CONTINUOUS QUERIES prints it (InfluxDB rewrites the text: quotes
    dropped where not needed, the source's RP filled in) writes the fields and resamples as
    this version's would; not when a quantity was added to backend/quantities.py since."""
    aliases = frozenset(re.findall(r"\bAS\s+\"?(\w+)\"?", stored))
    return aliases == hourly_aliases(series) and _resample_clause() in stored


def backfill_spans(since_ms: int, until_ms: int, now_ms: int) -> list[tuple[int, int]]:
    """The whole hours from the one holding `since_ms` to the last one ended before
    min(`until_ms`, `now_ms`), in BACKFILL_CHUNK_MS pieces. An hour still running is left to
    the CQ: its point would miss the samples to come."""
    start = floor_hour(since_ms)
    end = floor_hour(min(until_ms, now_ms))
    return [(t, min(t + BACKFILL_CHUNK_MS, end)) for t in range(start, end, BACKFILL_CHUNK_MS)]


def floor_hour(t_ms: int) -> int:
    return t_ms // HOUR_MS * HOUR_MS


def ceil_hour(t_ms: int) -> int:
    return -(-t_ms // HOUR_MS) * HOUR_MS


def hourly_candidate(
    since_ms: int, until_ms: int, every_s: int, now_ms: int
) -> tuple[int, int] | None:
    """The whole hours of [since_ms, until_ms) the hourly series may answer, or None.

    Only for windows of whole hours (`every_s` a multiple of 3600: each hourly point then lies
    in one window; windows are aligned on the epoch, as GROUP BY time() aligns them), and only
    for hours older than RESAMPLE_FOR_S, which the CQ has stopped recomputing."""
    if every_s <= 0 or every_s % 3600:
        return None
    start = ceil_hour(since_ms)
    end = min(floor_hour(until_ms), floor_hour(now_ms - RESAMPLE_FOR_S * 1000))
    return (start, end) if start < end else None


def covered_span(
    candidate: tuple[int, int], first_ms: int | None, last_ms: int | None
) -> tuple[int, int] | None:
    """The part of `candidate` the hourly series covers, from its first to its last point in
    it (`first_ms`, `last_ms`: their times, None when it has none): hours after the last one
    (the CQ has not run since, or CQs are off) and before the first one (history written
    before the CQ existed and never backfilled) are read raw. A hole inside, an outage of the
    CQ longer than RESAMPLE_FOR_S, is not seen: `ruong db downsample` fills it."""
    if first_ms is None or last_ms is None:
        return None
    start = max(candidate[0], floor_hour(first_ms))
    end = min(candidate[1], floor_hour(last_ms) + HOUR_MS)
    return (start, end) if start < end else None


def raw_spans(since_ms: int, until_ms: int, covered: tuple[int, int]) -> list[tuple[int, int]]:
    """The parts of [since_ms, until_ms) outside `covered`, which the raw rows answer."""
    spans = [(since_ms, covered[0]), (covered[1], until_ms)]
    return [(a, b) for a, b in spans if a < b]


def part_columns(quantity: str, fn: str, hourly: bool) -> str:
    """The SELECT columns giving the parts `fn` needs of `quantity`, each aliased by its part
    name, from the raw measurement or (`hourly`) from the hourly series."""
    if hourly:
        return ", ".join(
            f"{HOURLY_REDUCER[part]}({quote_ident(hourly_field(quantity, part))}) AS {quote_ident(part)}"
            for part in NEEDS[check_aggregate(fn)]
        )
    return ", ".join(
        f"{RAW_REDUCER[part]}({quote_ident(quantity)}) AS {quote_ident(part)}"
        for part in NEEDS[check_aggregate(fn)]
    )


def windowed(
    measurement: str,
    columns: str,
    where: Mapping[str, str],
    span: tuple[int, int],
    every_s: int,
) -> str:
    """SELECT `columns` FROM `measurement` (quoted already, RP included when it needs one)
    matching the tags `where` over [span) in epoch-aligned `every_s` windows, empty ones left
    out."""
    conditions = [f"{quote_ident(k)} = {quote_literal(v)}" for k, v in where.items()]
    conditions.append(time_range(*span))
    return (
        f"SELECT {columns} FROM {measurement} WHERE {' AND '.join(conditions)} "
        f"GROUP BY time({int(every_s)}s) fill(none)"
    )


def hourly_measurement(series: Downsampled) -> str:
    return f"{quote_ident(RETENTION_POLICY)}.{quote_ident(series.target)}"


Parts = Mapping[str, float]  # part name -> value, of one window


def combine(fn: str, pieces: Iterable[Sequence[tuple[int, Parts]]]) -> list[tuple[int, float]]:
    """`fn` per window from the parts of each piece (the hourly series, the raw rows before and
    after it): (window start, value), oldest first; a window is in the answer when any piece
    has it. Sums and counts add, min and max take the least and greatest."""
    check_aggregate(fn)
    merged: dict[int, dict[str, float]] = {}
    for piece in pieces:
        for window, parts in piece:
            into = merged.setdefault(window, {})
            for part, value in parts.items():
                if part not in into:
                    into[part] = float(value)
                elif part == "min":
                    into[part] = min(into[part], value)
                elif part == "max":
                    into[part] = max(into[part], value)
                else:
                    into[part] += value
    out: list[tuple[int, float]] = []
    for window in sorted(merged):
        parts = merged[window]
        if fn == "mean":
            if parts.get("count"):
                out.append((window, parts["sum"] / parts["count"]))
        elif fn in parts:
            out.append((window, parts[fn]))
    return out
