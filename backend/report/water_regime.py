"""A paddy field's water regime over one season, from its water-level series: the drainage
periods, the IPCC 2019 Tier 1 water-regime class and its scaling factor SFw, the AWD dry-downs,
the re-floods, and how much of the season the readings cover.

Place in the data path: the season report (issue 17) reads a field's `water_level` readings of
the season from the store and calls :func:`water_regime` (pure); `backend.report.methane` turns the
class into CH4 (IPCC 2019 Tier 1) against the continuously flooded baseline.

Sources
-------
- IPCC (2019). *2019 Refinement to the 2006 IPCC Guidelines for National Greenhouse Gas
  Inventories*, Vol. 4, Ch. 5 (Cropland), section 5.5 (Rice cultivation), Table 5.12 (default
  CH4 scaling factors for the water regime during the cultivation period, relative to
  continuously flooded fields; irrigated, disaggregated case) and its footnotes:
  continuously flooded fields have standing water throughout the season and may only dry out
  for harvest (end-season drainage); single drainage period: one drainage at any growth stage
  in addition to the end-season drainage; multiple drainage periods: more than one, in
  addition to the end-season drainage, alternate wetting and drying (AWD) included. SFw 1.00
  (0.73-1.27), 0.71 (0.53-0.94), 0.55 (0.41-0.72): :data:`SFW`.
- IPCC (2006). *2006 IPCC Guidelines*, Vol. 4, Ch. 5, Table 5.12 footnotes: an intermittently
  flooded field has at least one aeration period of more than 3 days (end-season drainage
  excluded): the default :data:`DRAINAGE_MIN_DAYS` (`[report] drainage_min_days`).
- IRRI safe AWD (Bouman, Lampayan and Tuong 2007, *Water management in irrigated rice*; IRRI):
  re-flood when the perched water falls 15 cm below the soil surface
  (`backend.node_health.AWD_REFLOOD_M`): a dry-down that reached it is a full AWD cycle.

Method
------
Levels are m, negative below the soil surface (docs/vocabulary.md, `water_level`). The season
is [transplanting day 00:00, harvest day 00:00) in the series' time zone: `season_days` long,
the `t` of IPCC eq. 5.1.

1. *State of each reading.* Drained when the level is below `-noise_m`, ponded when above
   `+noise_m`, at the surface in between; only drained readings make a drainage, and a
   re-flood needs a ponded reading. The threshold is the soil surface, 0 m, because the Table
   5.12 footnotes define a drainage as a period without flooded conditions; the band of
   `noise_m` (1 cm, 3 to 5 standard deviations of a pressure or ultrasonic level sensor's few
   mm of noise) keeps noise around a saturated surface from making drains and re-floods.
   A saturated soil at the surface is still anaerobic: it counts as not drained.
2. *Time each reading stands for.* A reading speaks for the sample interval after it (the
   series' median interval, or `sample_interval`): that is *observed* time, and
   `coverage` = observed time / season length, the share of the season's expected samples
   present. Between two readings of the same state at most `max_gap` (1 day) apart, the rest of
   the interval is *inferred* to be in that state (`inferred_days`); anything else between
   readings, before the first and after the last, is *missing* (`missing_days`).
   observed + inferred + missing = the season.
3. *Drains* are runs of consecutive drained readings; only a re-flood (a ponded reading) ends
   one, so runs with only readings at the surface between them are one drain. A gap is never
   a drainage: a drain's `days` count only its drained observed and inferred time, so a drain
   seen on both sides of a long gap stays one period (its `end - start` then exceeds its
   `days`), neither two periods nor a longer one; both choices keep the class conservative
   (fewer, shorter drainages). `end` is when the readings last saw the water below the surface
   (the next reading, when it follows within `max_gap`).
4. *End-season drainage.* The Table 5.12 footnotes do not count the drain for harvest. A drain
   is the end-season drainage when the field is not seen ponded again before harvest, or when
   it starts in the last `final_drain_days` (14, the drain phase of `forecasting.awd`) of the
   season; it is returned as `final_drainage` (the last such drain) and counted nowhere else.
5. *Class.* The other drains of at least `drainage_min_days` are `drainage_periods`: none ->
   continuously flooded, one -> single drainage, more -> multiple drainage.
6. `dry_downs_15cm`: drains other than the end-season drainage whose lowest level reached
   -0.15 m, whatever their length; `refloods`: drains ended by a ponded reading;
   `days_flooded`: the observed and inferred time not drained.

A season whose readings never see the field ponded after it drained has its one drain as the
end-season drainage, so it classifies as continuously flooded, the class that claims nothing;
the caller should treat it as a sensor or field problem, not as a result.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np
import pandas as pd

from backend.node_health import AWD_REFLOOD_M

DRAINAGE_MIN_DAYS = 3.0  # days below the surface for a drainage (IPCC 2006 Table 5.12, fn.)
FINAL_DRAIN_DAYS = 14.0  # days before harvest a drain is the end-season one (forecasting.awd)
NOISE_M = 0.01  # m, half-width of the band at the soil surface: neither drained nor ponded
MAX_GAP = pd.Timedelta(days=1)  # longest interval between readings bridged by inference
DEFAULT_SAMPLE_INTERVAL = pd.Timedelta(minutes=15)  # the node's default report interval
SFW_SOURCE = (
    "IPCC 2019 Refinement, Vol. 4, Ch. 5, section 5.5, Table 5.12 (irrigated, disaggregated)"
)

_DAY_S = 86400.0
_EPS_DAYS = 1e-9  # float sums of sample intervals: 5 days of 15-minute steps is exactly 5


class Regime(StrEnum):
    """The irrigated water regimes of IPCC 2019 Table 5.12 (the report's `water_regime`)."""

    CONTINUOUSLY_FLOODED = "continuously_flooded"
    SINGLE_DRAINAGE = "single_drainage"
    MULTIPLE_DRAINAGE = "multiple_drainage"


class ScalingFactor(NamedTuple):
    """A default factor and its error range (low, high), as the IPCC tables give them."""

    value: float
    low: float
    high: float


# SFw by regime, IPCC 2019 Vol. 4 Ch. 5 Table 5.12, irrigated (disaggregated), error ranges
SFW: dict[Regime, ScalingFactor] = {
    Regime.CONTINUOUSLY_FLOODED: ScalingFactor(1.00, 0.73, 1.27),
    Regime.SINGLE_DRAINAGE: ScalingFactor(0.71, 0.53, 0.94),
    Regime.MULTIPLE_DRAINAGE: ScalingFactor(0.55, 0.41, 0.72),
}


class DrainagePeriod(NamedTuple):
    """A span with the water below the soil surface.

    start: first reading below the surface; end: when the readings last saw it there;
    days: observed and inferred time below the surface (days; gaps excluded);
    min_level_m: the lowest level (m, negative below the surface).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    days: float
    min_level_m: float


@dataclass(frozen=True)
class WaterRegime:
    """One field's season water regime (field names are the season report's JSON keys).

    water_regime: the Table 5.12 class; drainage_periods: the drainages that count (end-season
    drainage and short drains excluded); days_flooded: days not drained (water standing or at
    the surface);
    dry_downs_15cm: dry-downs reaching -15 cm (IRRI safe AWD); refloods: drains ended by the
    water seen ponded again; coverage: observed share of the season (0..1); sfw, sfw_range:
    Table 5.12's SFw and its error range; final_drainage: the end-season drainage, if seen;
    inferred_days, missing_days: season time inferred across short gaps, and without readings;
    season_days: transplanting to harvest (days, IPCC eq. 5.1's t).
    """

    water_regime: Regime
    drainage_periods: list[DrainagePeriod]
    days_flooded: float
    dry_downs_15cm: int
    refloods: int
    coverage: float
    sfw: float
    sfw_range: tuple[float, float]
    final_drainage: DrainagePeriod | None
    inferred_days: float
    missing_days: float
    season_days: int


def season_days(transplanted: dt.date, harvested: dt.date) -> int:
    """Days from transplanting to harvest: the cultivation period t of IPCC 2019 eq. 5.1."""
    days = (_as_date(harvested) - _as_date(transplanted)).days
    if days <= 0:
        raise ValueError(f"harvest {harvested} is not after transplanting {transplanted}")
    return days


def classify(drainages: int) -> Regime:
    """The Table 5.12 irrigated class of a season with `drainages` counted drainage periods."""
    if drainages < 0:
        raise ValueError(f"a count of drainages cannot be negative: {drainages}")
    if drainages == 0:
        return Regime.CONTINUOUSLY_FLOODED
    return Regime.SINGLE_DRAINAGE if drainages == 1 else Regime.MULTIPLE_DRAINAGE


def water_regime(
    levels_m: pd.Series,
    transplanted: dt.date,
    harvested: dt.date,
    *,
    drainage_min_days: float = DRAINAGE_MIN_DAYS,
    final_drain_days: float = FINAL_DRAIN_DAYS,
    noise_m: float = NOISE_M,
    max_gap: pd.Timedelta = MAX_GAP,
    sample_interval: pd.Timedelta | None = None,
) -> WaterRegime:
    """The season's water regime from the paddy water-level series (method: module docstring).

    levels_m: water level (m, negative below the soil surface), indexed by the tz-aware time
      the sensor sampled; any interval, gaps allowed; NaN readings and readings outside the
      season are ignored, a duplicated time keeps its last reading.
    transplanted, harvested: the season's dates (local to the series' time zone).
    drainage_min_days: shortest drainage that counts (days; `[report] drainage_min_days`).
    final_drain_days: a drain starting this many days or fewer before harvest is the
      end-season drainage (days).
    noise_m: half-width of the band around the soil surface that is neither drained nor
      ponded (m).
    max_gap: longest interval between two readings of the same state inferred to be in it.
    sample_interval: the series' sampling interval; None: the median interval of the
      readings (15 minutes when there are fewer than two).
    """
    index = levels_m.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("levels_m needs a tz-aware DatetimeIndex (the sample times)")
    if drainage_min_days < 0 or final_drain_days < 0 or noise_m < 0:
        raise ValueError("drainage_min_days, final_drain_days and noise_m must be >= 0")
    days = season_days(transplanted, harvested)
    start = pd.Timestamp(_as_date(transplanted)).tz_localize(index.tz)
    end = pd.Timestamp(_as_date(harvested)).tz_localize(index.tz)
    season_s = days * _DAY_S

    clean = levels_m.dropna()
    clean = clean[~clean.index.duplicated(keep="last")].sort_index()
    clean = clean[(clean.index >= start) & (clean.index < end)]
    sfw = SFW[Regime.CONTINUOUSLY_FLOODED]
    if clean.empty:
        return WaterRegime(
            water_regime=Regime.CONTINUOUSLY_FLOODED,
            drainage_periods=[],
            days_flooded=0.0,
            dry_downs_15cm=0,
            refloods=0,
            coverage=0.0,
            sfw=sfw.value,
            sfw_range=(sfw.low, sfw.high),
            final_drainage=None,
            inferred_days=0.0,
            missing_days=float(days),
            season_days=days,
        )

    level = clean.to_numpy(float)
    times = pd.DatetimeIndex(clean.index)
    t_s = (times - start).total_seconds().to_numpy(dtype=np.float64)
    dt_s = np.append(t_s[1:], season_s) - t_s  # to the next reading (the last: to harvest)
    nominal_s = _nominal_interval_s(t_s, sample_interval)
    gap_s = max(pd.Timedelta(max_gap).total_seconds(), nominal_s)
    drained, ponded = level < -noise_m, level > noise_m
    same_next = np.append(drained[1:] == drained[:-1], False)
    observed_s = np.minimum(dt_s, nominal_s)
    counted_s = np.where(same_next & (dt_s <= gap_s), dt_s, observed_s)  # observed + inferred

    periods: list[DrainagePeriod] = []
    final: DrainagePeriod | None = None
    dry_downs = refloods = 0
    final_from_s = season_s - final_drain_days * _DAY_S
    drains = _drains(drained, ponded)
    for k, runs in enumerate(drains):
        (a, _), (_, b) = runs[0], runs[-1]
        drain = DrainagePeriod(
            start=times[a],
            end=times[b - 1] + pd.Timedelta(seconds=float(counted_s[b - 1])),
            days=sum(float(counted_s[i:j].sum()) for i, j in runs) / _DAY_S,
            min_level_m=min(float(level[i:j].min()) for i, j in runs),
        )
        reflooded = k < len(drains) - 1 or bool(ponded[b:].any())
        refloods += int(reflooded)
        if not reflooded or t_s[a] >= final_from_s:
            final = drain
            continue
        dry_downs += int(drain.min_level_m <= AWD_REFLOOD_M)
        if drain.days + _EPS_DAYS >= drainage_min_days:
            periods.append(drain)

    regime = classify(len(periods))
    sfw = SFW[regime]
    observed = float(observed_s.sum())
    counted = float(counted_s.sum())
    return WaterRegime(
        water_regime=regime,
        drainage_periods=periods,
        days_flooded=float(counted_s[~drained].sum()) / _DAY_S,
        dry_downs_15cm=dry_downs,
        refloods=refloods,
        coverage=min(observed / season_s, 1.0),
        sfw=sfw.value,
        sfw_range=(sfw.low, sfw.high),
        final_drainage=final,
        inferred_days=(counted - observed) / _DAY_S,
        missing_days=(season_s - counted) / _DAY_S,
        season_days=days,
    )


def _as_date(day: dt.date) -> dt.date:
    """A date from a date or a datetime/Timestamp (its own calendar day)."""
    return day.date() if isinstance(day, dt.datetime) else day


def _nominal_interval_s(t_s: np.ndarray, sample_interval: pd.Timedelta | None) -> float:
    """The sampling interval (s): given, or the median of the readings' positive intervals."""
    if sample_interval is not None:
        seconds = pd.Timedelta(sample_interval).total_seconds()
        if seconds <= 0:
            raise ValueError(f"sample_interval must be positive: {sample_interval}")
        return seconds
    steps = np.diff(t_s)
    steps = steps[steps > 0]
    if steps.size == 0:
        return DEFAULT_SAMPLE_INTERVAL.total_seconds()
    return float(np.median(steps))


def _drains(drained: np.ndarray, ponded: np.ndarray) -> list[list[tuple[int, int]]]:
    """The drains: each the [a, b) index ranges of its runs of consecutive drained readings,
    runs with no ponded reading between them belonging to the same drain (only a re-flood
    ends a drain; the readings at the surface between them count as not drained)."""
    edges = np.flatnonzero(np.diff(drained.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [drained.size]))
    drains: list[list[tuple[int, int]]] = []
    for a, b in itertools.pairwise(bounds):
        if not drained[a]:
            continue
        if drains and not ponded[drains[-1][-1][1] : a].any():
            drains[-1].append((int(a), int(b)))
        else:
            drains.append([(int(a), int(b))])
    return drains
