"""Alerts from a field's forecasts: the advice `ruong forecast run` wrote that says act now or
soon (issue 14, "Sources"; what each kind means: forecasting/advice.py).

Input: the newest `forecasts` row of each kind of one field (`Row`: tags farm, field, kind,
model; fields `level`, `msg` and the kind's numbers, ruong/forecast_job.py `advice_point`)
and the field's `Subject`. One observation per kind with a rule, each evaluation:

| rule (= kind) | active when | level | words | expires |
| --- | --- | --- | --- | --- |
| `pest_<rule>` | level >= 2 | the forecast's, 2-3 | `alert.pest` around the advice | when the forecast is too old to be a verdict |
| `irrigation` | level 3 (irrigate today) or `days_ahead` <= 0 (overdue), not when put off for forecast rain (`postponed_for_rain_mm`) | 3 | the advice itself | the end of the forecast's local day |
| `awd` | level 3 with action `irrigate` (re-flood now) | 3 | the advice itself | the end of the forecast's local day |

No verdict (None) for a forecast older than `STALE_AFTER_S`, one without a level (not enough
data: the advice is "check the sensor", not "nothing to do") and one without a catalogue
message (written before the catalogue; such points age out within that same period): stale or
missing data must not resolve an alert, only a newer forecast saying otherwise does.

The irrigation and AWD deadlines are the end of the day the forecast was made for, not of
today: after midnight, before the morning's run, the newest forecast is still yesterday's, and
its "irrigate today" is past acting on (the lifecycle expires the alert, and refuses to start
one on a passed deadline) rather than a new "today" with a fresh deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from backend.alerts.model import Observation, Subject
from backend.alerts.rules import SITE_TIMEZONE, alert_of, end_of_day, local, now_ms
from backend.i18n import Message
from backend.store.base import FieldValue, Row

# forecasts are made every morning: one missed run, plus half a day for a late one
STALE_AFTER_S = 36 * 3600.0
_DIRECT = frozenset({"irrigation", "awd"})  # kinds whose rule id is the kind itself


def forecast_rule(kind: str) -> str | None:
    """The rule id of the forecasts of `kind`; None for kinds that are advice only (`et0`,
    `soil_vwc`: numbers to read, nothing to act on by a deadline)."""
    return kind if kind in _DIRECT or kind.startswith("pest_") else None


def stored_message(value: FieldValue | None) -> Message | None:
    """The catalogue message of a forecast's `msg` field (JSON of `Message.as_json`), or
    None when it has none or it is not such JSON."""
    if not isinstance(value, str):
        return None
    try:
        data = json.loads(value)
        return Message.from_json(data) if isinstance(data, dict) and "id" in data else None
    except (ValueError, TypeError, AttributeError):  # JSONDecodeError is a ValueError
        return None


def _level(value: FieldValue | None) -> int | None:
    """A forecast level 0-3, or None (absent: not enough data; anything else: not a level)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value == int(value) and 0 <= value <= 3 else None


def _number(value: FieldValue | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def forecast_observation(
    row: Row, subject: Subject, now: datetime, timezone: str = SITE_TIMEZONE
) -> Observation | None:
    """What the forecast `row` of the field `subject` says at `now` (aware); None: no verdict.

    timezone: the site's (`[site] timezone`), which cuts the days of the deadlines.
    ValueError for a kind with no rule (see :func:`forecast_rule`)."""
    kind = row.tags.get("kind", "")
    rule = forecast_rule(kind)
    if rule is None:
        raise ValueError(f"forecasts of kind {kind!r} make no alerts")
    alert = alert_of(rule, subject)
    if (now_ms(now) - row.time_ms) / 1000 > STALE_AFTER_S:
        return None
    level, advice = _level(row.fields.get("level")), stored_message(row.fields.get("msg"))
    if level is None or advice is None:
        return None
    if kind in _DIRECT:
        if kind == "irrigation":  # due today, or overdue, unless put off for forecast rain
            days_ahead = _number(row.fields.get("days_ahead"))
            put_off = "postponed_for_rain_mm" in row.fields
            act = not put_off and (level == 3 or (days_ahead is not None and days_ahead <= 0))
        else:  # re-flood now (the AWD advice's level 3 is only ever `irrigate`; said anyway)
            act = level == 3 and row.fields.get("action") == "irrigate"
        if not act:
            return Observation(alert, False)
        deadline = end_of_day(local(row.time_ms, timezone), timezone)
        return Observation(alert, True, 3, advice, deadline)
    if level < 2:
        return Observation(alert, False)
    # the pest advice says what favours the pest, not what to do: the alert's sentence adds
    # the level and the scouting a farmer does before any spraying. Its deadline is the
    # forecast's own horizon: tomorrow's run renews it; when the runs stop (the season
    # ended) the alert expires instead of staying silently firing
    words = Message("alert.pest", {"level": level, "advice": advice})
    return Observation(
        alert, True, level, words, local(row.time_ms + round(STALE_AFTER_S * 1000), timezone)
    )


def forecast_observations(
    rows: Iterable[Row], subject: Subject, now: datetime, timezone: str = SITE_TIMEZONE
) -> list[Observation]:
    """The observations of the field `subject` from its forecast `rows`: the newest row of
    each kind with a rule, by kind; kinds without a verdict are left out (no verdict)."""
    newest: dict[str, Row] = {}
    for row in rows:
        kind = row.tags.get("kind", "")
        if forecast_rule(kind) is not None and (
            kind not in newest or row.time_ms > newest[kind].time_ms
        ):
            newest[kind] = row
    made = (forecast_observation(newest[k], subject, now, timezone) for k in sorted(newest))
    return [o for o in made if o is not None]
