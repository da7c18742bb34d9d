"""Alerts from the reading thresholds an officer or farmer sets on a field ("tell me when the
soil moisture of field 12 falls below 20 %"; issue 14, "Sources").

Identity: rule id `threshold:<the threshold's id>`, subject the field, version the
threshold's own. The subject stays the field so that routing (the field's owner, its commune's
officers) and inhibition (the field's nodes going silent mute it) apply unchanged, and the
threshold's id in the rule id keeps one alert per (threshold, field): two thresholds on one
field and quantity (a level-2 "below 20 %" and a level-3 "below 12 %") are two alerts, and
a threshold whose value is edited (its version raised) continues its alert rather than
resolving it and firing a new one (the fingerprint leaves the version out, model.py).

Active while the field's newest reading of the quantity is strictly beyond the value; no
verdict without a reading, or with one older than `READING_STALE_S`. No expiry: it holds
until the reading comes back or the threshold is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.alerts.model import LEVELS, Observation, Subject
from backend.alerts.rules import SITE_TIMEZONE, THRESHOLD_PREFIX, alert_of, now_ms, when
from backend.i18n import QUANTITY_LABELS, Message
from backend.quantities import QUANTITIES

# 6 h: longer than any node's sleep at the default duty cycle (an hourly node on a critical
# battery reports every 4 h), so that a slowed node still has a verdict; a silent node's
# fields are muted by its offline alert well before (inhibit.py), this is the backstop for
# a reading nothing else vouches for (a node moved to another field)
READING_STALE_S = 6 * 3600.0
# the quantities a threshold can be on: those with a name in the catalogue (i18n.py)
_LABELS = {msgid.removeprefix("quantity."): msgid for msgid in QUANTITY_LABELS}
# how a unit is written after a number (the SenML symbols are for machines)
_SHOWN_UNIT = {"Cel": "°C", "%RH": "%", "/": "(0-1)"}
# decimals a value is shown with: the water level in m and the leaf wetness 0-1 need two,
# pressure in Pa and signal strength in dBm none, the rest (%, °C, mm, V) one
_DECIMALS = {"water_level": 2, "leaf_wet": 2, "air_pressure": 0, "rssi": 0}


@dataclass(frozen=True)
class Threshold:
    """A threshold set on a field.

    id: its registry id (the rule id `threshold:<id>`); field_id: the field's id (its alerts'
    subject id); quantity: a SenML name (docs/vocabulary.md); below: alert when the reading
    falls below `value` (else rises above it); value: in the quantity's SenML unit (% for
    soil_vwc, m for water_level, ...); level: 1-3 while beyond; version: raised on each edit.
    """

    id: int
    field_id: str
    quantity: str
    below: bool
    value: float
    level: int = 2
    version: int = 1

    def __post_init__(self) -> None:
        if self.quantity not in _LABELS or self.quantity not in QUANTITIES:
            raise ValueError(f"no threshold on {self.quantity!r}; quantities: {sorted(_LABELS)}")
        if self.level not in LEVELS:
            raise ValueError(f"a threshold's level is one of {LEVELS}, not {self.level!r}")
        if self.version < 1:
            raise ValueError(f"a threshold's version starts at 1, not {self.version!r}")

    @property
    def rule(self) -> str:
        """Its rule id: `threshold:17`."""
        return f"{THRESHOLD_PREFIX}{self.id}"


def _value(quantity: str, value: float) -> Message:
    """A value with its unit, with the decimals the quantity needs."""
    unit = QUANTITIES[quantity].unit
    params: dict[str, float | str] = {"value": value, "unit": _SHOWN_UNIT.get(unit, unit)}
    decimals = _DECIMALS.get(quantity, 1)
    if decimals == 0:
        return Message("alert.value_0", params)
    if decimals == 2:
        return Message("alert.value_2", params)
    return Message("alert.value_1", params)


def threshold_observation(
    threshold: Threshold,
    subject: Subject,
    reading: tuple[int, float] | None,
    now: datetime,
    timezone: str = SITE_TIMEZONE,
) -> Observation | None:
    """What `threshold` says of the field `subject` given its newest `reading` of the
    quantity, (Unix ms, value in the SenML unit); None: no reading, or a stale one."""
    if subject.id != threshold.field_id:
        raise ValueError(
            f"threshold {threshold.id} is on field {threshold.field_id}, not {subject.ref}"
        )
    alert = alert_of(threshold.rule, subject, threshold.version)
    if reading is None or (now_ms(now) - reading[0]) / 1000 > READING_STALE_S:
        return None
    time_ms, value = reading
    beyond = value < threshold.value if threshold.below else value > threshold.value
    if not beyond:
        return Observation(alert, False)
    params: dict[str, str | Message] = {
        "quantity": Message(_LABELS[threshold.quantity]),
        "value": _value(threshold.quantity, value),
        "limit": _value(threshold.quantity, threshold.value),
        **when(time_ms, timezone),
    }
    if threshold.below:
        return Observation(alert, True, threshold.level, Message("alert.threshold_below", params))
    return Observation(alert, True, threshold.level, Message("alert.threshold_above", params))
