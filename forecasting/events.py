"""What the farmer did and did not record: irrigation and drainage read from the sensors.

Place in the data path: `ruong forecast run` gives :func:`detect` a field's hourly readings
(`forecasting.field_readings.hourly_readings`: hourly means, rain summed per hour, NaN where
an hour has no reading) and the times of the farmer's own records; each event it returns is
written as a `forecasts` point of kind `event` and offered to the farmer to confirm, so a
confirmed event enters the water balance like a record (issue 16, "What the farmer did").
Pure: pandas in, dataclasses out.

Rules (assumed values are the keyword defaults of :func:`detect`)
-----------------------------------------------------------------
All rules compare hourly means, never single readings: the level sensor's +-3 mm and the
probe's +-0.5 % are then far below the thresholds (tests/forecasting/test_events.py runs a
month of noise through them). A window is judged only when every hour in it has a reading
(and a rain total): a gap is never an event, because a value before a gap and one after it
may differ for reasons the node never saw (a probe pulled out and pushed back in).

- Paddy irrigation: the water level (m, negative below the soil surface) rises by at least
  `rise_m` (0.03 m) within at most `within_h` (6) hours by more than the rain in those hours
  explains. Rain is converted to level by :func:`level_change_m`: ponded, 1 mm of rain is
  1 mm of water over the field; below the surface, the rain fills the drainable pores first,
  so the perched water table rises by rain / Sy, where Sy is the drainable porosity
  (specific yield) of the puddled soil, taken as `drainable_porosity` = 0.10. That is an
  assumption: Johnson (1967, USGS Water-Supply Paper 1662-D) gives average specific yields
  of about 0.02 for clay and 0.18 for silt; the paddies of Ninh Bình are silty clays and
  clay loams. A low Sy lets rain explain more, so an irrigation during heavy rain can be
  missed but rain is not offered as an irrigation. The rain counted is that of every hour in
  the window, both end hours included, because an hourly mean carries part of the rain of
  its own hour.
- Paddy drainage: the level falls by at least `fall_m` (0.05 m) within at most `drain_h`
  (12) hours beyond what evapotranspiration and percolation take (`loss_mm_day`, 10 mm/day,
  "about 1 cm a day"; converted to level the same way, so below the surface the normal fall
  is ten times faster and a farmer's drainage is in practice only seen while water stands
  above the surface, which is the only time it can be let out). Rain in the window is not
  added back, so a drainage during rain may be missed, never invented.
- Upland irrigation: the probe's soil_vwc (%) jumps by at least `jump_pct` (4 %) within at
  most `within_h` hours while rain, in the window and the `dry_before_h` (2) hours before it,
  sums to less than `dry_mm` (1 mm). Its depth is estimated by FAO-56 eq. 86 backwards: a
  change of d theta (m3 m-3) over a root zone Zr (m) is 1000 d theta Zr mm, i.e. jump (%) x
  10 x Zr mm (`zr_m` given by the caller; no depth without it).

Finding the events: every window of 1..`within_h` hours (`drain_h` for drainage) is scored
(the change beyond what rain or the normal losses explain). The best-scoring window at or
above the threshold is taken first and cut to its core, the shortest window inside it that
keeps all but 2 x `STEP_M` (`STEP_PCT`) of its score, so a window that won by being wide
loses its flat, noisy ends; the core then grows over the steps next to it that still rise (a
step is the change from one hourly mean to the next; rising: its own score is at least
`STEP_M` / `STEP_PCT`, or two steps together score twice that). Its steps are then no
longer available to another window, and so on. Events of the same kind at most `MERGE_H`
(2) hours apart without a gap between them are one event, so a slow fill over more than
`within_h` hours is one event. An event's `start` is the first hour whose mean had clearly
moved, `end` the first hour at the new level, each within about an hour of what the farmer
did (an hourly mean moves only a little in the hour a slow change begins). An event that
touches the last hour of the readings may still be going on: a later call can report it
again with a later `end` and the same or a nearby `start`.

A farmer's record of the same kind within `match_h` (6) hours of an event (from 6 h before
its start to 6 h after its end) means the event is already known and is not offered again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from forecasting.et0 import InputError

EventKind = Literal["irrigation", "drainage"]
FIELD_KINDS = ("paddy", "upland")

RISE_M = 0.03  # "several cm" of rise (issue 16)
FALL_M = 0.05
WITHIN_H = 6
DRAIN_H = 12
JUMP_PCT = 4.0
DRAINABLE_POROSITY = 0.10  # Sy of puddled silty-clay paddy soil: an assumption (module notes)
LOSS_MM_DAY = 10.0  # ET + percolation of a ponded paddy, "about 1 cm a day"
DRY_MM = 1.0
DRY_BEFORE_H = 2
MATCH_H = 6.0
STEP_M = 0.005  # ~2.4 sd of the change between two hourly means of a +-3 mm sensor
STEP_PCT = 1.0
MERGE_H = 2  # hours of pause within one event


@dataclass(frozen=True)
class Event:
    """Something the sensors say the farmer did.

    kind: "irrigation" or "drainage"; start, end: tz-aware hours (module notes).
    rise_m: the paddy water level's change from start to end (m; negative for a drainage),
      None on an upland field. jump_pct: the soil_vwc jump (% VWC) on an upland field, else
      None. amount_mm: water added (irrigation) or let out (drainage) beyond rain and the
      normal losses (mm over the field), None when it cannot be estimated (no Zr given).
    """

    kind: EventKind
    start: pd.Timestamp
    end: pd.Timestamp
    rise_m: float | None = None
    jump_pct: float | None = None
    amount_mm: float | None = None


def level_change_m(
    level_m: np.ndarray | float, water_mm: np.ndarray | float, sy: float
) -> np.ndarray:
    """How far `water_mm` of water (negative: taken away) moves a paddy level of `level_m`.

    level_m: water level (m, negative below the soil surface); water_mm: water added (mm);
    sy: drainable porosity below the surface (-). Ponded water moves 1 mm per mm; below the
    surface 1/sy mm per mm (the module notes); a change that crosses the surface is split.
    Returns the level change (m).
    """
    level = np.asarray(level_m, float)
    water = np.asarray(water_mm, float) / 1000.0  # m of water
    # water between the level and the surface (m of water; positive when below it)
    to_surface = np.where(level < 0.0, -level * sy, 0.0)
    rising = np.where(
        water <= to_surface,
        water / sy,  # stays below the surface
        np.where(level < 0.0, -level, 0.0) + (water - to_surface),
    )
    ponded = np.maximum(level, 0.0)  # m of standing water that can go at 1:1
    falling = np.where(-water <= ponded, water, -ponded + (water + ponded) / sy)
    return np.where(water >= 0.0, rising, falling)


def water_between_mm(level_from_m: float, level_to_m: float, sy: float) -> float:
    """Water (mm) that moves a paddy level from `level_from_m` to `level_to_m` (m; negative
    below the surface): 1 mm per mm above the surface, sy mm per mm below it (the inverse of
    :func:`level_change_m`). Negative when the level falls."""
    lo, hi = sorted((level_from_m, level_to_m))
    above = max(hi, 0.0) - max(lo, 0.0)
    below = min(hi, 0.0) - min(lo, 0.0)
    mm = 1000.0 * (above + sy * below)
    return mm if level_to_m >= level_from_m else -mm


def _window_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of values[lo..hi] inclusive for each pair (NaN if any is NaN; lo >= 0)."""
    finite = np.isfinite(values)
    total = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    missing = np.concatenate([[0], np.cumsum(~finite)])
    sums = total[hi + 1] - total[lo]
    return np.where(missing[hi + 1] - missing[lo] > 0, np.nan, sums)


def _complete(values: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Whether every hour i..j (inclusive) has a value."""
    return np.isfinite(_window_sums(values, i, j))


def _scores(
    n: int, width_h: int, score: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """(n, width_h + 1) matrix: [i, lag] = score(i, i + lag) of the window from hour row i to
    row i + lag (NaN where it cannot be judged or runs past the end; lag 0 unused)."""
    out = np.full((n, width_h + 1), np.nan)
    for lag in range(1, min(width_h, n - 1) + 1):
        i = np.arange(n - lag)
        out[: n - lag, lag] = score(i, i + lag)
    return out


def _core(scores: np.ndarray, a: int, b: int, tol: float) -> tuple[int, int]:
    """The shortest window inside (a, b) that keeps all but `tol` of its score (the best such
    if several): the flat or noisy ends of a window that won by being wide go."""
    keep = scores[a, b - a] - tol
    for lag in range(1, b - a + 1):
        part = scores[a : b - lag + 1, lag]
        ok = np.isfinite(part) & (part >= keep)
        if ok.any():
            k = int(np.argmax(np.where(ok, part, -np.inf)))
            return a + k, a + k + lag
    return a, b


def _select(scores: np.ndarray, threshold: float, step: float) -> list[tuple[int, int]]:
    """Events of one rule as (hour before, first hour at the new level) row pairs (module
    notes): windows scoring `threshold` or more, best first, none sharing an hourly step (the
    change from hour k to k + 1) with one taken before; each cut to its core (:func:`_core`,
    within 2 x `step`) and grown over the rising steps next to it (own score `step` or more,
    or two steps that score 2 x `step` together); events at most MERGE_H apart merged."""
    n = len(scores)
    finite = np.isfinite(scores)
    rising = finite[:, 1] & (np.where(finite[:, 1], scores[:, 1], 0.0) >= step)
    # two steps that rose by 2 x `step` together: a slow fill whose hourly steps dip into the
    # noise now and then still grows over them
    if scores.shape[1] > 2:
        rising2 = finite[:, 2] & (np.where(finite[:, 2], scores[:, 2], 0.0) >= 2.0 * step)
    else:
        rising2 = np.zeros(n, bool)
    cand = np.argwhere(finite & (np.where(finite, scores, -np.inf) >= threshold))
    order = np.argsort(-scores[cand[:, 0], cand[:, 1]], kind="stable")
    used = np.zeros(n, bool)  # used[k]: the step from hour k to k + 1 belongs to an event
    chosen = []
    for a, lag in cand[order]:
        b = a + lag
        if used[a:b].any():
            continue
        a, b = _core(scores, int(a), int(b), 2.0 * step)
        while a > 0 and not used[a - 1]:
            if rising[a - 1]:
                a -= 1
            elif a > 1 and rising2[a - 2] and not used[a - 2]:
                a -= 2
            else:
                break
        while b < n - 1 and not used[b]:
            if rising[b]:
                b += 1
            elif b < n - 2 and rising2[b] and not used[b + 1]:
                b += 2
            else:
                break
        used[a:b] = True
        chosen.append((a, b))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(chosen):
        # a pause of an hour or two without a gap in the readings is the same event
        if merged and a - merged[-1][1] <= MERGE_H and finite[merged[-1][1] : a + 1, 0].all():
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _as_time(t: pd.Timestamp, tz: object) -> pd.Timestamp:
    t = pd.Timestamp(t)
    if t.tz is None and tz is not None:
        return t.tz_localize(cast(str, tz))
    if t.tz is not None and tz is not None:
        return t.tz_convert(cast(str, tz))
    return t


def _regular(hourly: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(hourly.index, pd.DatetimeIndex):
        raise InputError("hourly readings need a DatetimeIndex (hourly_readings makes one)")
    frame = hourly.sort_index()
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.asfreq("h") if len(frame) else frame


def detect(
    hourly: pd.DataFrame,
    kind: str,
    zr_m: float | None,
    recorded: Sequence[tuple[str, pd.Timestamp]],
    since: pd.Timestamp,
    *,
    rise_m: float = RISE_M,
    within_h: int = WITHIN_H,
    fall_m: float = FALL_M,
    drain_h: int = DRAIN_H,
    jump_pct: float = JUMP_PCT,
    drainable_porosity: float = DRAINABLE_POROSITY,
    loss_mm_day: float = LOSS_MM_DAY,
    dry_mm: float = DRY_MM,
    dry_before_h: int = DRY_BEFORE_H,
    match_h: float = MATCH_H,
) -> list[Event]:
    """Irrigation and drainage events the farmer has not recorded, oldest first.

    hourly: a field's hourly readings as `forecasting.field_readings.hourly_readings` makes
      them (one row per hour; water_level in m, soil_vwc in %, rain in mm per hour; NaN where
      the hour has no reading). Include `within_h` + `dry_before_h` hours before `since`, so
      an event just after it has its baseline.
    kind: "paddy" (water_level: irrigation and drainage) or "upland" (soil_vwc: irrigation).
    zr_m: the root-zone depth (m) of an upland crop, for amount_mm; None gives no amount.
    recorded: (kind, time) of each of the farmer's records ("irrigation", "drainage", ...);
      an event within `match_h` hours of a record of its kind is not returned.
    since: only events that start at or after it (a naive time is in the readings' zone).
    The other parameters are the module notes' thresholds (m, h, % VWC, mm, mm/day).

    Raises InputError for another kind or a frame without the series the kind needs. With no
    `rain` column nothing is returned: rain cannot then be ruled out.
    """
    if kind not in FIELD_KINDS:
        raise InputError(f"kind must be one of {FIELD_KINDS}, got {kind!r}")
    column = "water_level" if kind == "paddy" else "soil_vwc"
    if column not in hourly.columns:
        raise InputError(f"a {kind} field's events need hourly {column!r} readings")
    frame = _regular(hourly)
    if "rain" not in frame.columns or len(frame) < 2:
        return []
    index = cast(pd.DatetimeIndex, frame.index)
    values = frame[column].to_numpy(float)
    rain = frame["rain"].to_numpy(float)
    n = len(frame)
    found: list[tuple[EventKind, int, int]] = []
    if kind == "paddy":
        sy = drainable_porosity

        def rise(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            explained = level_change_m(values[i], _window_sums(rain, i, j), sy)
            return np.where(_complete(values, i, j), values[j] - values[i] - explained, np.nan)

        def fall(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            normal = level_change_m(values[i], -loss_mm_day * (j - i) / 24.0, sy)  # <= 0
            # the fall beyond the normal one; rain is not added back (module notes)
            return np.where(_complete(values, i, j), values[i] - values[j] + normal, np.nan)

        rules: tuple[tuple[EventKind, Callable[..., np.ndarray], int, float], ...] = (
            ("irrigation", rise, within_h, rise_m),
            ("drainage", fall, drain_h, fall_m),
        )
        for event_kind, score, width, threshold in rules:
            windows = _select(_scores(n, width, score), threshold, STEP_M)
            found += [(event_kind, a, b) for a, b in windows]
    else:

        def jump(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            # NaN rain (unknown) is not dry, nor is a window too near the start to look back
            wet = _window_sums(rain, np.maximum(i - dry_before_h, 0), j)
            wet = np.where(i >= dry_before_h, wet, np.nan)
            judged = _complete(values, i, j) & (wet < dry_mm)
            return np.where(judged, values[j] - values[i], np.nan)

        windows = _select(_scores(n, within_h, jump), jump_pct, STEP_PCT)
        found += [("irrigation", a, b) for a, b in windows]

    since_t = _as_time(since, index.tz)
    records = [(k, _as_time(t, index.tz)) for k, t in recorded]
    near = pd.Timedelta(hours=match_h)
    events = []
    for event_kind, a, b in sorted(found, key=lambda e: e[1]):
        # start: the first hour whose mean had moved; end: the first hour at the new level
        start, end = index[a + 1], index[b]
        if start < since_t:
            continue
        if any(k == event_kind and start - near <= t <= end + near for k, t in records):
            continue
        change = float(values[b] - values[a])
        if kind == "upland":
            amount = None if zr_m is None else round(float(change * 10.0 * zr_m), 1)  # eq. 86
            events.append(
                Event(event_kind, start, end, jump_pct=round(change, 2), amount_mm=amount)
            )
            continue
        water = water_between_mm(values[a], values[b], drainable_porosity)
        if event_kind == "irrigation":
            beyond = water - float(rain[a : b + 1].sum())
        else:
            beyond = -water - loss_mm_day * (b - a) / 24.0
        events.append(
            Event(
                event_kind,
                start,
                end,
                rise_m=round(change, 4),
                amount_mm=round(float(max(beyond, 0.0)), 1),
            )
        )
    return events
