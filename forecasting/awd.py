"""Rice Alternate Wetting and Drying (IRRI "safe AWD") advice from the paddy water level.

Sources:
- Bouman, B.A.M., Lampayan, R.M., Tuong, T.P. (2007). *Water management in irrigated rice:
  coping with water scarcity.* IRRI, Los Baños (safe AWD: re-flood when the perched water
  falls 15 cm below the surface; keep ponded around flowering).
- Bouman, B.A.M., Barker, R., Humphreys, E., Tuong, T.P. et al. (2007). Rice: feeding the
  billions. In Molden, D. (ed.) *Water for food, water for life*, Earthscan/IWMI, ch. 14.
- Lampayan, R.M., Rejesus, R.M., Singleton, G.R., Bouman, B.A.M. (2015). Adoption and
  economics of alternate wetting and drying water management for irrigated lowland rice.
  Field Crops Research 170: 95-108.
- Yoshida, S. (1981). *Fundamentals of rice crop science.* IRRI (ripening, flowering to
  maturity, takes about 30 days in the tropics, whatever the variety's length).

Place in the data path: the store's `water_level` readings (m, negative below the soil
surface, from a perforated field tube) and the field's days after transplanting ->
:func:`advise` -> a recommendation with a reason code, the numbers, and a short actionable
sentence (a message of the catalogue, backend/locale: `awd.*`).

Rules (days counted from transplanting, day 0; harvest at the season length)
-----------------------------------------------------------------------------
1. Outside 0..season: no advice (OUT_OF_SEASON).
2. Last `drain_days` (14) before harvest: drain and stop irrigating (DRAIN if water stands
   above the surface, else DRAINED).
3. Flowering window, `flowering_halfwidth` (7) days either side of flowering (default:
   harvest - 30 days, Yoshida 1981; pass the observed heading date when known): keep 2-5 cm
   ponded; irrigate to 5 cm when below 2 cm (FLOWERING_FLOOD / FLOWERING_KEEP).
4. The first `awd_start_day` (14) days: no AWD, keep 2-5 cm for establishment and weed
   control (ESTABLISHMENT_FLOOD / ESTABLISHMENT_KEEP).
5. Otherwise AWD: when the level has fallen to -0.15 m or lower, re-flood to about 5 cm
   (REFLOOD); above it, let the field dry (LET_DRY), with the days until -0.15 m estimated
   from the level's linear trend over the last `trend_days` (3) when it is falling (and
   said only up to `ETA_MAX_DAYS`).
A reading older than `max_age` (1 day) before `now` counts as missing (NO_DATA).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from backend.i18n import N_, Message
from backend.node_health import AWD_REFLOOD_M
from forecasting.crops import Crop

RIPENING_DAYS = 30  # flowering to maturity in tropical rice (Yoshida 1981)
# the longest "about N days until -15 cm" the advice tells: a 3-day trend says nothing of
# the weather beyond a month (a dry-down under safe AWD takes about 5-20 days)
ETA_MAX_DAYS = 30


class Phase(StrEnum):
    """Water-management phase of the rice season."""

    ESTABLISHMENT = "establishment"
    AWD = "awd"
    FLOWERING = "flowering"
    DRAIN = "drain"
    OUT_OF_SEASON = "out_of_season"


class Reason(StrEnum):
    """Why the advice says what it says (stable codes for logs, alerts and the API)."""

    REFLOOD = "reflood"
    LET_DRY = "let_dry"
    ESTABLISHMENT_FLOOD = "establishment_flood"
    ESTABLISHMENT_KEEP = "establishment_keep"
    FLOWERING_FLOOD = "flowering_flood"
    FLOWERING_KEEP = "flowering_keep"
    DRAIN = "drain"
    DRAINED = "drained"
    NO_DATA = "no_data"
    OUT_OF_SEASON = "out_of_season"


class Action(StrEnum):
    """What the farmer does today."""

    IRRIGATE = "irrigate"
    HOLD = "hold"  # keep the water as it is: do not irrigate, do not drain
    DRAIN = "drain"
    CHECK_SENSOR = "check_sensor"
    NONE = "none"


@dataclass(frozen=True)
class AwdSchedule:
    """Safe-AWD thresholds and the season's calendar (days after transplanting).

    season_days: transplanting to harvest (days). flowering_day: day of flowering (heading);
    default season_days - 30. Levels in m, negative below the soil surface.
    """

    season_days: int
    flowering_day: int | None = None
    awd_start_day: int = 14
    flowering_halfwidth: int = 7
    drain_days: int = 14
    reflood_level_m: float = AWD_REFLOOD_M
    target_level_m: float = 0.05
    min_ponded_m: float = 0.02
    trend_days: float = 3.0
    max_age: dt.timedelta = dt.timedelta(days=1)

    @classmethod
    def for_crop(cls, crop: Crop, **overrides: object) -> AwdSchedule:
        """A schedule whose season is the crop's FAO-56 season length (Table 11 stages)."""
        return cls(season_days=crop.season_days, **overrides)  # type: ignore[arg-type]

    @property
    def flowering(self) -> int:
        """Flowering day (days after transplanting)."""
        if self.flowering_day is not None:
            return self.flowering_day
        return self.season_days - RIPENING_DAYS


def phase_of_day(day: int, schedule: AwdSchedule) -> Phase:
    """The water-management phase on `day` days after transplanting (rules 1-5 above)."""
    if day < 0 or day > schedule.season_days:
        return Phase.OUT_OF_SEASON
    if day >= schedule.season_days - schedule.drain_days:
        return Phase.DRAIN
    if abs(day - schedule.flowering) <= schedule.flowering_halfwidth:
        return Phase.FLOWERING
    if day < schedule.awd_start_day:
        return Phase.ESTABLISHMENT
    return Phase.AWD


@dataclass(frozen=True)
class AwdAdvice:
    """One day's AWD advice.

    level_m: the latest water level (m, negative below the surface; NaN if none).
    target_m: the level to irrigate to (m), when the action is to irrigate.
    apply_mm: ponded water to add (mm) = target - max(level, 0); the water that refills
      the soil pores above a perched water table below the surface comes on top of it.
    days_to_threshold: days until the level reaches the re-flood threshold at its recent
      rate of fall (None when not falling or not in the AWD phase).
    text: what to do, in the catalogue's words (rendered in the reader's language).
    """

    reason: Reason
    action: Action
    phase: Phase
    day: int
    level_m: float
    target_m: float | None
    apply_mm: float
    days_to_threshold: float | None
    text: Message


def _where(level_m: float) -> Message:
    """The level in words, in whole cm above or below the soil surface."""
    if not np.isfinite(level_m):
        return Message(N_("awd.where.unknown"))
    cm = round(abs(level_m) * 100)
    return Message(N_("awd.where.above") if level_m >= 0 else N_("awd.where.below"), {"cm": cm})


# the sentence of each reason (backend/locale: "awd.<reason>")
_TEXT = {
    Reason.REFLOOD: N_("awd.reflood"),
    Reason.LET_DRY: N_("awd.let_dry"),
    Reason.ESTABLISHMENT_FLOOD: N_("awd.establishment_flood"),
    Reason.ESTABLISHMENT_KEEP: N_("awd.establishment_keep"),
    Reason.FLOWERING_FLOOD: N_("awd.flowering_flood"),
    Reason.FLOWERING_KEEP: N_("awd.flowering_keep"),
    Reason.DRAIN: N_("awd.drain"),
    Reason.DRAINED: N_("awd.drained"),
    Reason.NO_DATA: N_("awd.no_data"),
    Reason.OUT_OF_SEASON: N_("awd.out_of_season"),
}


def _trend_days(levels: pd.Series, schedule: AwdSchedule, level: float) -> float | None:
    """Days until the re-flood level at the linear trend of the last `trend_days` (or None)."""
    end = levels.index[-1]
    recent = levels[levels.index >= end - pd.Timedelta(days=schedule.trend_days)]
    if len(recent) < 2:
        return None
    t_days = (recent.index - recent.index[0]) / pd.Timedelta(days=1)
    if np.ptp(t_days) <= 0:
        return None
    slope = float(np.polyfit(np.asarray(t_days, float), recent.to_numpy(float), 1)[0])  # m/day
    if slope >= 0:
        return None
    return (level - schedule.reflood_level_m) / -slope


def advise(
    levels: pd.Series,
    day: int,
    schedule: AwdSchedule,
    now: pd.Timestamp | dt.datetime | None = None,
) -> AwdAdvice:
    """Safe-AWD advice for today from the paddy water-level series.

    levels: water level (m, negative below the soil surface), indexed by the time the
      sensor sampled; NaN readings are ignored.
    day: days after transplanting today (0 = transplanting day).
    schedule: thresholds and calendar (:class:`AwdSchedule`, e.g. `for_crop(crop)`).
    now: the time the advice is for; a latest reading older than `schedule.max_age`
      before it counts as missing. None: trust the latest reading.
    """
    phase = phase_of_day(day, schedule)
    clean = levels.dropna().sort_index()
    if phase is Phase.OUT_OF_SEASON:
        return _advice(Reason.OUT_OF_SEASON, Action.NONE, phase, day, np.nan, schedule)
    if clean.empty or (
        now is not None and pd.Timestamp(now) - clean.index[-1] > pd.Timedelta(schedule.max_age)
    ):
        return _advice(Reason.NO_DATA, Action.CHECK_SENSOR, phase, day, np.nan, schedule)
    level = float(clean.iloc[-1])

    if phase is Phase.DRAIN:
        if level > 0:
            return _advice(Reason.DRAIN, Action.DRAIN, phase, day, level, schedule)
        return _advice(Reason.DRAINED, Action.NONE, phase, day, level, schedule)
    if phase in (Phase.FLOWERING, Phase.ESTABLISHMENT):
        low = level < schedule.min_ponded_m
        reason = {
            (Phase.FLOWERING, True): Reason.FLOWERING_FLOOD,
            (Phase.FLOWERING, False): Reason.FLOWERING_KEEP,
            (Phase.ESTABLISHMENT, True): Reason.ESTABLISHMENT_FLOOD,
            (Phase.ESTABLISHMENT, False): Reason.ESTABLISHMENT_KEEP,
        }[(phase, low)]
        action = Action.IRRIGATE if low else Action.HOLD
        return _advice(reason, action, phase, day, level, schedule)
    if level <= schedule.reflood_level_m:
        return _advice(Reason.REFLOOD, Action.IRRIGATE, phase, day, level, schedule)
    eta = _trend_days(clean, schedule, level)
    if eta is not None and eta > ETA_MAX_DAYS:  # a near-flat trend: no date worth telling
        eta = None
    return _advice(Reason.LET_DRY, Action.HOLD, phase, day, level, schedule, eta)


def _advice(
    reason: Reason,
    action: Action,
    phase: Phase,
    day: int,
    level: float,
    s: AwdSchedule,
    eta: float | None = None,
) -> AwdAdvice:
    target = s.target_level_m if action is Action.IRRIGATE else None
    apply_mm = (s.target_level_m - max(level, 0.0)) * 1000.0 if target is not None else 0.0
    msgid = N_("awd.let_dry_eta") if reason is Reason.LET_DRY and eta is not None else None
    text = Message(
        msgid or _TEXT[reason],
        {
            "where": _where(level),
            "target_cm": round(s.target_level_m * 100),
            "limit_cm": round(abs(s.reflood_level_m) * 100),
            "day": day,
            "to_harvest": s.season_days - day,
            "eta_days": round(eta) if eta is not None else None,
        },
    )
    return AwdAdvice(
        reason=reason,
        action=action,
        phase=phase,
        day=day,
        level_m=level,
        target_m=target,
        apply_mm=apply_mm,
        days_to_threshold=eta,
        text=text,
    )
