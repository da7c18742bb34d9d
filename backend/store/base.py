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
    ) -> list[tuple[int, float]]:
        """The mean of `field` over each `every_s` window from `since_ms` (inclusive) to
        `until_ms` (exclusive) of the rows matching the tags `where`: (window start in Unix
        ms, mean), oldest first, windows without a value left out. Aggregated in the store
        (InfluxQL GROUP BY time()), not by reading every row."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
