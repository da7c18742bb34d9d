"""Daily root-zone water balance (FAO-56 chapter 8), corrected by soil-moisture readings.

Source: Allen et al. (1998) FAO-56, chapter 8 "ETc under soil water stress conditions";
runoff from the USDA-SCS curve-number method (USDA-SCS 1972, National Engineering Handbook
section 4, chapter 10; curve numbers of USDA-NRCS 1986, TR-55 Table 2-2). Place in the data
path: `forecasting.et0` gives ET0, the store gives rain and soil_vwc readings, this module
gives the per-day depletion and the next irrigation (date, mm, m3) that `ruong forecast`
writes as forecasts/recommendations.

Equations used (all depths in mm, depths of soil in m)
------------------------------------------------------
- TAW = 1000 (theta_FC - theta_WP) Zr: eq. 82.
- RAW = p TAW: eq. 83, with p from Table 22 adjusted for the day's ETc (Table 22 footnote):
  p = p_table + 0.04 (5 - ETc), limited to 0.1 <= p <= 0.8.
- Ks = (TAW - Dr) / ((1 - p) TAW) when Dr > RAW, else 1: eq. 84.
- ETc adj = Ks Kc ET0: eq. 80 (single crop coefficient, Kc from `forecasting.crops`).
- Dr,i = Dr,i-1 - (P - RO)i - Ii - CRi + ETc adj,i + DPi: eq. 85, limited 0 <= Dr <= TAW
  (eq. 87); deep percolation DPi = (P - RO)i + Ii - ETc,i - Dr,i-1 >= 0: eq. 88.
- Depletion from a measured water content: Dr = 1000 (theta_FC - theta) Zr: eq. 86.

Choices FAO-56 leaves open, and ours
------------------------------------
- Ks for day i uses the depletion at the end of day i-1 (an explicit daily step).
- Effective rain P - RO: runoff RO by the SCS curve number, daily:
  S = 25400 / CN - 254, RO = (P - 0.2 S)^2 / (P + 0.8 S) when P > 0.2 S, else 0.
  Default CN = 85 (row crops, straight rows, good condition, hydrologic soil group C,
  TR-55 Table 2-2b), which suits the Delta's silty and clayey soils under vegetables and
  maize; `curve_number=None` means no runoff, right for a bunded rice field that holds its
  rain. We do not use FAO's monthly "0.8 P - 25" rule: it is for monthly totals, not days.
- Capillary rise CR is 0 unless a `capillary_rise` column (mm/day) is given.
- Root depth: constant at Table 22's smaller value (FAO-56: the smaller Zr is for irrigation
  scheduling) unless `zr_initial` is set; then Zr grows linearly from `zr_initial` on day 1
  to the maximum at the end of the development stage (full cover). Soil newly reached by
  roots is taken to be at field capacity, so a deeper root zone adds TAW, not depletion.
- Sensor assimilation: on a day with a reading theta_obs (m3 m-3), the model depletion is
  moved toward Dr_obs = 1000 (theta_FC - theta_obs) Zr (eq. 86, limited to 0..TAW):
  Dr = Dr_model + w (Dr_obs - Dr_model). w is the sensor's weight, the gain of a scalar
  Kalman update w = var_model / (var_model + var_sensor). A calibrated capacitive probe reads
  theta to about +-0.03 m3 m-3, i.e. +-15 mm over a 0.5 m root zone, but one probe at one
  depth samples the root zone imperfectly; the model drifts by roughly 10-20 mm in a week
  (Kc and rain-gauge errors). Errors of the same order give w = 0.5, the default.
  w = 1 replaces the model by the sensor; w = 0 ignores the sensor. Each correction is
  reported (`correction`, mm of depletion) so the water books still balance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.crops import Crop, kc_curve, stage_of_day
from forecasting.et0 import InputError
from forecasting.soils import Soil

Array = np.ndarray | pd.Series | float

DEFAULT_CURVE_NUMBER = 85.0  # TR-55 Table 2-2b: row crops, straight row, good, group C
DEFAULT_SENSOR_WEIGHT = 0.5


# --- FAO-56 chapter 8 equations -------------------------------------------------------------


def total_available_water(theta_fc: Array, theta_wp: Array, zr: Array) -> Array:
    """Total available soil water TAW (mm) in a root zone `zr` m deep. FAO-56 eq. 82.

    theta_fc, theta_wp: water content at field capacity and wilting point (m3 m-3).
    """
    return 1000.0 * (theta_fc - theta_wp) * zr


def readily_available_water(taw: Array, p: Array) -> Array:
    """Readily available soil water RAW = p TAW (mm). FAO-56 eq. 83."""
    return p * taw


def depletion_fraction(p_table: Array, etc: Array) -> Array:
    """Depletion fraction p (-) adjusted for the crop's ETc (mm day-1).

    FAO-56 Table 22 footnote: p = p_table + 0.04 (5 - ETc), limited to 0.1-0.8.
    """
    return np.clip(p_table + 0.04 * (5.0 - etc), 0.1, 0.8)


def water_stress_coefficient(dr: Array, taw: Array, raw: Array) -> Array:
    """Water stress coefficient Ks (-) for root-zone depletion `dr` (mm). FAO-56 eq. 84.

    Ks = (TAW - Dr) / (TAW - RAW) when Dr > RAW, else 1; limited to 0..1.
    taw, raw: mm. With RAW = p TAW the denominator is (1 - p) TAW.
    """
    dr, taw, raw = np.asarray(dr, float), np.asarray(taw, float), np.asarray(raw, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ks = np.where(dr > raw, (taw - dr) / (taw - raw), 1.0)
    return np.clip(ks, 0.0, 1.0)


def runoff_scs(rain: Array, curve_number: float | None = DEFAULT_CURVE_NUMBER) -> Array:
    """Surface runoff RO (mm) of a day's rain (mm) by the USDA-SCS curve number.

    S = 25400 / CN - 254 (mm); initial abstraction Ia = 0.2 S;
    RO = (P - Ia)^2 / (P - Ia + S) for P > Ia, else 0. `curve_number` None: no runoff.
    """
    rain = np.asarray(rain, dtype=float)
    if curve_number is None:
        return np.zeros_like(rain)
    if not 0.0 < curve_number <= 100.0:
        raise InputError(f"curve_number must be in (0, 100], got {curve_number}")
    s = 25400.0 / curve_number - 254.0
    ia = 0.2 * s
    excess = np.maximum(rain - ia, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ro = np.where(excess > 0.0, excess**2 / (excess + s), 0.0)
    return ro


def depletion_from_theta(theta: Array, theta_fc: float, zr: Array) -> Array:
    """Root-zone depletion Dr (mm) from a volumetric water content theta (m3 m-3). Eq. 86.

    Dr = 1000 (theta_FC - theta) Zr; negative when wetter than field capacity.
    """
    return 1000.0 * (theta_fc - theta) * zr


def volume_m3(depth_mm: float, area_m2: float | None = None, area_ha: float | None = None) -> float:
    """Water volume (m3) of a depth (mm) over a field of `area_m2` m2 or `area_ha` ha."""
    if (area_m2 is None) == (area_ha is None):
        raise InputError("give exactly one of area_m2 or area_ha")
    area = area_m2 if area_m2 is not None else area_ha * 10_000.0  # type: ignore[operator]
    return depth_mm / 1000.0 * area


# --- a field and its daily balance ------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """What the balance needs to know about one field.

    crop, soil: from `forecasting.crops` / `forecasting.soils`.
    planting_date: day 1 of the crop's season (sowing or transplanting).
    area_m2: field area (m2), for volumes.
    zr_max: maximum root depth (m); default the crop's Table 22 smaller value (zr_min).
    zr_initial: root depth on day 1 (m); None keeps Zr at zr_max all season.
    curve_number: SCS curve number for runoff; None for a bunded field (no runoff).
    sensor_weight: weight w (0-1) of a soil-moisture reading against the model.
    application_efficiency: fraction (0-1] of applied water stored in the root zone.
    """

    crop: Crop
    soil: Soil
    planting_date: dt.date
    area_m2: float = 1000.0
    zr_max: float | None = None
    zr_initial: float | None = None
    curve_number: float | None = DEFAULT_CURVE_NUMBER
    sensor_weight: float = DEFAULT_SENSOR_WEIGHT
    application_efficiency: float = 1.0

    def root_depth(self, day: np.ndarray) -> np.ndarray:
        """Effective root depth Zr (m) on season day(s) `day` (1-based); see module notes."""
        zmax = self.crop.zr_min if self.zr_max is None else self.zr_max
        day = np.asarray(day, dtype=float)
        if self.zr_initial is None:
            return np.full(day.shape, zmax)
        full = self.crop.stage_ends[1]  # end of development: full cover
        return np.interp(day, [1.0, float(full)], [self.zr_initial, zmax])

    def season_day(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Day of season (1 = planting_date) of each date."""
        start = pd.Timestamp(self.planting_date)
        return ((dates.tz_localize(None).normalize() - start).days + 1).to_numpy()


def _daily_column(df: pd.DataFrame, name: str, default: float | None) -> np.ndarray:
    if name not in df.columns:
        if default is None:
            raise InputError(f"column {name!r} is required (have {sorted(map(str, df.columns))})")
        return np.full(len(df), default)
    values = df[name].to_numpy(dtype=float)
    bad = np.isnan(values)
    if bad.any():  # a missing day is not a dry day: the caller fills or forecasts it
        first = df.index[bad][0]
        raise InputError(f"column {name!r} has {int(bad.sum())} missing days, first {first}")
    return values


def _observed_theta(df: pd.DataFrame) -> np.ndarray:
    """theta_obs (m3 m-3) from a `theta_obs` column, or `soil_vwc` (%) / 100; NaN if none."""
    if "theta_obs" in df.columns:
        return df["theta_obs"].to_numpy(dtype=float)
    if "soil_vwc" in df.columns:
        return df["soil_vwc"].to_numpy(dtype=float) / 100.0
    return np.full(len(df), np.nan)


def run(weather: pd.DataFrame, field: Field, dr0: float = 0.0) -> pd.DataFrame:
    """The daily FAO-56 root-zone water balance of `field`, one output row per input day.

    weather: daily DatetimeIndex without gaps, inside the crop's season; columns
      et0 (mm day-1, required), rain (mm, default 0), irrigation (mm of net water that
      reached the root zone, default 0), capillary_rise (mm, default 0), and optionally
      theta_obs (m3 m-3) or soil_vwc (%, the SenML reading) where a sensor read that day
      (NaN on days without one).
    dr0: root-zone depletion (mm) at the end of the day before the first row; 0 after a
      soaking rain or irrigation (eq. 86 gives it from a measured theta).
    Returns columns: day (of season), stage, kc, zr (m), taw, p, raw (mm), ks, et0, etc
    (Kc ET0), etc_adj (eq. 80), rain, runoff, eff_rain, irrigation, capillary_rise, dp
    (eq. 88), dr_model (eq. 85 before the sensor), theta_obs, dr_obs (eq. 86), correction
    (dr - dr_model), dr (end of day, mm), irrigation_needed (mm to refill to field capacity
    on days the depletion reached RAW, else 0).
    """
    if not isinstance(weather.index, pd.DatetimeIndex):
        raise InputError("weather needs a daily DatetimeIndex")
    dates = weather.index
    if len(dates) > 1 and not (np.diff(dates.normalize().asi8) == 86_400 * 10**9).all():
        raise InputError("weather must have one row per consecutive day (no gaps, in order)")
    if not 0.0 <= field.sensor_weight <= 1.0:
        raise InputError(f"sensor_weight must be in 0..1, got {field.sensor_weight}")
    if not 0.0 < field.application_efficiency <= 1.0:
        raise InputError(
            f"application_efficiency must be in (0, 1], got {field.application_efficiency}"
        )
    day = field.season_day(dates)
    outside = (day < 1) | (day > field.crop.season_days)
    if outside.any():
        raise InputError(
            f"{int(outside.sum())} days fall outside {field.crop.key}'s season "
            f"({field.planting_date} + {field.crop.season_days} days), first {dates[outside][0]}"
        )
    et0 = _daily_column(weather, "et0", None)
    rain = _daily_column(weather, "rain", 0.0)
    irrigation = _daily_column(weather, "irrigation", 0.0)
    cr = _daily_column(weather, "capillary_rise", 0.0)
    theta_obs = _observed_theta(weather)

    kc = kc_curve(field.crop, day)
    zr = field.root_depth(day)
    taw = np.asarray(total_available_water(field.soil.theta_fc, field.soil.theta_wp, zr))
    etc = kc * et0
    p = depletion_fraction(field.crop.p, etc)
    raw = np.asarray(readily_available_water(taw, p))
    runoff = runoff_scs(rain, field.curve_number)
    eff_rain = rain - np.asarray(runoff)
    dr_obs = np.clip(depletion_from_theta(theta_obs, field.soil.theta_fc, zr), 0.0, taw)

    n = len(weather)
    ks, etc_adj, dp = np.empty(n), np.empty(n), np.empty(n)
    dr_model, dr_out = np.empty(n), np.empty(n)
    dr = float(dr0)
    w = field.sensor_weight
    for i in range(n):  # sequential by nature: each day starts from yesterday's depletion
        dr = min(max(dr, 0.0), taw[i])
        ks[i] = water_stress_coefficient(dr, taw[i], raw[i])
        etc_adj[i] = ks[i] * etc[i]  # eq. 80
        new = dr - eff_rain[i] - irrigation[i] - cr[i] + etc_adj[i]  # eq. 85
        dp[i] = max(-new, 0.0)  # eq. 88: water beyond field capacity drains
        new = max(new, 0.0)
        if new > taw[i]:  # eq. 87; the crop cannot take water below the wilting point
            etc_adj[i] -= new - taw[i]
            new = taw[i]
        dr_model[i] = new
        if np.isfinite(dr_obs[i]):
            new = new + w * (dr_obs[i] - new)
        dr_out[i] = dr = new

    out = pd.DataFrame(
        {
            "day": day,
            "stage": [stage_of_day(field.crop, int(d)) for d in day],
            "kc": kc,
            "zr": zr,
            "taw": taw,
            "p": p,
            "raw": raw,
            "ks": ks,
            "et0": et0,
            "etc": etc,
            "etc_adj": etc_adj,
            "rain": rain,
            "runoff": runoff,
            "eff_rain": eff_rain,
            "irrigation": irrigation,
            "capillary_rise": cr,
            "dp": dp,
            "dr_model": dr_model,
            "theta_obs": theta_obs,
            "dr_obs": dr_obs,
            "correction": dr_out - dr_model,
            "dr": dr_out,
        },
        index=weather.index,
    )
    out["irrigation_needed"] = np.where(out["dr"] >= out["raw"], out["dr"], 0.0)
    return out


# --- the next irrigation ----------------------------------------------------------------------


@dataclass(frozen=True)
class IrrigationAdvice:
    """When and how much to irrigate next.

    date: the day the depletion is forecast to reach RAW (irrigate on or before it).
    days_ahead: days from the first forecast day (0 = the first forecast day).
    net_mm: depth to refill the root zone to field capacity (= forecast Dr that day, mm).
    gross_mm: net_mm / application_efficiency (mm to apply).
    volume_m3: gross_mm over the field's area (m3).
    dr_mm, raw_mm, taw_mm: forecast depletion, RAW and TAW that day (mm).
    """

    date: dt.date
    days_ahead: int
    net_mm: float
    gross_mm: float
    volume_m3: float
    dr_mm: float
    raw_mm: float
    taw_mm: float


def next_irrigation(field: Field, forecast: pd.DataFrame, dr_now: float) -> IrrigationAdvice | None:
    """The next irrigation, by running the balance forward over a weather forecast.

    field: the field (its `area_m2` and `application_efficiency` give the volume).
    forecast: daily rows from the day after `dr_now` was known: et0 (mm day-1) and rain (mm,
      default 0); no sensor readings (the future has none), no irrigation.
    dr_now: today's end-of-day depletion (mm), e.g. the last `dr` of :func:`run`.
    Returns the first forecast day whose end-of-day depletion reaches RAW (Ks would fall
    below 1 the next day), with the depth that refills the root zone to field capacity;
    None when the depletion stays below RAW over the whole forecast. The forecast is cut at
    the end of the crop's season.
    """
    columns = [c for c in ("et0", "rain") if c in forecast.columns]
    if "et0" not in columns:
        raise InputError("forecast needs column 'et0' (mm/day)")
    day = field.season_day(pd.DatetimeIndex(forecast.index))
    forecast = forecast.loc[(day >= 1) & (day <= field.crop.season_days), columns]
    if forecast.empty:
        return None
    balance = run(forecast, field, dr0=dr_now)
    due = np.flatnonzero(balance["dr"].to_numpy() >= balance["raw"].to_numpy())
    if len(due) == 0:
        return None
    row = balance.iloc[due[0]]
    net = float(row["dr"])
    gross = net / field.application_efficiency
    return IrrigationAdvice(
        date=pd.Timestamp(balance.index[due[0]]).date(),
        days_ahead=int(due[0]),
        net_mm=net,
        gross_mm=gross,
        volume_m3=volume_m3(gross, area_m2=field.area_m2),
        dr_mm=net,
        raw_mm=float(row["raw"]),
        taw_mm=float(row["taw"]),
    )
