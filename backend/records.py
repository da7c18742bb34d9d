"""What people record doing on a field: irrigation (mm of water applied), drainage, spraying
(the product), scouting (counts per pest or disease). Stored in the registry; the water
balance, the AWD logic and the season report read them (the advice issue), the dashboard
draws them beside the readings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.schema import RECORD_KINDS, Farm, Field, FieldRecord, utc

MAX_IRRIGATION_MM = 500.0  # more than a paddy holds: a typing slip, not a record
MAX_COUNT = 100_000


class RecordError(ValueError):
    """A record that cannot be right: unknown kind, a missing or impossible amount."""


@dataclass(frozen=True)
class Record:
    id: int
    field_id: int
    kind: str
    time: datetime
    amount_mm: float | None
    product: str | None
    counts: dict[str, int]
    note: str | None
    recorded_by: int | None

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "time": self.time.isoformat()}


def check(
    kind: str,
    amount_mm: float | None,
    product: str | None,
    counts: Mapping[str, int] | None,
) -> None:
    """RecordError unless the record makes sense for its kind."""
    if kind not in RECORD_KINDS:
        raise RecordError(f"kind must be one of {', '.join(RECORD_KINDS)}, got {kind!r}")
    if kind == "irrigation" and (amount_mm is None or not 0 < amount_mm <= MAX_IRRIGATION_MM):
        raise RecordError(f"an irrigation needs amount_mm between 0 and {MAX_IRRIGATION_MM:g}")
    if kind != "irrigation" and amount_mm is not None:
        raise RecordError("amount_mm is for irrigation records")
    if kind == "spraying" and not (product or "").strip():
        raise RecordError("a spraying record names the product")
    if kind == "scouting":
        if not counts:
            raise RecordError('a scouting record has counts, e.g. {"brown_planthopper": 12}')
        for name, n in counts.items():
            if not name or not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_COUNT:
                raise RecordError(f"count {name!r}: a whole number from 0 to {MAX_COUNT}")
    elif counts:
        raise RecordError("counts are for scouting records")


def add_record(
    engine: Engine,
    field_id: int,
    kind: str,
    *,
    time: datetime | None = None,
    amount_mm: float | None = None,
    product: str | None = None,
    counts: Mapping[str, int] | None = None,
    note: str | None = None,
    recorded_by: int | None = None,
) -> Record:
    """Store one record (the caller has checked the field is the recorder's to record on)."""
    check(kind, amount_mm, product, counts)
    now = datetime.now(UTC)
    row = FieldRecord(
        field_id=field_id,
        kind=kind,
        time=time or now,
        amount_mm=amount_mm,
        product=(product or "").strip() or None,
        counts_json=json.dumps(dict(counts), ensure_ascii=False) if counts else None,
        note=note,
        recorded_by=recorded_by,
        created_at=now,
    )
    with Session(engine) as session, session.begin():
        session.add(row)
        session.flush()
        return _record(row)


def records(engine: Engine, field_id: int, since: datetime | None = None) -> list[Record]:
    """The field's records (from `since`), oldest first."""
    query = select(FieldRecord).where(FieldRecord.field_id == field_id)
    if since is not None:
        query = query.where(FieldRecord.time >= since)
    with Session(engine) as session:
        return [_record(r) for r in session.scalars(query.order_by(FieldRecord.time))]


def farm_records(engine: Engine, farm: str, since: datetime) -> dict[str, list[Record]]:
    """The records of every field of `farm` from `since`, by field name, oldest first (what
    the forecasts take as the farmer's inputs)."""
    query = (
        select(Field.name, FieldRecord)
        .join(FieldRecord, FieldRecord.field_id == Field.id)
        .join(Farm, Farm.id == Field.farm_id)
        .where(Farm.name == farm, FieldRecord.time >= since)
        .order_by(FieldRecord.time)
    )
    out: dict[str, list[Record]] = {}
    with Session(engine) as session:
        for name, row in session.execute(query):
            out.setdefault(name, []).append(_record(row))
    return out


def _record(row: FieldRecord) -> Record:
    return Record(
        id=row.id,
        field_id=row.field_id,
        kind=row.kind,
        time=utc(row.time),
        amount_mm=row.amount_mm,
        product=row.product,
        counts=json.loads(row.counts_json) if row.counts_json else {},
        note=row.note,
        recorded_by=row.recorded_by,
    )
