"""What the dashboard shows, read from the store (pure after the read): the newest forecast of
each kind per field. The node rules (not reporting, battery, faults, the bare re-flood
threshold) are backend/node_health.py, shared with `ruong node list`.

Forecasts: the `forecasts` measurement written by `ruong forecast run`
(forecasting.field_forecast); each carries its `model` tag, which the page shows so every
number can be traced to its equation or model version.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from backend.i18n import Message, render
from backend.store import Store
from backend.store.base import FieldValue, Row

log = logging.getLogger(__name__)

FORECAST_MAX_AGE_S = 36 * 3600  # a forecast older than a day and a half is not shown
# forecast kinds a farmer acts on, in display order (et0 is for officers and researchers)
FORECAST_ORDER = ("irrigation", "awd", "soil_vwc", "pest_")


@dataclass(frozen=True)
class ForecastView:
    """The newest forecast of one kind for a field (see forecasting.advice.Advice).

    message: its words as stored (`msg`: message id and parameters); a point written before
    the catalogue existed has none and carries its two rendered sentences in `legacy`
    (`text_vi`, `text_en`, read-only until those points age out).
    """

    farm: str
    field: str
    kind: str
    model: str
    level: int | None
    message: Message | None
    time_ms: int
    legacy: dict[str, str] = dataclass_field(default_factory=dict)
    # what the advice was computed from and says in numbers (forecasting.advice.Advice.fields)
    values: dict[str, FieldValue] = dataclass_field(default_factory=dict)

    def number(self, key: str) -> float | None:
        """The stored value `key` when it is a number (a missing or text value: None)."""
        value = self.values.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None

    @property
    def reading_ms(self) -> int | None:
        """The sample time (Unix ms) of the newest reading the advice was computed from (its
        `reading_ms` field); None for points written before the forecast job recorded it."""
        value = self.number("reading_ms")
        return int(value) if value is not None and value > 0 else None

    def text(self, lang: str) -> str:
        """The advice in `lang`."""
        if self.message is not None:
            return render(self.message, lang)
        return self.legacy.get(f"text_{lang}") or self.legacy.get("text_vi", "")


def _message(row: Row) -> Message | None:
    """The stored message of a `forecasts` row, or None (an old point, or an unreadable one:
    logged, and shown from its legacy text if it has one)."""
    raw = row.fields.get("msg")
    if not isinstance(raw, str):
        return None
    try:
        return Message.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("forecast %s of %s: unreadable msg %r: %s", row.tags, row.time_ms, raw, exc)
        return None


def _order(kind: str) -> int:
    return next((i for i, k in enumerate(FORECAST_ORDER) if kind.startswith(k)), 99)


def forecast_view(row: Row) -> ForecastView:
    """A `forecasts` row as the pages read it."""
    level = row.fields.get("level")
    return ForecastView(
        farm=row.tags.get("farm", ""),
        field=row.tags.get("field", ""),
        kind=row.tags.get("kind", ""),
        model=row.tags.get("model", ""),
        level=int(level) if isinstance(level, int | float) else None,
        message=_message(row),
        time_ms=row.time_ms,
        legacy={k: str(v) for k, v in row.fields.items() if k in ("text_vi", "text_en")},
        values={k: v for k, v in row.fields.items() if k not in _TEXT_FIELDS},
    )


_TEXT_FIELDS = frozenset({"msg", "text_vi", "text_en", "level"})


def newest_views(rows: list[Row], now_ms: int) -> dict[tuple[str, str], list[ForecastView]]:
    """Per (farm, field), the newest forecast of each kind a farmer acts on, by importance;
    none older than FORECAST_MAX_AGE_S."""
    newest: dict[tuple[str, str, str], ForecastView] = {}
    for row in rows:
        if _order(row.tags.get("kind", "")) == 99:
            continue
        if now_ms - row.time_ms > FORECAST_MAX_AGE_S * 1000:
            continue
        view = forecast_view(row)
        key = (view.farm, view.field, view.kind)
        if key not in newest or view.time_ms >= newest[key].time_ms:
            newest[key] = view
    by_field: dict[tuple[str, str], list[ForecastView]] = {}
    for view in sorted(newest.values(), key=lambda v: (_order(v.kind), -(v.level or 0))):
        by_field.setdefault((view.farm, view.field), []).append(view)
    return by_field


def latest_forecasts(
    store: Store, now_ms: int, where: dict[str, str] | None = None
) -> dict[tuple[str, str], list[ForecastView]]:
    """Per (farm, field), the newest forecast of each kind a farmer acts on, by importance."""
    rows = store.rows("forecasts", where, since_ms=now_ms - FORECAST_MAX_AGE_S * 1000)
    return newest_views(rows, now_ms)
