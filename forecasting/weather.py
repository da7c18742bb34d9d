"""Stochastic daily and sub-daily weather for Ninh Bình, for tests, backtests and the demo.

Place in the data path: none in production. It stands in for the field nodes and the
forecast feed: :func:`generate_daily` gives the inputs of :func:`forecasting.et0.daily`
(columns tmin, tmax, rh_min, rh_max, u2, rs, rain) and :func:`sensor_series` turns them into
15-min or hourly readings with the SenML names of the store (air_temp, air_rh, leaf_wet, rain),
so the water balance, the forecasters and the pest rules run on weather with known truth.

Climate: monthly normals of the Nam Định station (nearest long record to Ninh Bình) in
`data/ninh_binh_climate.csv`; that file names the source of every column and says which values
are approximate.

Method (a Richardson-type generator, WGEN):
- Wet or dry day: a two-state first-order Markov chain, Richardson, C.W. (1981). Stochastic
  simulation of daily precipitation, temperature, and solar radiation. *Water Resources
  Research* 17(1):182-190. Its transition probabilities come from the monthly number of rain
  days (fraction f of days wet) by Geng, S., Penning de Vries, F.W.T., Supit, I. (1986). A simple
  method for generating daily rainfall data. *Agricultural and Forest Meteorology* 36:363-376:
  P(W|D) = 0.75 f, P(W|W) = 0.25 + P(W|D); the chain's stationary wet fraction is then f.
- Amount on a wet day: 0.1 mm (the rain-day threshold of the normals) plus a gamma variate
  whose mean makes the monthly total; its scale from Geng et al. (1986),
  beta = -2.16 + 1.83 mu (mm, mu the mean amount per wet day), shape alpha = mu / beta.
- Tmax, Tmin and the relative sunshine s = n/N: Richardson's (1981) weakly stationary
  trivariate AR(1) residuals chi_t = A chi_{t-1} + B eps_t, with the generalised A and B
  matrices of Richardson, C.W., Wright, D.A. (1984). *WGEN: a model for generating daily weather
  variables.* USDA-ARS, ARS-8; rescaled here to unit variance. Tmax and radiation are
  conditioned on the day being wet or dry (Tmin is not, as in WGEN), with the wet/dry
  difference chosen so the monthly mean is the normal.
- Radiation Rs (MJ m-2 day-1) from s by Angstrom, FAO-56 eq. 35 (a_s = 0.25, b_s = 0.50):
  Rs = (0.25 + 0.5 s) Ra <= 0.75 Ra <= Rso (eq. 37), so a simulated day never exceeds clear sky.
- Humidity: a daily mean RH (the normal, moister on wet days), turned into a vapour pressure
  with FAO-56 eq. 19 (ea = RHmean/100 * es), limited so the dew point does not exceed Tmin;
  RHmax = ea / e°(Tmin), RHmin = ea / e°(Tmax) (eq. 17 read backwards).
- Wind: u10 gamma-distributed around the monthly mean (coefficient of variation 0.35, an
  assumption), reduced to 2 m by FAO-56 eq. 47.

Sub-daily shape (:func:`sensor_series`): temperature rises as a sine from Tmin at sunrise to
Tmax at 14:00 solar time and falls as a half cosine to the next day's Tmin at the next sunrise
(a simplification of the two-piece profiles of Parton, W.J., Logan, J.A. (1981), *Agricultural
Meteorology* 23:205-216); the vapour pressure is held for the day, so RH follows temperature,
as in the leaf-wetness reconstruction of Sentelhas et al. (2008, *Agric. For. Meteorol.*
148:392-400); a leaf-wetness sensor reads wet when RH >= 90 % (their threshold) or in rain.

Assumed, not from the normals (module constants, documented where defined): the day-to-day
standard deviations of Tmax and Tmin, the wet/dry contrasts, the wind's variability. The
monthly means, totals and wet-day frequencies are what the tests hold the generator to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from forecasting.et0 import (
    daylight_hours,
    extraterrestrial_radiation,
    saturation_vapour_pressure,
    wind_at_2m,
)

CLIMATE_CSV = Path(__file__).parent / "data" / "ninh_binh_climate.csv"
# Ninh Bình city; the normals' station (Nam Định) is 25 km away, on the same flat delta.
LATITUDE = 20.25  # decimal degrees north
LONGITUDE = 105.97  # decimal degrees east
ELEVATION = 3.0  # m above sea level
TIME_ZONE = "Asia/Ho_Chi_Minh"

WET_DAY_MM = 0.1  # the normals count a rain day at >= 0.1 mm
# Richardson & Wright (1984) generalised residual matrices for (Tmax, Tmin, radiation).
_A = np.array([[0.567, 0.086, -0.002], [0.253, 0.504, -0.050], [-0.006, -0.039, 0.244]])
_B = np.array([[0.781, 0.0, 0.0], [0.328, 0.637, 0.0], [0.238, -0.341, 0.873]])
# Assumed day-to-day standard deviations (°C) by month: winter monsoon cold surges make the
# delta's winter days far more variable than its summer days.
_TMAX_SD = np.array([3.0, 3.0, 2.8, 2.4, 2.0, 1.6, 1.5, 1.5, 1.6, 1.9, 2.4, 2.8])
_TMIN_SD = np.array([2.5, 2.3, 2.0, 1.6, 1.2, 1.0, 0.9, 0.9, 1.0, 1.4, 2.0, 2.4])
_TMAX_WET_DROP = 2.0  # °C, dry-day Tmax minus wet-day Tmax (assumed)
_SUN_WET_RATIO = 0.4  # wet-day relative sunshine / monthly mean (assumed)
_RH_WET_BUMP = 8.0  # % RH, wet-day daily mean RH minus dry-day (assumed)
_RH_SD = 4.0  # % RH, day-to-day noise on the daily mean (assumed)
_WIND_CV = 0.35  # coefficient of variation of daily wind (assumed)
_MIN_RANGE = 0.5  # °C, the smallest diurnal range allowed (Tmin <= Tmax - 0.5)
_T_PEAK_H = 14.0  # solar hour of the daily maximum


def load_normals(path: str | Path = CLIMATE_CSV) -> pd.DataFrame:
    """Monthly normals, indexed by month 1-12: tmax, tmean, tmin (°C), rh (%), rain_mm (mm per
    month), rain_days (days >= 0.1 mm), sunshine_h (h per month), wind_10m (m s-1)."""
    normals = pd.read_csv(path, comment="#").set_index("month").sort_index()
    if list(normals.index) != list(range(1, 13)):
        raise ValueError(f"{path}: need exactly the months 1..12, got {list(normals.index)}")
    return normals


def _stationary_scale(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-variable std of chi under chi_t = A chi_{t-1} + B eps_t (Lyapunov fixed point)."""
    m0 = b @ b.T
    for _ in range(200):
        m0 = a @ m0 @ a.T + b @ b.T
    return np.sqrt(np.diag(m0))


_CHI_SCALE = _stationary_scale(_A, _B)


@dataclass(frozen=True)
class _MonthParams:
    """Per-day parameter arrays, one value per simulated day."""

    p_wd: np.ndarray  # P(wet | yesterday dry)
    p_ww: np.ndarray  # P(wet | yesterday wet)
    gamma_shape: np.ndarray
    gamma_scale: np.ndarray  # mm


def _rain_parameters(normals: pd.DataFrame, month: np.ndarray, ndays: np.ndarray) -> _MonthParams:
    f = np.clip(normals["rain_days"].to_numpy() / ndays, 0.0, 1.0)  # fraction of days wet
    p_wd = 0.75 * f  # Geng et al. (1986)
    p_ww = 0.25 + p_wd
    days_wet = np.maximum(normals["rain_days"].to_numpy(float), 1e-9)
    mu = np.maximum(normals["rain_mm"].to_numpy(float) / days_wet, 0.2)
    mu_excess = np.maximum(mu - WET_DAY_MM, 0.05)  # the gamma part above the 0.1 mm threshold
    scale = np.maximum(-2.16 + 1.83 * mu_excess, 0.5 * mu_excess)  # Geng et al. (1986)
    shape = mu_excess / scale
    idx = month - 1
    return _MonthParams(p_wd[idx], p_ww[idx], shape[idx], scale[idx])


def generate_daily(
    start: str | dt.date | pd.Timestamp,
    days: int,
    seed: int | np.random.Generator | None = 0,
    normals: pd.DataFrame | None = None,
    latitude: float = LATITUDE,
    elevation: float = ELEVATION,
) -> pd.DataFrame:
    """Simulate `days` days of daily weather from `start` (a local calendar date).

    seed: an int (reproducible), a numpy Generator, or None (fresh entropy).
    normals: monthly normals as :func:`load_normals` returns (default: Ninh Bình).
    latitude: decimal degrees north (for Ra, N); elevation: m (for Rso, informational).
    Returns a frame indexed by date (tz-naive midnight timestamps, name "date") with the
    columns of :func:`forecasting.et0.daily`: tmin, tmax (°C), rh_min, rh_max (%), u2 (m s-1
    at 2 m), rs (MJ m-2 day-1), and rain (mm day-1); plus sunshine (h day-1).
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    normals = load_normals() if normals is None else normals
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dates = pd.date_range(pd.Timestamp(start).normalize(), periods=days, freq="D", name="date")
    month = dates.month.to_numpy()
    idx = month - 1
    ndays_month = np.asarray(dates.days_in_month, dtype=float)
    # per-month arrays broadcast to days (the month's own length for f = rain_days / days)
    per_month_len = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    rain = _rain_parameters(normals, np.arange(1, 13), per_month_len)
    p_wd, p_ww = rain.p_wd[idx], rain.p_ww[idx]
    shape, scale = rain.gamma_shape[idx], rain.gamma_scale[idx]

    # 1. wet/dry occurrence: two-state Markov chain (Richardson 1981); start from the
    #    stationary probability so the first day is not biased.
    u = rng.random(days)
    wet = np.empty(days, dtype=bool)
    wet[0] = u[0] < p_wd[0] / (1.0 - p_ww[0] + p_wd[0])
    for t in range(1, days):
        wet[t] = u[t] < (p_ww[t] if wet[t - 1] else p_wd[t])
    amount = WET_DAY_MM + rng.gamma(shape, scale)
    rain_mm = np.where(wet, amount, 0.0)

    # 2. AR(1) residuals for (Tmax, Tmin, s), unit variance.
    eps = rng.standard_normal((days, 3))
    chi = np.empty((days, 3))
    prev = eps[0] * 0.0
    for t in range(days):
        prev = _A @ prev + _B @ eps[t]
        chi[t] = prev
    chi /= _CHI_SCALE

    f = np.clip(normals["rain_days"].to_numpy() / per_month_len, 0.0, 1.0)[idx]  # P(wet)
    tmax_n, tmin_n = normals["tmax"].to_numpy()[idx], normals["tmin"].to_numpy()[idx]
    # Tmax conditioned on wet/dry, unconditional mean = the normal.
    tmax_mean = np.where(wet, tmax_n - _TMAX_WET_DROP * (1.0 - f), tmax_n + _TMAX_WET_DROP * f)
    tmax = tmax_mean + _TMAX_SD[idx] * chi[:, 0]
    tmin = tmin_n + _TMIN_SD[idx] * chi[:, 1]
    tmin = np.minimum(tmin, tmax - _MIN_RANGE)

    # 3. Radiation from relative sunshine s = n/N (FAO-56 eq. 34, 35).
    doy = dates.day_of_year.to_numpy()
    big_n = daylight_hours(latitude, doy)
    mid_doy = (dates.to_period("M").to_timestamp() + pd.Timedelta(days=14)).day_of_year
    s_mean = (
        normals["sunshine_h"].to_numpy()[idx]
        / ndays_month
        / daylight_hours(latitude, mid_doy.to_numpy())
    )
    s_wet = _SUN_WET_RATIO * s_mean
    s_dry = np.clip(s_mean * (1.0 - f * _SUN_WET_RATIO) / np.maximum(1.0 - f, 1e-6), 0.0, 0.95)
    s_cond = np.where(wet, s_wet, s_dry)
    s = np.clip(s_cond + 0.5 * np.minimum(s_cond, 1.0 - s_cond) * chi[:, 2], 0.0, 1.0)
    ra = extraterrestrial_radiation(latitude, doy)
    rs = (0.25 + 0.50 * s) * ra  # eq. 35

    # 4. Humidity: daily mean RH -> ea (eq. 19) -> RHmax, RHmin (eq. 17 backwards).
    rh_n = normals["rh"].to_numpy()[idx]
    rh_day = rh_n + _RH_WET_BUMP * (wet - f) + _RH_SD * rng.standard_normal(days)
    rh_day = np.clip(rh_day, 30.0, 100.0)
    es_min, es_max = saturation_vapour_pressure(tmin), saturation_vapour_pressure(tmax)
    ea = np.minimum(rh_day / 100.0 * (es_min + es_max) / 2.0, es_min)
    rh_max = np.minimum(100.0 * ea / es_min, 100.0)
    rh_min = 100.0 * ea / es_max

    # 5. Wind: gamma around the monthly mean at the mast, then FAO-56 eq. 47 to 2 m.
    u10_mean = normals["wind_10m"].to_numpy()[idx]
    k = 1.0 / _WIND_CV**2
    u10 = rng.gamma(k, u10_mean / k)
    u2 = wind_at_2m(u10, 10.0)

    return pd.DataFrame(
        {
            "tmin": tmin,
            "tmax": tmax,
            "rh_min": rh_min,
            "rh_max": rh_max,
            "u2": u2,
            "rs": rs,
            "rain": rain_mm,
            "sunshine": s * big_n,
        },
        index=dates,
    )


def _diurnal_temperature(
    hour: np.ndarray,
    day: np.ndarray,
    tmin: np.ndarray,
    tmax: np.ndarray,
    sunrise: np.ndarray,
) -> np.ndarray:
    """Air temperature (°C) at local solar `hour` (0-24) of day number `day` (index into the
    daily arrays): sine rise Tmin(sunrise) -> Tmax(14 h), half-cosine fall to the next
    day's Tmin at its sunrise (Parton & Logan 1981 shape, simplified)."""
    last = len(tmin) - 1
    prev_day, next_day = np.maximum(day - 1, 0), np.minimum(day + 1, last)
    rise = sunrise[day]
    t = np.empty_like(hour)

    morning = hour < rise  # still cooling from yesterday's peak
    span = rise[morning] + 24.0 - _T_PEAK_H
    x = (hour[morning] + 24.0 - _T_PEAK_H) / span
    t[morning] = tmin[day[morning]] + (tmax[prev_day[morning]] - tmin[day[morning]]) * (
        0.5 * (1.0 + np.cos(np.pi * x))
    )

    rising = (hour >= rise) & (hour < _T_PEAK_H)
    x = (hour[rising] - rise[rising]) / (_T_PEAK_H - rise[rising])
    t[rising] = tmin[day[rising]] + (tmax[day[rising]] - tmin[day[rising]]) * np.sin(
        0.5 * np.pi * x
    )

    evening = hour >= _T_PEAK_H
    nd = next_day[evening]
    span = sunrise[nd] + 24.0 - _T_PEAK_H
    x = (hour[evening] - _T_PEAK_H) / span
    t[evening] = tmin[nd] + (tmax[day[evening]] - tmin[nd]) * (0.5 * (1.0 + np.cos(np.pi * x)))
    return t


def sensor_series(
    daily: pd.DataFrame,
    freq: str = "1h",
    seed: int | np.random.Generator | None = 0,
    tz: str = TIME_ZONE,
    latitude: float = LATITUDE,
    longitude: float = LONGITUDE,
) -> pd.DataFrame:
    """Sensor-like readings at `freq` ("1h", "15min", ...) from daily weather.

    daily: as :func:`generate_daily` returns (tmin, tmax °C; rh_min, rh_max %; rain mm day-1),
    indexed by local date. tz: the farm's time zone; latitude, longitude: decimal degrees.
    Returns a tz-aware frame (timestamps = start of each interval) with air_temp (°C), air_rh
    (%, 0-100), leaf_wet (0-1, the wet fraction a sensor reports) and rain (mm per interval;
    each day's rain falls in one shower of a few hours, so the daily totals are preserved).
    """
    step = pd.Timedelta(freq)
    if step <= pd.Timedelta(0) or pd.Timedelta(hours=1) % step != pd.Timedelta(0):
        raise ValueError(f"freq must divide one hour, got {freq!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dates = pd.DatetimeIndex(daily.index).normalize()
    n_days = len(dates)
    index = pd.date_range(
        dates[0].tz_localize(tz), periods=n_days * int(pd.Timedelta(days=1) / step), freq=step
    )
    local = index.tz_localize(None)
    day = ((local.normalize() - dates[0]) / pd.Timedelta(days=1)).to_numpy().astype(int)
    clock_h = ((local - local.normalize()) / pd.Timedelta(hours=1)).to_numpy()
    utc_offset_h = (local[0] - index[0].tz_convert("UTC").tz_localize(None)) / pd.Timedelta(hours=1)
    # local solar hour = clock hour + 4 min per degree east of the zone's meridian
    solar_h = (clock_h + (longitude - 15.0 * utc_offset_h) / 15.0) % 24.0
    # daylight_hours of an array is an array
    sunrise = cast(np.ndarray, 12.0 - daylight_hours(latitude, dates.day_of_year.to_numpy()) / 2.0)

    tmin, tmax = daily["tmin"].to_numpy(float), daily["tmax"].to_numpy(float)
    air_temp = _diurnal_temperature(solar_h, day, tmin, tmax, sunrise)
    # constant vapour pressure through the day (FAO-56 eq. 17 read backwards)
    ea = (
        saturation_vapour_pressure(tmin) * daily["rh_max"].to_numpy(float)
        + saturation_vapour_pressure(tmax) * daily["rh_min"].to_numpy(float)
    ) / 200.0
    air_rh = np.clip(100.0 * ea[day] / saturation_vapour_pressure(air_temp), 0.0, 100.0)

    # rain: one shower a wet day, 1 + Poisson(rain/4) hours long, random start, random split
    slots_per_hour = int(pd.Timedelta(hours=1) / step)
    rain_h = np.zeros((n_days, 24))
    day_rain = daily["rain"].to_numpy(float)
    for d in np.flatnonzero(day_rain > 0):
        hours = int(min(24, 1 + rng.poisson(day_rain[d] / 4.0)))
        first = int(rng.integers(0, 24 - hours + 1))
        rain_h[d, first : first + hours] = day_rain[d] * rng.dirichlet(np.ones(hours))
    hour_of_day = np.floor(clock_h).astype(int)
    rain = rain_h[day, hour_of_day] / slots_per_hour

    leaf_wet = np.where(rain > 0, 1.0, np.clip((air_rh - 85.0) / 10.0, 0.0, 1.0))
    return pd.DataFrame(
        {"air_temp": air_temp, "air_rh": air_rh, "leaf_wet": leaf_wet, "rain": rain},
        index=index,
    )
