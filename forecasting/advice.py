"""Each kind of a field's morning advice, from its prepared readings: ET0, irrigation (upland
crops), AWD and pest risk (rice), the soil-moisture forecast.

Place in the data path: `forecasting.field_forecast.prepare` builds a :class:`Prepared` from
the field's readings and calls the builders here; every :class:`Advice` becomes one point of
the `forecasts` measurement (tags field, kind, model). Its words are a message of the
catalogue (backend/locale) with the numbers as parameters, rendered in the reader's language
when shown; the `model` tag says which equation or model version produced every number.

- `et0` (model `fao56-pm...`, see `forecasting.field_readings`): yesterday's reference ET0.
- `irrigation` (model `fao56-ch8`), upland crops: the root-zone depletion of the last
  `HISTORY_DAYS` days by `forecasting.water_balance.run`, corrected by the soil-moisture
  probe (FAO-56 eq. 86), and the next irrigation date and depth by `next_irrigation` over the
  next `OUTLOOK_DAYS` days. Until a weather-forecast feed is configured, the outlook assumes
  the recent ET0 (mean of the last 7 complete days) and no rain; the words say so, since rain
  can only postpone an irrigation, never bring it forward. In season it also carries the
  FAO-56 stage of today (`stage`: initial, development, mid, late; `forecasting.crops`) and
  `season_day` (1 = planting day), for the field page's growth stage.
- `awd` (model `irri-safe-awd`), rice: `forecasting.awd.advise` on the paddy water level,
  with the flowering window the schedule keeps ponded (`flowering_start`, `flowering_end`:
  ISO dates, both included).
- `pest_<rule>` (model: the rule's versioned id, e.g. `rice.blast.lwd_temp.v1`), rice:
  `forecasting.pest.assess`, one per rule with its level 0-3, its reason and its citation.
- `soil_vwc` (model: the forecaster's version), upland crops: multi-horizon root-zone
  moisture with its interval (`forecasting.model`), and the soil's field capacity and
  wilting point (`fc_pct`, `wp_pct`) the field page draws the forecast against.

Units: depths mm, volumes m3, water content %, water level m (negative below the surface).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from backend.i18n import N_, Message
from forecasting import awd, pest
from forecasting.crops import stage_of_day
from forecasting.field_readings import Planting
from forecasting.soils import Soil
from forecasting.water_balance import Field, depletion_from_theta, next_irrigation, run

HISTORY_DAYS = 14  # days of readings the balance and the pest rules look back over
OUTLOOK_DAYS = 7  # days ahead the irrigation date is searched in

FieldValue = float | int | str


@dataclass(frozen=True)
class Advice:
    """One row of the `forecasts` measurement: what to do, the numbers, where they came from.

    kind: et0, irrigation, awd, soil_vwc or pest_<rule>; model: the equation or model version;
    level: 0 nothing to do .. 3 act now (None: not enough data); text: the sentence a farmer
    reads, as a message of the catalogue; fields: the numbers (units in their names: _mm, _m3,
    _m, _pct).
    """

    kind: str
    model: str
    level: int | None
    text: Message
    fields: dict[str, FieldValue] = field(default_factory=dict)


@dataclass
class Prepared:
    """A field's advice before the soil-moisture model ran.

    hourly: hourly readings (local time); et0: daily ET0 (mm/day, NaN on incomplete days);
    et0_outlook: the daily ET0 the outlook assumes (mm/day; NaN when unknown).
    """

    planting: Planting
    now: pd.Timestamp
    hourly: pd.DataFrame
    et0: pd.Series
    et0_outlook: float
    advice: list[Advice]


def et0_advice(et0: pd.Series, model: str) -> Advice | None:
    """The last complete day's reference ET0 (`et0`: complete days only), or None."""
    if not len(et0):
        return None
    day = pd.Timestamp(et0.index[-1]).date()
    mm = float(et0.iloc[-1])
    return Advice(
        "et0",
        model,
        0,
        Message(N_("et0.yesterday"), {"day": day.isoformat(), "mm": round(mm, 1)}),
        {"et0_mm": round(mm, 2), "date": day.isoformat()},
    )


def _initial_depletion(daily_frame: pd.DataFrame, field_: Field) -> float:
    """Dr (mm) before the window: from the first day's probe reading (FAO-56 eq. 86) when
    there is one, else 0 (the field at field capacity, as after the planting irrigation)."""
    if "soil_vwc" not in daily_frame.columns or daily_frame["soil_vwc"].isna().iloc[0]:
        return 0.0
    first_day = cast(pd.DatetimeIndex, daily_frame.index[:1])  # indexed by a pd.date_range
    zr = float(field_.root_depth(field_.season_day(first_day))[0])
    theta = float(daily_frame["soil_vwc"].iloc[0]) / 100.0
    taw = 1000.0 * field_.soil.available_water * zr
    return float(np.clip(depletion_from_theta(theta, field_.soil.theta_fc, zr), 0.0, taw))


def _daily_balance_inputs(prepared: Prepared, days: pd.DatetimeIndex) -> pd.DataFrame:
    """ET0 (mm/day, the outlook's where a day is incomplete), rain (mm, 0 where unknown) and
    the morning probe reading (%, mean of 00-06 h, the least affected by the day's ET)."""
    local = prepared.hourly.tz_localize(None)
    daily_frame = pd.DataFrame(index=days)
    et0 = prepared.et0.copy()
    et0.index = pd.DatetimeIndex(et0.index).tz_localize(None)
    daily_frame["et0"] = et0.reindex(days).fillna(prepared.et0_outlook)
    if "rain" in local.columns:
        daily_frame["rain"] = local["rain"].resample("D").sum(min_count=1).reindex(days)
        daily_frame["rain"] = daily_frame["rain"].fillna(0.0)
    if "soil_vwc" in local.columns:
        vwc = local["soil_vwc"]
        hour = cast(pd.DatetimeIndex, vwc.index).hour  # prepared.hourly's local times
        daily_frame["soil_vwc"] = vwc[hour < 6].resample("D").mean().reindex(days)
    return daily_frame


def season_fields(planting: Planting, today: dt.date) -> dict[str, FieldValue]:
    """`stage` (FAO-56 stage of `today`) and `season_day` (1 = planting day); {} out of
    season."""
    day = planting.day(today)
    if not 1 <= day <= planting.crop.season_days:
        return {}
    return {"stage": stage_of_day(planting.crop, day), "season_day": day}


def irrigation_advice(prepared: Prepared) -> Advice:
    """FAO-56 chapter 8 irrigation advice for an upland field (see the module notes)."""
    planting, today = prepared.planting, prepared.now.date()
    field_ = planting.water_balance_field()
    model = "fao56-ch8"
    outlook = prepared.et0_outlook
    season = season_fields(planting, today)
    if not np.isfinite(outlook):
        return Advice("irrigation", model, None, Message(N_("irrigation.no_weather")), season)
    if not season:
        return Advice("irrigation", model, 0, Message(N_("irrigation.out_of_season")))
    # The balance runs from the first day in the window that is in the season, to yesterday.
    start = max(today - dt.timedelta(days=HISTORY_DAYS), planting.planted)
    days = pd.date_range(start, today - dt.timedelta(days=1), freq="D")
    if len(days):
        daily_frame = _daily_balance_inputs(prepared, days)
        balance = run(daily_frame, field_, dr0=_initial_depletion(daily_frame, field_))
        dr_now, raw, taw = (float(balance[c].iloc[-1]) for c in ("dr", "raw", "taw"))
    else:  # planted today: the soil was wetted for planting
        dr_now, raw, taw = 0.0, np.nan, np.nan
    outlook_days = pd.date_range(today, periods=OUTLOOK_DAYS, freq="D")
    next_ = next_irrigation(field_, pd.DataFrame({"et0": outlook}, index=outlook_days), dr_now)
    fields: dict[str, FieldValue] = {
        **season,
        "dr_mm": round(dr_now, 1),
        "et0_outlook_mm": round(outlook, 2),
    }
    if np.isfinite(raw):
        fields.update(raw_mm=round(raw, 1), taw_mm=round(taw, 1))
    if next_ is None:
        text = Message(N_("irrigation.none"), {"days": OUTLOOK_DAYS})
        return Advice("irrigation", model, 0, text, fields)
    fields.update(
        due=next_.date.isoformat(),
        days_ahead=next_.days_ahead,
        net_mm=round(next_.net_mm, 1),
        gross_mm=round(next_.gross_mm, 1),
        volume_m3=round(next_.volume_m3, 1),
    )
    amount = Message(
        N_("irrigation.amount"),
        {"mm": round(next_.gross_mm), "m3": round(next_.volume_m3, 1)},
    )
    if next_.days_ahead == 0:
        return Advice(
            "irrigation", model, 3, Message(N_("irrigation.today"), {"amount": amount}), fields
        )
    text = Message(
        N_("irrigation.due"),
        {"due": next_.date.isoformat(), "days": next_.days_ahead, "amount": amount},
    )
    return Advice("irrigation", model, 2 if next_.days_ahead <= 2 else 1, text, fields)


def flowering_window(
    planting: Planting, schedule: awd.AwdSchedule
) -> tuple[dt.date, dt.date] | None:
    """First and last date (both included) of the flowering window the schedule keeps ponded:
    the flowering day +- `flowering_halfwidth` days after transplanting (day 0 = the planting
    date), within the season and before the final drain, which wins over it
    (`awd.phase_of_day`); None when no day is left."""
    first = max(schedule.flowering - schedule.flowering_halfwidth, 0)
    last = min(
        schedule.flowering + schedule.flowering_halfwidth,
        schedule.season_days - schedule.drain_days - 1,
    )
    if first > last:
        return None
    return (
        planting.planted + dt.timedelta(days=first),
        planting.planted + dt.timedelta(days=last),
    )


def awd_advice(prepared: Prepared) -> Advice:
    """IRRI safe-AWD advice for a rice field from its water-level readings."""
    planting = prepared.planting
    hourly = prepared.hourly
    levels = hourly["water_level"] if "water_level" in hourly.columns else pd.Series(dtype=float)
    schedule = awd.AwdSchedule.for_crop(planting.crop)
    day = planting.day(prepared.now.date()) - 1  # AWD counts days after transplanting from 0
    result = awd.advise(levels, day, schedule, now=prepared.now)
    level = {
        awd.Action.IRRIGATE: 3,
        awd.Action.DRAIN: 2,
        awd.Action.CHECK_SENSOR: None,
    }.get(result.action, 0)
    fields: dict[str, FieldValue] = {
        "action": str(result.action),
        "reason": str(result.reason),
        "phase": str(result.phase),
        "apply_mm": round(result.apply_mm, 0),
    }
    if np.isfinite(result.level_m):
        fields["level_m"] = round(result.level_m, 3)
    if result.days_to_threshold is not None:
        fields["days_to_threshold"] = round(result.days_to_threshold, 1)
    window = flowering_window(planting, schedule)
    if window is not None:
        fields.update(flowering_start=window[0].isoformat(), flowering_end=window[1].isoformat())
    return Advice("awd", "irri-safe-awd", level, result.text, fields)


def pest_advice(prepared: Prepared) -> list[Advice]:
    """Rice pest and disease risks (forecasting.pest), one Advice per rule."""
    hourly = prepared.hourly
    if "air_temp" not in hourly.columns or hourly["air_temp"].notna().sum() == 0:
        return []
    dat = prepared.planting.day(prepared.now.date()) - 1
    risks = pest.assess(hourly, dat if dat >= 1 else None, at=prepared.now)
    out = []
    for risk in risks:
        fields: dict[str, FieldValue] = {"citation": risk.citation}
        fields.update({k: round(float(v), 2) for k, v in risk.features.items()})
        text = Message(N_("pest.advice"), {"pest": risk.pest, "reason": risk.reason})
        out.append(
            Advice(f"pest_{risk.rule_id.split('.')[1]}", risk.rule_id, risk.level, text, fields)
        )
    return out


def soil_fields(soil: Soil) -> dict[str, FieldValue]:
    """The soil's field capacity and wilting point (volumetric %, 1 decimal)."""
    return {"fc_pct": round(soil.theta_fc * 100.0, 1), "wp_pct": round(soil.theta_wp * 100.0, 1)}


def soil_moisture_advice(
    prediction: pd.Series, version: str, horizons: tuple[int, ...], soil: Soil
) -> Advice:
    """The soil-moisture forecast row (`vwc_<h>h`, `lo_<h>h`, `hi_<h>h`, %) as an Advice.

    The words give the longest horizon's value and interval; whether it falls below the point
    where the crop starts to suffer is left to the irrigation advice (FAO-56), so the two
    never contradict each other. The fields carry the soil's `fc_pct` and `wp_pct` too.
    """
    fields = soil_fields(soil)
    for h in horizons:
        for part in ("vwc", "lo", "hi"):
            key = f"{part}_{h}h"
            if key in prediction.index and np.isfinite(prediction[key]):
                fields[f"{key}_pct"] = round(float(prediction[key]), 1)
    last = horizons[-1]
    vwc, lo, hi = (float(prediction.get(f"{p}_{last}h", np.nan)) for p in ("vwc", "lo", "hi"))
    if not np.isfinite(vwc):
        return Advice("soil_vwc", version, None, Message(N_("soil_vwc.none")), fields)
    text = Message(
        N_("soil_vwc.forecast"),
        {
            "hours": last,
            "vwc": round(vwc),
            "lo": round(lo),
            "hi": round(hi),
            "fc": round(soil.theta_fc * 100.0),
            "wp": round(soil.theta_wp * 100.0),
        },
    )
    return Advice("soil_vwc", version, 0, text, fields)


def no_probe_advice(version: str, error: str, soil: Soil | None = None) -> Advice:
    """No soil-moisture forecast because the probe's recent readings are missing; with the
    soil's `fc_pct` and `wp_pct` when `soil` is given."""
    fields: dict[str, FieldValue] = {"error": error}
    if soil is not None:
        fields.update(soil_fields(soil))
    return Advice("soil_vwc", version, None, Message(N_("soil_vwc.no_probe")), fields)
