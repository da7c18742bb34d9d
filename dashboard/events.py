"""What the sensors saw the farmer do, offered back to them to confirm (issue 16, "What the
farmer did"): `ruong forecast run` writes each irrigation or drainage it detects in a field's
readings (forecasting/events.py) as a `forecasts` point of kind `event`; the field page asks
"Có phải bạn đã bơm nước vào ruộng lúc 14:05? (nước dâng 5 cm)" for each event of the last
48 h that no record of the same kind within 6 h already accounts for. A confirmed event is
recorded at the event's time (dashboard.api.fields.record_on_field) and so enters the water
balance like any record.

Pure after the read: rows and records in, events out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from backend.i18n import N_, t
from backend.records import Record
from backend.store import Store
from backend.store.base import Row
from dashboard.ui import moment

EVENT_KIND = "event"  # the `kind` tag of the detected events' points
EVENT_MODEL = "ruong.events.v1"
EVENTS = ("irrigation", "drainage")  # what an event may say was done (a record's kind)
OFFER_S = 48 * 3600  # an event older than two days is not asked about any more
MATCH_S = 6 * 3600  # a record of the same kind this close to the event already tells of it
QUESTIONS = {
    "irrigation": N_("event.irrigation.question"),
    "drainage": N_("event.drainage.question"),
}


@dataclass(frozen=True)
class DetectedEvent:
    """One irrigation or drainage seen in the readings.

    kind: "irrigation" or "drainage" (the kind of record it would make); at_ms: when it
    happened (Unix ms); amount_mm: the irrigation depth estimated from it (mm, None when not
    estimated); rise_cm: how much the water level changed (cm; negative or positive for a
    drainage, shown as its size).
    """

    kind: str
    at_ms: int
    amount_mm: float | None = None
    rise_cm: float | None = None

    @property
    def key(self) -> str:
        """The event's identity on the page (its kind and time; a rewrite of the same event
        by a later run keeps both)."""
        return f"{self.kind}-{self.at_ms}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def event_of(row: Row) -> DetectedEvent | None:
    """The event of a `forecasts` row of kind `event`; None for a row that is not one (an
    unknown event name, no time)."""
    if row.tags.get("kind") != EVENT_KIND:
        return None
    kind, at_ms = row.fields.get("event"), _number(row.fields.get("at_ms"))
    if kind not in EVENTS or at_ms is None:
        return None
    return DetectedEvent(
        str(kind),
        int(at_ms),
        _number(row.fields.get("amount_mm")),
        _number(row.fields.get("rise_cm")),
    )


def recent_events(rows: Iterable[Row], now_ms: int) -> list[DetectedEvent]:
    """The events of `rows` that happened in the OFFER_S before `now_ms` (the site's now),
    one per key (the newest row's estimate wins: a later run saw more of it), oldest first."""
    newest: dict[str, tuple[int, DetectedEvent]] = {}
    for row in rows:
        event = event_of(row)
        if event is None or not 0 <= now_ms - event.at_ms <= OFFER_S * 1000:
            continue
        seen = newest.get(event.key)
        if seen is None or row.time_ms >= seen[0]:
            newest[event.key] = (row.time_ms, event)
    return sorted((e for _, e in newest.values()), key=lambda e: e.at_ms)


def unrecorded(events: Iterable[DetectedEvent], done: Sequence[Record]) -> list[DetectedEvent]:
    """The events no record of the same kind within MATCH_S accounts for."""
    return [
        e
        for e in events
        if not any(
            r.kind == e.kind and abs(r.time.timestamp() * 1000 - e.at_ms) <= MATCH_S * 1000
            for r in done
        )
    ]


def read_events(store: Store, where: dict[str, str], now_ms: int) -> list[DetectedEvent]:
    """The field's (`where`: farm and field tags) events of the last OFFER_S. A point is
    written when an event is detected, after it happened: reading points of the last OFFER_S
    finds every event of it."""
    rows = store.rows("forecasts", {**where, "kind": EVENT_KIND}, since_ms=now_ms - OFFER_S * 1000)
    return recent_events(rows, now_ms)


def question(event: DetectedEvent, now_ms: int, lang: str) -> str:
    """'Có phải bạn đã bơm nước vào ruộng lúc 14:05? (nước dâng 5 cm)'."""
    asked = t(QUESTIONS[event.kind], lang, when=moment(event.at_ms, now_ms, lang))
    if event.rise_cm is not None and round(abs(event.rise_cm)) >= 1:
        change = N_("event.rise") if event.kind == "irrigation" else N_("event.fall")
        return f"{asked} {t(change, lang, cm=abs(event.rise_cm))}"
    if event.kind == "irrigation" and event.amount_mm is not None and event.amount_mm >= 1:
        estimate = t("event.amount", lang, mm=event.amount_mm)
        return f"{asked} {estimate}"
    return asked
