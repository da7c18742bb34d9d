"""One field's morning forecast from its sensor readings: ET0, irrigation or AWD, pest risk.

Place in the data path: `ruong forecast run` reads a field's recent `readings` from the store
and its planting from the registry, calls :func:`prepare` here (pure, pandas in and out), runs
the soil-moisture model on every field's feature row at once, and writes each :class:`Advice`
as one point of the `forecasts` measurement (tags field, kind, model). The dashboard shows the
texts; the `model` tag says which equation or model version produced every number.

What each kind is built from (the equations are in the modules named):

- `et0` (model `fao56-pm`): yesterday's reference ET0, mm/day, FAO-56 eq. 6
  (`forecasting.et0.daily`) on the readings aggregated by `forecasting.aggregate.daily_inputs`.
  Nodes carry no pyranometer or anemometer: Rs then comes from Hargreaves' eq. 50 and the
  wind is FAO-56's 2 m/s default for missing wind (chapter 3, "Missing wind speed data");
  the model tag then reads `fao56-pm/rs-eq50/u2-2` so the estimate is visible.
- `irrigation` (model `fao56-ch8`), upland crops: the root-zone depletion of the last
  `HISTORY_DAYS` days by `forecasting.water_balance.run`, corrected by the soil-moisture
  probe (eq. 86), and the next irrigation date and depth by `next_irrigation` over the next
  `OUTLOOK_DAYS` days. Until a weather-forecast feed is configured, the outlook assumes the
  recent ET0 (mean of the last 7 complete days) and no rain; the texts say so, since rain
  can only postpone an irrigation, never bring it forward.
- `awd` (model `irri-safe-awd`), rice: `forecasting.awd.advise` on the paddy water level.
- `pest_<rule>` (model: the rule's versioned id, e.g. `rice.blast.lwd_temp.v1`), rice:
  `forecasting.pest.assess`, one per rule with its level 0-3, its reason and its citation.
- `soil_vwc` (model: the forecaster's version), upland crops: `forecasting.forecaster`,
  multi-horizon root-zone moisture with its interval, made by the caller from
  :attr:`Prepared.features`.

Units: depths mm, volumes m3, water content %, water level m (negative below the surface).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from forecasting import awd, pest
from forecasting.aggregate import daily_inputs
from forecasting.crops import Crop
from forecasting.et0 import InputError, RadiationEstimatedWarning, daily
from forecasting.soils import Soil
from forecasting.water_balance import Field, depletion_from_theta, next_irrigation, run

HISTORY_DAYS = 14  # days of readings the balance and the pest rules look back over
OUTLOOK_DAYS = 7  # days ahead the irrigation date is searched in
ET0_RECENT_DAYS = 7  # complete days whose mean ET0 stands in for the forecast
DEFAULT_U2 = 2.0  # m/s, FAO-56 chapter 3: "2 m/s ... as a temporary estimate"
FORECAST_HOURS = 72  # the soil-moisture model's longest horizon

# quantities averaged over an hour; `rain` is summed
_MEAN = ("soil_vwc", "air_temp", "air_rh", "leaf_wet", "water_level", "wind_speed", "solar_rad")

FieldValue = float | int | str


@dataclass(frozen=True)
class Site:
    """Where the farm is: decimal degrees, m above sea level, IANA time zone."""

    latitude: float
    longitude: float
    elevation: float
    timezone: str


@dataclass(frozen=True)
class Planting:
    """What grows on the field: crop and soil from the libraries, day 1 of the season."""

    field: str
    crop: Crop
    soil: Soil
    planted: dt.date
    area_m2: float

    @property
    def is_rice(self) -> bool:
        return self.crop.key.startswith("rice")

    def water_balance_field(self) -> Field:
        return Field(
            crop=self.crop, soil=self.soil, planting_date=self.planted, area_m2=self.area_m2
        )

    def day(self, today: dt.date) -> int:
        """Day of season (1 = planted) of `today`."""
        return (today - self.planted).days + 1


@dataclass(frozen=True)
class Advice:
    """One row of the `forecasts` measurement: what to do, the numbers, where they came from.

    kind: et0, irrigation, awd, soil_vwc or pest_<rule>; model: the equation or model version;
    level: 0 nothing to do .. 3 act now (None: not enough data); fields: the numbers (units in
    their names: _mm, _m3, _m, _pct); text_vi / text_en: the sentence a farmer reads.
    """

    kind: str
    model: str
    level: int | None
    text_vi: str
    text_en: str
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


def hourly_readings(readings: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Readings (any interval, tz-aware index) as hourly means, rain as hourly sums (mm).

    Hours without a reading are NaN (rain too: a missing gauge is not a dry hour).
    """
    if not isinstance(readings.index, pd.DatetimeIndex) or readings.index.tz is None:
        raise InputError("readings need a tz-aware DatetimeIndex (when each sensor sampled)")
    frame = readings.sort_index().tz_convert(timezone)
    hour = pd.Timedelta(hours=1)
    means = [name for name in _MEAN if name in frame.columns]
    hourly = frame[means].astype(float).resample(hour).mean()
    if "rain" in frame.columns:
        hourly["rain"] = frame["rain"].astype(float).resample(hour).sum(min_count=1)
    return hourly


def reporting_interval(index: pd.DatetimeIndex) -> str:
    """The slot length the daily coverage rule counts in: the node's usual reporting
    interval (the median spacing of the readings), rounded up to 15, 30 or 60 min."""
    if len(index) < 2:
        return "15min"
    spacing = pd.Series(index.sort_values()).diff().median()
    for slot in ("15min", "30min", "1h"):
        if spacing <= pd.Timedelta(slot) * 1.05:  # 5 %: clocks jitter
            return slot
    return "1h"


def daily_et0(readings: pd.DataFrame, site: Site) -> tuple[pd.Series, str]:
    """Daily ET0 (mm/day) of each local day of `readings`, and the model tag that made it.

    Days whose temperature or humidity cover less than 80 % of the day are NaN
    (`aggregate.daily_inputs`); see the module notes for missing radiation and wind. The tag
    names an estimate when any covered day needed it.
    """
    times = cast(pd.DatetimeIndex, readings.index)  # readings are indexed by sample time
    inputs = daily_inputs(readings, interval=reporting_interval(times), tz=site.timezone)
    covered = inputs[["tmin", "tmax", "rh_min", "rh_max"]].notna().all(axis=1)
    parts = ["fao56-pm"]
    for column, estimate in (("rs", "rs-eq50"), ("u2", "u2-2")):
        if column not in inputs.columns:
            inputs[column] = np.nan
        if inputs.loc[covered, column].isna().any():
            parts.append(estimate)
    inputs["u2"] = inputs["u2"].fillna(DEFAULT_U2)
    with warnings.catch_warnings():  # the tag carries the same fact as the warning
        warnings.simplefilter("ignore", RadiationEstimatedWarning)
        et0 = daily(inputs, site.latitude, site.elevation)
    return et0.rename("et0"), "/".join(parts)


def _date_vi(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}"


def _mm(value: float) -> str:
    return f"{value:.0f}"


def _m3_vi(value: float) -> str:
    return f"{value:,.1f}".replace(",", " ").replace(".", ",")


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


def irrigation_advice(prepared: Prepared) -> Advice:
    """FAO-56 chapter 8 irrigation advice for an upland field (see the module notes)."""
    planting, today = prepared.planting, prepared.now.date()
    field_ = planting.water_balance_field()
    model = "fao56-ch8"
    outlook = prepared.et0_outlook
    if not np.isfinite(outlook):
        return Advice(
            "irrigation",
            model,
            None,
            "Chưa đủ số liệu nhiệt độ, độ ẩm không khí để tính lượng nước cần tưới: "
            "kiểm tra trạm đo.",
            "Not enough air temperature and humidity readings to compute the water need: "
            "check the node.",
        )
    # The balance runs from the first day in the window that is in the season, to yesterday.
    start = max(today - dt.timedelta(days=HISTORY_DAYS), planting.planted)
    days = pd.date_range(start, today - dt.timedelta(days=1), freq="D")
    season_end = planting.planted + dt.timedelta(days=planting.crop.season_days - 1)
    if today > season_end or today < planting.planted:
        return Advice(
            "irrigation",
            model,
            0,
            "Ngoài vụ: không có khuyến nghị tưới.",
            "Outside the growing season: no irrigation advice.",
        )
    local = prepared.hourly.tz_localize(None)
    daily_frame = pd.DataFrame(index=days)
    et0 = prepared.et0.copy()
    et0.index = pd.DatetimeIndex(et0.index).tz_localize(None)
    daily_frame["et0"] = et0.reindex(days).fillna(outlook)
    if "rain" in local.columns:
        daily_frame["rain"] = local["rain"].resample("D").sum(min_count=1).reindex(days)
        daily_frame["rain"] = daily_frame["rain"].fillna(0.0)
    if "soil_vwc" in local.columns:
        # the morning reading (mean of 00-06 h) of each day, the least affected by the day's ET
        vwc = local["soil_vwc"]
        hour = cast(pd.DatetimeIndex, vwc.index).hour  # prepared.hourly's local times
        daily_frame["soil_vwc"] = vwc[hour < 6].resample("D").mean().reindex(days)
    if len(days):
        balance = run(daily_frame, field_, dr0=_initial_depletion(daily_frame, field_))
        dr_now, raw, taw = (float(balance[c].iloc[-1]) for c in ("dr", "raw", "taw"))
    else:  # planted today: the soil was wetted for planting
        dr_now, raw, taw = 0.0, np.nan, np.nan
    outlook_days = pd.date_range(today, periods=OUTLOOK_DAYS, freq="D")
    next_ = next_irrigation(field_, pd.DataFrame({"et0": outlook}, index=outlook_days), dr_now)
    fields: dict[str, FieldValue] = {
        "dr_mm": round(dr_now, 1),
        "et0_outlook_mm": round(outlook, 2),
    }
    if np.isfinite(raw):
        fields.update(raw_mm=round(raw, 1), taw_mm=round(taw, 1))
    if next_ is None:
        return Advice(
            "irrigation",
            model,
            0,
            f"Đất còn đủ ẩm: chưa cần tưới trong {OUTLOOK_DAYS} ngày tới (nếu trời không mưa "
            "thì vẫn đủ).",
            f"The soil holds enough water: no irrigation needed in the next {OUTLOOK_DAYS} "
            "days, even without rain.",
            fields,
        )
    fields.update(
        due=next_.date.isoformat(),
        days_ahead=next_.days_ahead,
        net_mm=round(next_.net_mm, 1),
        gross_mm=round(next_.gross_mm, 1),
        volume_m3=round(next_.volume_m3, 1),
    )
    amount_vi = f"{_mm(next_.gross_mm)} mm (khoảng {_m3_vi(next_.volume_m3)} m³ cho ruộng này)"
    amount_en = f"{_mm(next_.gross_mm)} mm (about {next_.volume_m3:,.1f} m³ for this field)"
    if next_.days_ahead == 0:
        return Advice(
            "irrigation",
            model,
            3,
            f"Tưới hôm nay: {amount_vi}.",
            f"Irrigate today: {amount_en}.",
            fields,
        )
    level = 2 if next_.days_ahead <= 2 else 1
    return Advice(
        "irrigation",
        model,
        level,
        f"Tưới vào ngày {_date_vi(next_.date)} ({next_.days_ahead} ngày nữa): {amount_vi}, "
        "nếu trời không mưa trước đó.",
        f"Irrigate on {next_.date:%d %b} (in {next_.days_ahead} days): {amount_en}, "
        "unless it rains before.",
        fields,
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
    return Advice("awd", "irri-safe-awd", level, result.text_vi, result.text_en, fields)


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
        out.append(
            Advice(
                f"pest_{risk.rule_id.split('.')[1]}",
                risk.rule_id,
                risk.level,
                f"{risk.pest_vi}: {risk.reason_vi}",
                f"{risk.pest_en}: {risk.reason_en}",
                fields,
            )
        )
    return out


def prepare(planting: Planting, readings: pd.DataFrame, site: Site, now: pd.Timestamp) -> Prepared:
    """Everything but the soil-moisture model for one field at `now` (tz-aware).

    readings: the field's readings over at least the last `HISTORY_DAYS` days (columns named
    as the SenML quantities, tz-aware index of sample times). Empty readings give advice that
    asks to check the node rather than a number.
    """
    now = pd.Timestamp(now).tz_convert(site.timezone)
    if len(readings):
        hourly = hourly_readings(readings, site.timezone)
    else:
        hourly = pd.DataFrame(index=pd.DatetimeIndex([], tz=site.timezone))
    if len(readings) and {"air_temp", "air_rh"} <= set(readings.columns):
        et0, et0_model = daily_et0(readings, site)
    else:
        et0, et0_model = pd.Series(dtype=float, name="et0"), "fao56-pm"
    today = pd.Timestamp(now.date())
    complete = et0[pd.DatetimeIndex(et0.index).tz_localize(None) < today].dropna()
    recent = complete.tail(ET0_RECENT_DAYS)
    outlook = float(recent.mean()) if len(recent) else float("nan")
    prepared = Prepared(planting, now, hourly, et0, outlook, [])
    if len(complete):
        day = pd.Timestamp(complete.index[-1]).date()
        prepared.advice.append(
            Advice(
                "et0",
                et0_model,
                0,
                f"Bốc thoát hơi nước tham chiếu ngày {_date_vi(day)}: "
                f"{complete.iloc[-1]:.1f} mm".replace(".", ","),
                f"Reference evapotranspiration on {day:%d %b}: {complete.iloc[-1]:.1f} mm",
                {"et0_mm": round(float(complete.iloc[-1]), 2), "date": day.isoformat()},
            )
        )
    if planting.is_rice:
        prepared.advice.append(awd_advice(prepared))
        prepared.advice.extend(pest_advice(prepared))
    else:
        prepared.advice.append(irrigation_advice(prepared))
    return prepared


def model_inputs(prepared: Prepared) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The soil-moisture model's inputs for an upland field, or None when it cannot run.

    history: hourly soil_vwc (%), rain (mm), et0 (mm/h) up to now; forecast: the next
    `FORECAST_HOURS` hours of et0 (mm/h) and rain (mm) under the outlook's assumption (recent
    ET0, no rain). Daily ET0 is spread evenly over the day's hours: the model's features are
    sums over 6 h or more, where the diurnal shape matters little.
    """
    hourly = prepared.hourly
    if prepared.planting.is_rice or "soil_vwc" not in hourly.columns:
        return None
    if hourly["soil_vwc"].notna().sum() == 0 or not np.isfinite(prepared.et0_outlook):
        return None
    history = hourly.loc[hourly.index <= prepared.now, ["soil_vwc"]].copy()
    history["rain"] = hourly["rain"] if "rain" in hourly.columns else np.nan
    per_day = prepared.et0.copy()
    per_day.index = pd.DatetimeIndex(per_day.index).tz_localize(None)
    # hourly's tz-aware times (hourly_readings)
    days = cast(pd.DatetimeIndex, history.index).tz_localize(None).normalize()
    history["et0"] = per_day.reindex(days).fillna(prepared.et0_outlook).to_numpy() / 24.0
    start = prepared.now.floor("h") + pd.Timedelta(hours=1)
    ahead = pd.date_range(start, periods=FORECAST_HOURS, freq="h")
    forecast = pd.DataFrame({"et0": prepared.et0_outlook / 24.0, "rain": 0.0}, index=ahead)
    return history, forecast


def soil_moisture_advice(
    prediction: pd.Series, version: str, horizons: tuple[int, ...], soil: Soil
) -> Advice:
    """The soil-moisture forecast row (`vwc_<h>h`, `lo_<h>h`, `hi_<h>h`, %) as an Advice.

    The text gives the longest horizon's value and interval, and whether it falls below the
    point where the crop starts to suffer is left to the irrigation advice (FAO-56), so the
    two never contradict each other.
    """
    fields: dict[str, FieldValue] = {}
    for h in horizons:
        for part in ("vwc", "lo", "hi"):
            key = f"{part}_{h}h"
            if key in prediction.index and np.isfinite(prediction[key]):
                fields[f"{key}_pct"] = round(float(prediction[key]), 1)
    last = horizons[-1]
    vwc, lo, hi = (float(prediction.get(f"{p}_{last}h", np.nan)) for p in ("vwc", "lo", "hi"))
    if not np.isfinite(vwc):
        return Advice(
            "soil_vwc",
            version,
            None,
            "Chưa dự báo được độ ẩm đất.",
            "No soil-moisture forecast.",
            fields,
        )
    fc, wp = soil.theta_fc * 100.0, soil.theta_wp * 100.0

    def vi(x: float) -> str:
        return f"{x:.0f}"

    return Advice(
        "soil_vwc",
        version,
        0,
        f"Độ ẩm đất sau {last} giờ: khoảng {vi(vwc)} % (từ {vi(lo)} đến {vi(hi)} %). Đất "
        f"này đủ ẩm ở {vi(fc)} %, cây héo ở {vi(wp)} %.",
        f"Soil moisture in {last} h: about {vwc:.0f} % ({lo:.0f} to {hi:.0f} %). This soil "
        f"is at field capacity at {fc:.0f} %; plants wilt at {wp:.0f} %.",
        fields,
    )


class SoilMoistureModel(Protocol):
    """What :func:`forecast_many` needs of `forecasting.forecaster.SoilMoistureForecaster`."""

    version: str

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame: ...


def _prepare_safely(
    planting: Planting, readings: pd.DataFrame, site: Site, now: pd.Timestamp
) -> Prepared | str:
    try:
        return prepare(planting, readings, site, now)
    except InputError as exc:  # bad readings for this field: say so, go on with the others
        return f"{type(exc).__name__}: {exc}"


def forecast_many(
    fields: Sequence[tuple[Planting, pd.DataFrame]],
    site: Site,
    now: pd.Timestamp,
    model: SoilMoistureModel | None,
    n_jobs: int = 1,
) -> list[list[Advice] | str]:
    """Every field's advice at `now`: per-field work in `n_jobs` processes (joblib), then
    the soil-moisture model on all upland fields' feature rows in one batch.

    Returns, per input field in order, its advice list or the error (a string) that stopped
    it; one field's bad data never stops the others.
    """
    if n_jobs == 1 or len(fields) < 2 * max(n_jobs, 1):
        prepared = [_prepare_safely(p, r, site, now) for p, r in fields]
    else:
        prepared = Parallel(n_jobs=n_jobs)(
            delayed(_prepare_safely)(p, r, site, now) for p, r in fields
        )
    if model is not None:
        from forecasting import forecaster

        rows, owners = [], []
        for i, item in enumerate(prepared):
            if isinstance(item, str):
                continue
            inputs = model_inputs(item)
            if inputs is None:
                continue
            history, outlook = inputs
            field_ = item.planting.water_balance_field()
            try:
                rows.append(forecaster.features(history, outlook, field_, item.now))
            except InputError as exc:  # e.g. no probe reading in the last 24 h: say so
                item.advice.append(
                    Advice(
                        "soil_vwc",
                        model.version,
                        None,
                        "Chưa dự báo được độ ẩm đất: thiếu số liệu của đầu đo, hãy kiểm tra.",
                        "No soil-moisture forecast: probe readings are missing; check it.",
                        {"error": str(exc)},
                    )
                )
                continue
            owners.append(i)
        if rows:
            predicted = model.predict(pd.concat(rows, ignore_index=True))
            for (_, row), i in zip(predicted.iterrows(), owners, strict=True):
                item = prepared[i]
                assert isinstance(item, Prepared)
                item.advice.append(
                    soil_moisture_advice(
                        row, model.version, forecaster.HORIZONS_H, item.planting.soil
                    )
                )
    return [item if isinstance(item, str) else item.advice for item in prepared]
