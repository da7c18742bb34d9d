"""Each kind of a field's morning advice, from its prepared readings: ET0, irrigation (upland
crops), AWD and pest risk (rice), the soil-moisture forecast.

Place in the data path: `forecasting.field_forecast.prepare` builds a :class:`Prepared` from
the field's readings and calls the builders here; every :class:`Advice` becomes one point of
the `forecasts` measurement (tags field, kind, model). Its words are a message of the
catalogue (backend/locale) with the numbers as parameters, rendered in the reader's language
when shown; the `model` tag says which equation or model version produced every number.

- `et0` (model `fao56-pm...`, see `forecasting.field_readings`): yesterday's reference ET0.
- `irrigation` (model `fao56-ch8`), upland crops: the root-zone depletion of the last
  `HISTORY_DAYS` days by `forecasting.water_balance.run` with the farmer's recorded
  irrigation as input, corrected by the soil-moisture probe (FAO-56 eq. 86); then brought to
  now by the newest probe reading when it is fresh (`PROBE_FRESH_H`: the depletion the
  reading implies, eq. 86, replaces the model's: the advice never contradicts the number
  shown beside it), else by today's recorded irrigation and rain so far. The next irrigation
  date and depth come from `next_irrigation` over the next `OUTLOOK_DAYS` days of the weather
  outlook: the forecast's daily rain and FAO ET0 where a weather source gave the day
  (`outlook` = "forecast", `outlook_source`), else the recent ET0 (mean of the last 7
  complete days) and no rain (`outlook` = "no-rain"); the words say which, and that a source
  that could not be reached was replaced by the no-rain outlook. With the depletion already
  at RAW the advice is to irrigate today, unless the forecast brings enough rain within
  `POSTPONE_DAYS` days (:func:`postpone_for_rain`). In season it also carries the FAO-56
  stage of today (`stage`: initial, development, mid, late; `forecasting.crops`) and
  `season_day` (1 = planting day), for the field page's growth stage.
- `awd` (model `irri-safe-awd`), rice: `forecasting.awd.advise` on the paddy water level,
  with the flowering window the schedule keeps ponded (`flowering_start`, `flowering_end`:
  ISO dates, both included). A re-flood the farmer recorded after the newest level reading
  is not asked for again: the advice waits for the sensor to see the water come.
- `pest_<rule>` (model: the rule's versioned id, e.g. `rice.blast.lwd_temp.v1`), rice:
  `forecasting.pest.assess`, one per rule with its level 0-3, its reason and its citation.
- `soil_vwc` (model: the forecaster's version), upland crops: multi-horizon root-zone
  moisture with its interval (`forecasting.model`), and the soil's field capacity and
  wilting point (`fc_pct`, `wp_pct`) the field page draws the forecast against.

Every piece of advice computed from readings carries `reading_ms`, the sample time (Unix ms)
of the newest reading it rests on, shown as "theo số đo lúc HH:MM" beside it.

Units: depths mm, volumes m3, water content %, water level m (negative below the surface).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from backend.i18n import N_, Message
from forecasting import awd, events, pest
from forecasting.crops import stage_of_day
from forecasting.et0 import InputError
from forecasting.field_readings import Planting
from forecasting.soils import Soil
from forecasting.water_balance import (
    Field,
    depletion_from_theta,
    next_irrigation,
    run,
    runoff_scs,
)

HISTORY_DAYS = 14  # days of readings the balance and the pest rules look back over
OUTLOOK_DAYS = 7  # days ahead the irrigation date is searched in
# a probe reading at most this old says where the root zone is now (the node reports every
# 15 min; 3 h covers a node that slowed down on a low battery, duty.py)
PROBE_FRESH_H = 3.0
# how far ahead forecast rain may stand in for an irrigation that is due (days, today included)
POSTPONE_DAYS = 2
# the quantity each kind of advice rests on, for its `reading_ms`
_READS = {
    "irrigation": "soil_vwc",
    "awd": "water_level",
    "soil_vwc": "soil_vwc",
    "pest": "air_temp",
}

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


@dataclass(frozen=True)
class FarmRecord:
    """What the farmer recorded doing (backend/records.py): kind irrigation, drainage,
    spraying or scouting; when (tz-aware); amount_mm for an irrigation (mm of water)."""

    kind: str
    time: pd.Timestamp
    amount_mm: float | None = None


@dataclass(frozen=True)
class WeatherAhead:
    """The weather forecast a field's advice may use.

    daily: per local day from today, `rain` (mm) and `et0` (mm/day, FAO-56 reference ET0 as
      the source computes it), NaN where the source did not cover the day; hourly: the same
      per hour (mm, mm/h), for the soil-moisture model; None when there is no forecast.
    source: who made it (e.g. "api.open-meteo.com"), for the words; error: why a configured
      source gave nothing (the advice then assumes no rain and says so), None otherwise.
    """

    daily: pd.DataFrame | None
    hourly: pd.DataFrame | None
    source: str
    error: str | None = None


@dataclass
class Prepared:
    """A field's advice before the soil-moisture model ran.

    hourly: hourly readings (local time); et0: daily ET0 (mm/day, NaN on incomplete days);
    et0_outlook: the daily ET0 the no-rain outlook assumes (mm/day; NaN when unknown);
    records: the farmer's records of the readings' window; weather: the forecast (None: no
    source configured); latest_ms: the sample time (Unix ms) of each quantity's newest
    reading; latest: the newest value of each quantity.
    """

    planting: Planting
    now: pd.Timestamp
    hourly: pd.DataFrame
    et0: pd.Series
    et0_outlook: float
    advice: list[Advice]
    records: Sequence[FarmRecord] = ()
    weather: WeatherAhead | None = None
    latest_ms: dict[str, int] = field(default_factory=dict)
    latest: dict[str, float] = field(default_factory=dict)

    def reading_fields(self, kind: str) -> dict[str, FieldValue]:
        """{"reading_ms": ...} of the newest reading advice of `kind` rests on, or {}."""
        quantity = _READS.get(kind.split("_")[0] if kind.startswith("pest_") else kind)
        ms = self.latest_ms.get(quantity or "")
        return {} if ms is None else {"reading_ms": ms}


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
    daily_frame["irrigation"] = recorded_irrigation(prepared, days)
    return daily_frame


def recorded_irrigation(prepared: Prepared, days: pd.DatetimeIndex) -> np.ndarray:
    """The farmer's recorded irrigation (mm) on each local day of `days` (naive dates)."""
    tz = prepared.now.tz
    per_day: dict[pd.Timestamp, float] = {}
    for record in prepared.records:
        if record.kind == "irrigation" and record.amount_mm:
            day = pd.Timestamp(record.time).tz_convert(tz).tz_localize(None).normalize()
            per_day[day] = per_day.get(day, 0.0) + float(record.amount_mm)
    return np.array([per_day.get(pd.Timestamp(d), 0.0) for d in days], dtype=float)


def season_fields(planting: Planting, today: dt.date) -> dict[str, FieldValue]:
    """`stage` (FAO-56 stage of `today`) and `season_day` (1 = planting day); {} out of
    season."""
    day = planting.day(today)
    if not 1 <= day <= planting.crop.season_days:
        return {}
    return {"stage": stage_of_day(planting.crop, day), "season_day": day}


def outlook_days(prepared: Prepared, today: dt.date) -> tuple[pd.DataFrame, bool]:
    """The `OUTLOOK_DAYS` days from today the irrigation date is searched in: et0 (mm/day)
    and rain (mm) from the weather forecast where it covers the day, else the recent ET0 and
    no rain; and whether any day came from the forecast."""
    days = pd.date_range(today, periods=OUTLOOK_DAYS, freq="D")
    frame = pd.DataFrame({"et0": prepared.et0_outlook, "rain": 0.0}, index=days)
    weather = prepared.weather
    if weather is None or weather.daily is None or not len(weather.daily):
        return frame, False
    daily = weather.daily.copy()
    index = pd.DatetimeIndex(daily.index)
    daily.index = index.tz_localize(None) if index.tz is not None else index
    daily = daily.reindex(days)
    known = daily["rain"].notna() & daily["et0"].notna()
    frame.loc[known, "rain"] = daily.loc[known, "rain"]
    frame.loc[known, "et0"] = daily.loc[known, "et0"]
    return frame, bool(known.any())


def latest_probe_depletion(prepared: Prepared, field_: Field) -> float | None:
    """Dr now (mm) from the newest soil_vwc reading when it is at most `PROBE_FRESH_H` old:
    FAO-56 eq. 86 with today's root depth, within 0..TAW; None without a fresh reading."""
    ms = prepared.latest_ms.get("soil_vwc")
    theta = prepared.latest.get("soil_vwc")
    if ms is None or theta is None or not np.isfinite(theta):
        return None
    age_h = (prepared.now.timestamp() * 1000 - ms) / 3_600_000
    if age_h > PROBE_FRESH_H:
        return None
    day = prepared.planting.day(prepared.now.date())
    zr = float(field_.root_depth(np.array([day]))[0])
    taw = 1000.0 * field_.soil.available_water * zr
    return float(np.clip(depletion_from_theta(theta / 100.0, field_.soil.theta_fc, zr), 0.0, taw))


def postpone_for_rain(
    outlook: pd.DataFrame, field_: Field, dr_now: float, raw: float, taw: float
) -> float | None:
    """The forecast rain (mm) that lets an irrigation due today wait, or None.

    Ruộng's rule, from FAO-56 ch. 8's note that rain expected soon can replace an irrigation:
    wait when the effective rain (SCS runoff removed, as in the balance) of the next
    `POSTPONE_DAYS` days brings the depletion back below half of RAW, and the crop is not yet
    past the middle of RAW..TAW (where Ks, eq. 84, has fallen by half).
    """
    if dr_now > (raw + taw) / 2:
        return None
    rain = outlook["rain"].to_numpy(float)[:POSTPONE_DAYS]
    effective = float(np.sum(rain - runoff_scs(rain, field_.curve_number)))
    if effective >= dr_now - raw / 2:
        return float(rain.sum())
    return None


def _weather_words(prepared: Prepared, from_forecast: bool, outlook: pd.DataFrame) -> Message:
    """The sentence saying which weather the date was worked out with."""
    weather = prepared.weather
    if from_forecast and weather is not None:
        return Message(
            N_("weather.forecast_rain"),
            {
                "mm": round(float(outlook["rain"].sum())),
                "days": OUTLOOK_DAYS,
                "source": weather.source,
            },
        )
    if weather is not None:  # a source is configured but gave nothing
        return Message(N_("weather.unavailable"), {"source": weather.source})
    return Message(N_("weather.no_source"))


def irrigation_advice(prepared: Prepared) -> Advice:
    """FAO-56 chapter 8 irrigation advice for an upland field (see the module notes)."""
    planting, today = prepared.planting, prepared.now.date()
    field_ = planting.water_balance_field()
    model = "fao56-ch8"
    outlook = prepared.et0_outlook
    season = {**season_fields(planting, today), **prepared.reading_fields("irrigation")}
    if not np.isfinite(outlook):
        return Advice("irrigation", model, None, Message(N_("irrigation.no_weather")), season)
    if "stage" not in season:
        return Advice("irrigation", model, 0, Message(N_("irrigation.out_of_season")))
    # The balance runs from the first day in the window that is in the season, to yesterday.
    start = max(today - dt.timedelta(days=HISTORY_DAYS), planting.planted)
    days = pd.date_range(start, today - dt.timedelta(days=1), freq="D")
    dr_now = 0.0  # planted today: the soil was wetted for planting
    if len(days):
        daily_frame = _daily_balance_inputs(prepared, days)
        balance = run(daily_frame, field_, dr0=_initial_depletion(daily_frame, field_))
        dr_now = float(balance["dr"].iloc[-1])
    probe = latest_probe_depletion(prepared, field_)
    if probe is not None:
        dr_now = probe
    else:  # today so far: what the farmer applied and the rain that fell
        today_ = pd.DatetimeIndex([pd.Timestamp(today)])
        fallen = 0.0
        if "rain" in prepared.hourly.columns:
            local = prepared.hourly["rain"].tz_localize(None)
            day = cast(pd.DatetimeIndex, local.index).normalize()  # hourly: a DatetimeIndex
            fallen = float(local[day == pd.Timestamp(today)].sum())
        dr_now = max(0.0, dr_now - float(recorded_irrigation(prepared, today_)[0]) - fallen)
    ahead, from_forecast = outlook_days(prepared, today)
    now_row = run(ahead.iloc[:1][["et0"]], field_, dr0=dr_now)  # today's TAW and RAW
    raw, taw = float(now_row["raw"].iloc[0]), float(now_row["taw"].iloc[0])
    fields: dict[str, FieldValue] = {
        **season,
        "dr_mm": round(dr_now, 1),
        "raw_mm": round(raw, 1),
        "taw_mm": round(taw, 1),
        "et0_outlook_mm": round(float(ahead["et0"].mean()), 2),
        "rain_outlook_mm": round(float(ahead["rain"].sum()), 1),
        "outlook": "forecast" if from_forecast else "no-rain",
    }
    if prepared.weather is not None:
        fields["outlook_source"] = prepared.weather.source
    weather = _weather_words(prepared, from_forecast, ahead)

    def said(level: int, text: Message) -> Advice:
        """The advice `text` at `level`, followed by the weather it was worked out with."""
        words = Message(N_("advice.with_weather"), {"advice": text, "weather": weather})
        return Advice("irrigation", model, level, words, fields)

    if dr_now >= raw:  # at RAW now: today, whatever the days ahead bring, unless rain comes
        gross = dr_now / field_.application_efficiency
        fields.update(
            due=today.isoformat(),
            days_ahead=0,
            net_mm=round(dr_now, 1),
            gross_mm=round(gross, 1),
            volume_m3=round(gross * field_.area_m2 / 1000.0, 1),
        )
        amount = Message(
            N_("irrigation.amount"),
            {"mm": round(gross), "m3": round(gross * field_.area_m2 / 1000.0, 1)},
        )
        wait = postpone_for_rain(ahead, field_, dr_now, raw, taw) if from_forecast else None
        if wait is not None and prepared.weather is not None:
            wettest = int(np.argmax(ahead["rain"].to_numpy(float)[:POSTPONE_DAYS]))
            fields["postponed_for_rain_mm"] = round(wait, 1)
            text = Message(
                N_("irrigation.postpone"),
                {
                    "mm": round(wait),
                    "when": Message(N_("day.today") if wettest == 0 else N_("day.tomorrow")),
                    "amount": amount,
                    "source": prepared.weather.source,
                },
            )
            return Advice("irrigation", model, 2, text, fields)
        text = Message(N_("irrigation.today"), {"amount": amount})
        return said(3, text)
    next_ = next_irrigation(field_, ahead, dr_now)
    if next_ is None:
        text = Message(N_("irrigation.none"), {"days": OUTLOOK_DAYS})
        return said(0, text)
    days_ahead = next_.days_ahead
    fields.update(
        due=next_.date.isoformat(),
        days_ahead=days_ahead,
        net_mm=round(next_.net_mm, 1),
        gross_mm=round(next_.gross_mm, 1),
        volume_m3=round(next_.volume_m3, 1),
    )
    amount = Message(
        N_("irrigation.amount"),
        {"mm": round(next_.gross_mm), "m3": round(next_.volume_m3, 1)},
    )
    if days_ahead == 0:  # RAW is reached by the end of today
        text = Message(N_("irrigation.today"), {"amount": amount})
        level = 3
    else:
        text = Message(
            N_("irrigation.due"),
            {"due": next_.date.isoformat(), "days": days_ahead, "amount": amount},
        )
        level = 2 if days_ahead <= 2 else 1
    return said(level, text)


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
    fields.update(prepared.reading_fields("awd"))
    text = result.text
    recorded = recorded_since_reading(prepared, "irrigation", "water_level")
    if result.action is awd.Action.IRRIGATE and recorded is not None:
        # the farmer says the water is coming; the next level readings will show it
        level = 1
        fields["recorded_ms"] = int(recorded.timestamp() * 1000)
        local = recorded.tz_convert(prepared.now.tz)  # the words give the site's HH:MM
        text = Message(N_("awd.recorded_irrigation"), {"time": local.isoformat()})
    return Advice("awd", "irri-safe-awd", level, text, fields)


def recorded_since_reading(prepared: Prepared, kind: str, quantity: str) -> pd.Timestamp | None:
    """The newest record of `kind` made after the newest reading of `quantity` and at most
    `PROBE_FRESH_H` hours ago (after that, a reading that still shows no water means the
    water did not come), or None."""
    reading_ms = prepared.latest_ms.get(quantity, 0)
    newest = None
    for record in prepared.records:
        when = pd.Timestamp(record.time)
        age_h = (prepared.now - when) / pd.Timedelta(hours=1)
        if record.kind == kind and when.timestamp() * 1000 > reading_ms and age_h <= PROBE_FRESH_H:
            newest = when if newest is None or when > newest else newest
    return newest


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
        fields.update(prepared.reading_fields("pest"))
        out.append(
            Advice(f"pest_{risk.rule_id.split('.')[1]}", risk.rule_id, risk.level, text, fields)
        )
    return out


EVENT_MODEL = "ruong.events.v1"
EVENT_OFFER = pd.Timedelta(hours=48)  # how far back detected events are offered


def event_advice(prepared: Prepared) -> list[Advice]:
    """Irrigation and drainage the readings show and no record tells of
    (`forecasting.events.detect` over the last `EVENT_OFFER`), each offered to the farmer to
    confirm (kind `event`; fields `event`, `at_ms` (Unix ms), `amount_mm`, `rise_cm`)."""
    planting, hourly = prepared.planting, prepared.hourly
    kind = "paddy" if planting.is_rice else "upland"
    zr = None
    if not planting.is_rice:
        day = planting.day(prepared.now.date())
        zr = float(planting.water_balance_field().root_depth(np.array([max(day, 1)]))[0])
    recorded = [(r.kind, pd.Timestamp(r.time)) for r in prepared.records]
    try:
        found = events.detect(hourly, kind, zr, recorded, since=prepared.now - EVENT_OFFER)
    except InputError:  # the field's node has no level or probe series: nothing to detect
        return []
    out = []
    for event in found:
        start = event.start.tz_convert(prepared.now.tz)
        fields: dict[str, FieldValue] = {
            "event": event.kind,
            "at_ms": int(start.timestamp() * 1000),
        }
        if event.amount_mm is not None:
            fields["amount_mm"] = round(event.amount_mm, 0)
        if event.rise_m is not None:
            fields["rise_cm"] = round(event.rise_m * 100, 1)
        when = Message(
            N_("event.when"), {"hhmm": start.strftime("%H:%M"), "day": start.strftime("%d/%m")}
        )
        text = Message(
            N_("event.irrigation.question")
            if event.kind == "irrigation"
            else N_("event.drainage.question"),
            {"when": when},
        )
        out.append(Advice("event", EVENT_MODEL, 1, text, fields))
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
