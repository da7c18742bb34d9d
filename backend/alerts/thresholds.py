"""The per-field reading thresholds an officer or farmer sets ("tell me when the soil
moisture of this field is below 20 %"): stored in the registry, read by the evaluator
(rules_threshold.py). Values in the quantity's SenML unit (docs/vocabulary.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.quantities import QUANTITIES
from backend.schema import Field, ThresholdRow


class ThresholdError(ValueError):
    """A threshold that cannot be: unknown field or quantity, a value outside its range."""


@dataclass(frozen=True)
class ThresholdInfo:
    id: int
    field_id: int
    quantity: str
    below: bool
    value: float
    level: int

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def add_threshold(
    engine: Engine,
    field_id: int,
    quantity: str,
    below: bool,
    value: float,
    level: int = 2,
    created_by: int | None = None,
) -> ThresholdInfo:
    """A new threshold on a field; ThresholdError when it cannot be right."""
    spec = QUANTITIES.get(quantity)
    if spec is None:
        raise ThresholdError(f"unknown quantity {quantity!r} (known: {', '.join(QUANTITIES)})")
    if not spec.low <= value <= spec.high:
        raise ThresholdError(
            f"{quantity} {value} is outside what a sensor reports ({spec.low}..{spec.high} "
            f"{spec.unit})"
        )
    if level not in (1, 2, 3):
        raise ThresholdError(f"level is 1, 2 or 3, not {level}")
    with Session(engine) as session, session.begin():
        if session.get(Field, field_id) is None:
            raise ThresholdError(f"unknown field {field_id}")
        row = ThresholdRow(
            field_id=field_id,
            quantity=quantity,
            below=below,
            value=value,
            level=level,
            created_by=created_by,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return ThresholdInfo(row.id, field_id, quantity, below, value, level)


def thresholds(engine: Engine, field_id: int | None = None) -> list[ThresholdInfo]:
    query = select(ThresholdRow).order_by(ThresholdRow.id)
    if field_id is not None:
        query = query.where(ThresholdRow.field_id == field_id)
    with Session(engine) as session:
        return [
            ThresholdInfo(r.id, r.field_id, r.quantity, r.below, r.value, r.level)
            for r in session.scalars(query)
        ]
