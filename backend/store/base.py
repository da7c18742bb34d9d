"""The store interface and the point model shared by every store (docs/architecture.md,
"Store schema").

Measurements: `readings` (tags farm, field, node; one field per SenML quantity),
`node_status` (battery, rssi, firmware, dropped counts), `forecasts` (tags field, kind, model).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

FieldValue = float | int | bool | str

# what `Store.aggregate` computes over each window
AGGREGATES = ("mean", "sum", "min", "max")


class StoreError(RuntimeError):
    """The store refused or could not take a write or answer a query.

    `permanent` means the same request will never succeed (the store rejected the data itself,
    e.g. an InfluxDB 400); otherwise retrying later may (the store is down or overloaded).
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Point:
    """One row of a measurement at `time_ms` (Unix milliseconds, when the sensor sampled)."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ms: int


@dataclass
class Row:
    """A point read back: tags, time (Unix ms) and the fields present at that time."""

    time_ms: int
    tags: dict[str, str]
    fields: dict[str, FieldValue] = field(default_factory=dict)


def check_aggregate(fn: str) -> str:
    """`fn` when it is one of AGGREGATES; ValueError naming them otherwise."""
    if fn not in AGGREGATES:
        raise ValueError(f"aggregate fn must be one of {', '.join(AGGREGATES)}, not {fn!r}")
    return fn


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StoreError(f"line protocol cannot carry a non-finite float ({value})")
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line_protocol(point: Point) -> str:
    """Encode one point as InfluxDB line protocol with millisecond precision."""
    if not point.fields:
        raise StoreError(f"point {point.measurement} at {point.time_ms} has no fields")
    head = point.measurement.replace(",", r"\,").replace(" ", r"\ ")
    tags = "".join(
        f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(point.tags.items()) if v
    )
    fields = ",".join(f"{_escape_key(k)}={_field_value(v)}" for k, v in point.fields.items())
    return f"{head}{tags} {fields} {point.time_ms}"


class Store(ABC):
    """What the rest of Ruộng needs from a time-series store."""

    @abstractmethod
    def write(self, points: Sequence[Point]) -> None:
        """Store all points durably or raise StoreError (then none may be assumed stored)."""

    @abstractmethod
    def latest(self, measurement: str, group_by: str) -> list[Row]:
        """The most recent row of `measurement` for each value of the tag `group_by`."""

    @abstractmethod
    def rows(
        self,
        measurement: str,
        where: Mapping[str, str] | None = None,
        since_ms: int | None = None,
    ) -> list[Row]:
        """Rows of `measurement`, oldest first, filtered by exact tag values and start time."""

    @abstractmethod
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
        """`fn` ("mean", "sum", "min" or "max"; ValueError otherwise) of `field` over each
        `every_s` window (seconds; aligned on the epoch) from `since_ms` (inclusive) to
        `until_ms` (exclusive, Unix ms) of the rows matching the tags `where`: (window start in
        Unix ms, value in the field's unit), oldest first, windows without a value left out.
        Aggregated in the store (InfluxQL GROUP BY time(), SQL GROUP BY window), not by reading
        every row."""

    def ensure_downsampling(self) -> list[str]:
        """Create what the store needs to answer long aggregates from downsampled series, where
        missing (InfluxDB: backend/store/downsample.py); idempotent. Returns what it created or
        replaced, for the operator; [] when all was there. StoreError when the store does not
        answer. A store that aggregates its raw rows has nothing to create."""
        return []

    def backfill_downsampled(self, since_ms: int, until_ms: int) -> int:
        """Downsample the raw rows of [since_ms, until_ms) (Unix ms) that were written before
        the store downsampled them as they came (history, or while that was off): whole hours,
        from the one holding `since_ms` to the last one ended before `until_ms` and now.
        Returns the number of downsampled points written (0 for a store that has none)."""
        return 0

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
