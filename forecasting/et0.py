"""Reference evapotranspiration ET0 by FAO-56 Penman-Monteith: daily, monthly and hourly.

Source: Allen, R.G., Pereira, L.S., Raes, D., Smith, M. (1998). *Crop evapotranspiration:
guidelines for computing crop water requirements.* FAO Irrigation and Drainage Paper 56, Rome.
"eq. N" below is that paper's equation N (chapter 3 for the intermediates, chapter 4 for the
examples). Place in the data path: the water balance, the forecaster and `ruong forecast et0`
call these functions on inputs that `forecasting.aggregate` builds from the sensor readings.

Equations used
--------------
- ET0, daily/monthly: eq. 6; hourly: eq. 53 (Cn = 900 and 37, Cd = 0.34).
- Atmospheric pressure P (kPa) from elevation: eq. 7, unless a measured `pressure` is given.
- Psychrometric constant gamma (kPa °C-1): eq. 8.
- Saturation vapour pressure e°(T) (kPa): eq. 11; daily mean es from Tmax and Tmin: eq. 12.
- Slope of the vapour pressure curve delta (kPa °C-1) at the mean temperature: eq. 13.
- Actual vapour pressure ea (kPa) from RHmax and RHmin: eq. 17; hourly from RH: eq. 54.
- Extraterrestrial radiation Ra (MJ m-2 day-1): eq. 21 with dr (eq. 23), solar declination
  (eq. 24) and sunset hour angle (eq. 25); hourly Ra: eq. 28 with the solar time angle at the
  period's midpoint (eq. 31), the seasonal correction Sc (eq. 32, 33) and eq. 29-30.
- Daylight hours N: eq. 34; Rs from sunshine hours (Angstrom): eq. 35.
- Clear-sky radiation Rso = (0.75 + 2e-5 z) Ra: eq. 37.
- Net shortwave Rns = (1 - 0.23) Rs: eq. 38; net longwave Rnl: eq. 39; Rn = Rns - Rnl: eq. 40.
- Soil heat flux G: 0 for days (eq. 42), from neighbouring months' temperatures for months
  (eq. 43, 44), 0.1 Rn by day and 0.5 Rn at night for hours (eq. 45, 46).
- Missing Rs: Hargreaves' radiation formula Rs = kRs sqrt(Tmax - Tmin) Ra: eq. 50,
  kRs = 0.16 inland, 0.19 coastal.
- Wind measured at z m instead of 2 m: u2 = uz 4.87 / ln(67.8 z - 5.42): eq. 47.

Units: temperatures °C, relative humidity %, wind m s-1 at 2 m, radiation MJ m-2 per period
(day or hour), pressure kPa, latitude/longitude decimal degrees (north and east positive),
elevation m above sea level. ET0 is mm per period (mm day-1 or mm h-1).

Choices FAO-56 leaves open, and ours:
- Rs/Rso in eq. 39 is limited to <= 1.0 (FAO-56) and >= 0.3 (ASCE-EWRI 2005), because below
  about 0.26 the cloudiness factor changes sign.
- Hourly Rs/Rso when the sun is low (< 0.3 rad above the horizon at the period's midpoint, the
  ASCE-EWRI 2005 threshold): the ratio of the period 2-3 h before sunset, as FAO-56 advises
  (notes to eq. 39 and Example 19), carried forward through the night; before the first such
  period in the series, `night_rs_rso` (0.8, the value Example 19 uses).
- Hourly daytime (eq. 45 vs 46): the sun is above the horizon at the period's midpoint.
- ET0 is not clipped at zero: a negative hour is dew, and clipping would bias daily sums.
- Where `rs` is missing (no column, or NaN rows) it is estimated with eq. 50 and the row is
  flagged: the `*_terms` functions return a boolean `rs_estimated` column, and `daily` /
  `monthly` warn with :class:`RadiationEstimatedWarning` naming how many rows were estimated.

Why our own code rather than pyet or refet
------------------------------------------
Both are validated against here (tests/forecasting/test_et0_libraries.py: a year of random
daily inputs at four sites agrees within 0.005 mm/day). We do not call them because:
pyet 1.5 pins pandas < 3 (Ruộng allows pandas >= 2.2 and runs on 3.x) and pulls in xarray;
refet takes numpy arrays, needs ea or the dew point rather than RHmax/RHmin, and defaults to
ASCE-EWRI 2005 choices (its own clear-sky model) rather than FAO-56's; neither takes our frames
as they are (a tz-aware index from which hourly solar time follows) nor returns which rows used
estimated radiation, which the farmer-facing advice must say. The whole method is a few hundred
lines of cited, vectorised equations that a reader of FAO-56 can check line by line, so the
two libraries stay test-only oracles instead of runtime dependencies.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

GSC = 0.0820  # solar constant, MJ m-2 min-1 (eq. 21)
SIGMA_DAY = 4.903e-9  # Stefan-Boltzmann constant, MJ K-4 m-2 day-1 (eq. 39)
SIGMA_HOUR = 2.043e-10  # the same per hour, MJ K-4 m-2 h-1 (notes to eq. 53)
ALBEDO = 0.23  # hypothetical grass reference crop (eq. 38)
KRS_INTERIOR = 0.16  # eq. 50, interior locations
KRS_COASTAL = 0.19  # eq. 50, coastal locations
_LOW_SUN_RAD = 0.3  # solar elevation below which an hourly Rs/Rso is not trusted (ASCE 2005)

Array = np.ndarray | pd.Series | float


class InputError(ValueError):
    """The input frame cannot give ET0: a missing column or an unusable index."""


class RadiationEstimatedWarning(UserWarning):
    """Some rows had no measured solar radiation; Hargreaves' eq. 50 estimate was used."""


# --- atmosphere and humidity (FAO-56 chapter 3) ----------------------------------------------


def atmospheric_pressure(elevation: Array) -> Array:
    """Atmospheric pressure P (kPa) at `elevation` (m above sea level). FAO-56 eq. 7."""
    return 101.3 * ((293.0 - 0.0065 * elevation) / 293.0) ** 5.26


def psychrometric_constant(pressure: Array) -> Array:
    """Psychrometric constant gamma (kPa °C-1) from pressure P (kPa). FAO-56 eq. 8."""
    return 0.665e-3 * pressure


def saturation_vapour_pressure(t: Array) -> Array:
    """Saturation vapour pressure e°(T) (kPa) at air temperature `t` (°C). FAO-56 eq. 11."""
    return 0.6108 * np.exp(17.27 * t / (t + 237.3))


def slope_vapour_pressure_curve(t: Array) -> Array:
    """Slope delta (kPa °C-1) of the e°(T) curve at air temperature `t` (°C). FAO-56 eq. 13."""
    return 4098.0 * saturation_vapour_pressure(t) / (t + 237.3) ** 2


def actual_vapour_pressure(tmin: Array, tmax: Array, rh_min: Array, rh_max: Array) -> Array:
    """Actual vapour pressure ea (kPa) from daily Tmin, Tmax (°C) and RHmin, RHmax (%).

    FAO-56 eq. 17: ea = [e°(Tmin) RHmax/100 + e°(Tmax) RHmin/100] / 2.
    """
    return (
        saturation_vapour_pressure(tmin) * rh_max / 100.0
        + saturation_vapour_pressure(tmax) * rh_min / 100.0
    ) / 2.0


# --- radiation (FAO-56 chapter 3) ----------------------------------------------------------


def inverse_relative_distance(doy: Array) -> Array:
    """Inverse relative Earth-Sun distance dr (-) on day of year `doy`. FAO-56 eq. 23."""
    return 1.0 + 0.033 * np.cos(2.0 * np.pi * doy / 365.0)


def solar_declination(doy: Array) -> Array:
    """Solar declination delta (rad) on day of year `doy`. FAO-56 eq. 24."""
    return 0.409 * np.sin(2.0 * np.pi * doy / 365.0 - 1.39)


def sunset_hour_angle(latitude_rad: Array, declination: Array) -> Array:
    """Sunset hour angle omega_s (rad) from latitude and declination (rad). FAO-56 eq. 25.

    The arccos argument is limited to [-1, 1] so that polar day (pi) and polar night (0) are
    defined; FAO-56 only covers latitudes where the sun rises and sets.
    """
    return np.arccos(np.clip(-np.tan(latitude_rad) * np.tan(declination), -1.0, 1.0))


def extraterrestrial_radiation(latitude: float, doy: Array) -> Array:
    """Daily extraterrestrial radiation Ra (MJ m-2 day-1). FAO-56 eq. 21 (with eq. 22-25).

    latitude: decimal degrees, north positive. doy: day of year J (1-366).
    """
    phi = np.deg2rad(latitude)
    dr = inverse_relative_distance(doy)
    decl = solar_declination(doy)
    ws = sunset_hour_angle(phi, decl)
    return (
        (24.0 * 60.0 / np.pi)
        * GSC
        * dr
        * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))
    )


def daylight_hours(latitude: float, doy: Array) -> Array:
    """Daylight hours N (h) at `latitude` (decimal degrees) on day `doy`. FAO-56 eq. 34."""
    phi = np.deg2rad(latitude)
    return 24.0 / np.pi * sunset_hour_angle(phi, solar_declination(doy))


def rs_from_sunshine(
    n: Array, latitude: float, doy: Array, a_s: float = 0.25, b_s: float = 0.50
) -> Array:
    """Solar radiation Rs (MJ m-2 day-1) from sunshine duration `n` (h). FAO-56 eq. 35.

    Angstrom: Rs = (a_s + b_s n/N) Ra, with N from eq. 34 and Ra from eq. 21; a_s = 0.25,
    b_s = 0.50 where no local calibration exists.
    """
    return (a_s + b_s * n / daylight_hours(latitude, doy)) * extraterrestrial_radiation(
        latitude, doy
    )


def clear_sky_radiation(ra: Array, elevation: float) -> Array:
    """Clear-sky solar radiation Rso (same unit as `ra`); elevation in m. FAO-56 eq. 37."""
    return (0.75 + 2e-5 * elevation) * ra


def rs_hargreaves(tmin: Array, tmax: Array, ra: Array, krs: float = KRS_INTERIOR) -> Array:
    """Solar radiation Rs (unit of `ra`) from the daily temperature range (°C). FAO-56 eq. 50.

    krs: 0.16 for interior locations, 0.19 for coastal ones (KRS_INTERIOR, KRS_COASTAL).
    """
    return krs * np.sqrt(np.maximum(tmax - tmin, 0.0)) * ra


def _cloudiness(rs: Array, rso: Array) -> Array:
    """The (1.35 Rs/Rso - 0.35) factor of eq. 39, Rs/Rso limited to [0.3, 1.0]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(rs / rso, 0.3, 1.0)
    return 1.35 * ratio - 0.35


def net_longwave_radiation(tmin: Array, tmax: Array, ea: Array, rs: Array, rso: Array) -> Array:
    """Daily net outgoing longwave radiation Rnl (MJ m-2 day-1). FAO-56 eq. 39.

    tmin, tmax: °C (converted with K = °C + 273.16); ea: kPa; rs, rso: MJ m-2 day-1.
    """
    t4 = ((tmax + 273.16) ** 4 + (tmin + 273.16) ** 4) / 2.0
    return SIGMA_DAY * t4 * (0.34 - 0.14 * np.sqrt(ea)) * _cloudiness(rs, rso)


def wind_at_2m(uz: Array, z: float) -> Array:
    """Wind speed at 2 m (m s-1) from `uz` (m s-1) measured `z` m above ground. FAO-56 eq. 47."""
    return uz * 4.87 / np.log(67.8 * z - 5.42)


def soil_heat_flux_monthly(t_prev: Array, t_month: Array, t_next: Array) -> np.ndarray:
    """Monthly soil heat flux G (MJ m-2 day-1) from mean monthly temperatures (°C).

    FAO-56 eq. 43, G = 0.07 (T[i+1] - T[i-1]), where the next month is known; else eq. 44,
    G = 0.14 (T[i] - T[i-1]); 0 where the previous month is unknown too (NaN marks unknown).
    """
    t_prev, t_month, t_next = (np.asarray(a, dtype=float) for a in (t_prev, t_month, t_next))
    return np.where(
        np.isfinite(t_next) & np.isfinite(t_prev),
        0.07 * (t_next - t_prev),
        np.where(np.isfinite(t_prev), 0.14 * (t_month - t_prev), 0.0),
    )


def _penman_monteith(
    delta: Array, gamma: Array, rn: Array, g: Array, t: Array, u2: Array, vpd: Array, cn: float
) -> Array:
    """FAO-56 eq. 6 (cn = 900, per day) and eq. 53 (cn = 37, per hour): ET0 in mm per period."""
    return (0.408 * delta * (rn - g) + gamma * cn / (t + 273.0) * u2 * vpd) / (
        delta + gamma * (1.0 + 0.34 * u2)
    )


# --- frame helpers --------------------------------------------------------------------------


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        raise InputError(f"column {name!r} is required (have {sorted(map(str, df.columns))})")
    return df[name].to_numpy(dtype=float)


def _optional(df: pd.DataFrame, name: str) -> np.ndarray:
    """The column as floats, all NaN when absent."""
    if name in df.columns:
        return df[name].to_numpy(dtype=float)
    return np.full(len(df), np.nan)


def _vapour_pressure(df: pd.DataFrame, tmin: np.ndarray, tmax: np.ndarray) -> np.ndarray:
    """ea (kPa): a measured `ea` column where present, else eq. 17 from rh_min/rh_max."""
    ea = _optional(df, "ea")
    has_rh = "rh_min" in df.columns or "rh_max" in df.columns
    if "ea" in df.columns and not has_rh:
        return ea
    from_rh = actual_vapour_pressure(tmin, tmax, _column(df, "rh_min"), _column(df, "rh_max"))
    ea = np.where(np.isnan(ea), from_rh, ea)
    return ea


def _pressure(df: pd.DataFrame, elevation: float) -> np.ndarray:
    """P (kPa): a measured `pressure` column where present, else eq. 7."""
    return np.where(np.isnan(p := _optional(df, "pressure")), atmospheric_pressure(elevation), p)


def _terms(
    df: pd.DataFrame,
    latitude: float,
    elevation: float,
    doy: np.ndarray,
    krs: float,
    g: np.ndarray | float,
) -> pd.DataFrame:
    """All eq. 6 terms for daily-step rows (days, or months' average days)."""
    tmin, tmax = _column(df, "tmin"), _column(df, "tmax")
    u2 = _column(df, "u2")
    tmean = (tmin + tmax) / 2.0  # FAO-56 eq. 9
    gamma = psychrometric_constant(_pressure(df, elevation))
    es = (saturation_vapour_pressure(tmax) + saturation_vapour_pressure(tmin)) / 2.0  # eq. 12
    ea = _vapour_pressure(df, tmin, tmax)
    delta = slope_vapour_pressure_curve(tmean)
    ra = extraterrestrial_radiation(latitude, doy)
    rs_measured = _optional(df, "rs")
    rs_estimated = np.isnan(rs_measured)
    rs = np.where(rs_estimated, rs_hargreaves(tmin, tmax, ra, krs), rs_measured)
    rso = clear_sky_radiation(ra, elevation)
    rns = (1.0 - ALBEDO) * rs  # eq. 38
    rnl = net_longwave_radiation(tmin, tmax, ea, rs, rso)
    rn = rns - rnl  # eq. 40
    g = np.broadcast_to(np.asarray(g, dtype=float), rn.shape)
    et0 = _penman_monteith(delta, gamma, rn, g, tmean, u2, es - ea, cn=900.0)
    return pd.DataFrame(
        {
            "tmean": tmean,
            "delta": delta,
            "gamma": gamma,
            "es": es,
            "ea": ea,
            "ra": ra,
            "rs": rs,
            "rs_estimated": rs_estimated,
            "rso": rso,
            "rns": rns,
            "rnl": rnl,
            "rn": rn,
            "g": g,
            "et0": et0,
        },
        index=df.index,
    )


def _warn_estimated(terms: pd.DataFrame, krs: float, what: str) -> None:
    n = int(terms["rs_estimated"].sum())
    if n:
        warnings.warn(
            f"{n} of {len(terms)} {what} had no measured solar radiation (rs); estimated "
            f"from the temperature range with Hargreaves, FAO-56 eq. 50, kRs={krs}",
            RadiationEstimatedWarning,
            stacklevel=3,
        )


def _datetime_index(df: pd.DataFrame) -> pd.DatetimeIndex:
    try:
        return pd.DatetimeIndex(df.index)
    except (TypeError, ValueError) as exc:
        raise InputError(f"index must hold dates, got {df.index.dtype}") from exc


# --- public ET0 -----------------------------------------------------------------------------


def daily_terms(
    df: pd.DataFrame, latitude: float, elevation: float, krs: float = KRS_INTERIOR
) -> pd.DataFrame:
    """Daily ET0 with every FAO-56 intermediate, one row per input row.

    df: indexed by date; columns tmin, tmax (°C), rh_min, rh_max (%), u2 (m s-1 at 2 m),
    rs (MJ m-2 day-1, optional: NaN or absent rows use eq. 50 with `krs`); optional `ea`
    (kPa, replaces eq. 17) and `pressure` (kPa, replaces eq. 7).
    latitude: decimal degrees (north positive); elevation: m above sea level.
    Returns columns tmean (°C), delta, gamma (kPa °C-1), es, ea (kPa), ra, rs, rso, rns, rnl,
    rn, g (MJ m-2 day-1), rs_estimated (bool) and et0 (mm day-1, eq. 6 with G = 0, eq. 42).
    Warns RadiationEstimatedWarning when any rs was estimated.
    """
    doy = _datetime_index(df).day_of_year.to_numpy()
    terms = _terms(df, latitude, elevation, doy, krs, g=0.0)
    _warn_estimated(terms, krs, "days")
    return terms


def daily(
    df: pd.DataFrame, latitude: float, elevation: float, krs: float = KRS_INTERIOR
) -> pd.Series:
    """Daily reference evapotranspiration ET0 (mm day-1), FAO-56 eq. 6.

    Inputs as :func:`daily_terms` (tmin, tmax °C; rh_min, rh_max %; u2 m s-1; rs MJ m-2
    day-1); latitude in decimal degrees, elevation in m. Rows without `rs` use Hargreaves'
    radiation (eq. 50, `krs` 0.16 interior / 0.19 coastal) and a RadiationEstimatedWarning
    is issued; call :func:`daily_terms` for the per-row `rs_estimated` flag.
    """
    return daily_terms(df, latitude, elevation, krs)["et0"]


def monthly_terms(
    df: pd.DataFrame,
    latitude: float,
    elevation: float,
    t_prev: float | None = None,
    t_next: float | None = None,
    krs: float = KRS_INTERIOR,
) -> pd.DataFrame:
    """Monthly ET0 terms from mean monthly data (mm day-1 averaged over the month).

    df: one row per month (DatetimeIndex anywhere in the month, or a monthly PeriodIndex),
    columns as :func:`daily_terms` holding monthly means of the daily values. Ra is for the
    15th of the month (as FAO-56 Table 2.6). G uses eq. 43/44 from the mean temperature
    (Tmax + Tmin)/2 of the neighbouring rows when they are the adjacent months; `t_prev` and
    `t_next` (°C) are the mean temperatures of the month before the first row and after the
    last row, when known.
    """
    if isinstance(df.index, pd.PeriodIndex):
        months = df.index.asfreq("M")
    else:
        months = _datetime_index(df).to_period("M")
    doy = (months.to_timestamp() + pd.Timedelta(days=14)).day_of_year.to_numpy()
    tmean = (_column(df, "tmin") + _column(df, "tmax")) / 2.0
    step = np.asarray(months.asi8)
    before, after = np.full(len(df), np.nan), np.full(len(df), np.nan)
    adjacent = np.diff(step) == 1
    before[1:] = np.where(adjacent, tmean[:-1], np.nan)
    after[:-1] = np.where(adjacent, tmean[1:], np.nan)
    if len(df):
        before[0] = np.nan if t_prev is None else t_prev
        after[-1] = np.nan if t_next is None else t_next
    g = soil_heat_flux_monthly(before, tmean, after)
    terms = _terms(df, latitude, elevation, doy, krs, g=g)
    _warn_estimated(terms, krs, "months")
    return terms


def monthly(
    df: pd.DataFrame,
    latitude: float,
    elevation: float,
    t_prev: float | None = None,
    t_next: float | None = None,
    krs: float = KRS_INTERIOR,
) -> pd.Series:
    """Monthly ET0 (mm day-1, the month's average day), FAO-56 eq. 6 with G from eq. 43/44.

    See :func:`monthly_terms` for inputs and units.
    """
    return monthly_terms(df, latitude, elevation, t_prev, t_next, krs)["et0"]


def hourly_terms(
    df: pd.DataFrame,
    latitude: float,
    longitude: float,
    elevation: float,
    label: Literal["start", "end"] = "start",
    night_rs_rso: float = 0.8,
) -> pd.DataFrame:
    """Hourly ET0 with its FAO-56 intermediates, one row per hour.

    df: tz-aware DatetimeIndex in increasing order, one row per hour; `label` says whether a
    timestamp is the start of its hour (pandas' resample default: 14:00 is 14:00-15:00) or
    its end (14:00 is 13:00-14:00, the convention of many loggers). Columns t (°C), rh (%),
    u2 (m s-1 at 2 m), rs (MJ m-2 h-1); optional `pressure` (kPa). There is no hourly
    radiation estimate (FAO-56 eq. 50 is daily): rows with NaN rs give NaN ET0.
    latitude, longitude: decimal degrees, north and east positive; elevation: m.
    The solar time (eq. 31) uses the standard clock time at the period's midpoint and the
    time zone's meridian Lz = 15° x UTC offset of each timestamp, so daylight-saving
    timestamps come out right. Returns omega (rad), ra, rso, rs, rnl, rn, g (MJ m-2 h-1),
    rs_rso (the ratio used in eq. 39), es, ea (kPa), delta, gamma (kPa °C-1), et0 (mm h-1).
    """
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None:
        raise InputError("hourly ET0 needs a tz-aware DatetimeIndex (solar time, eq. 31-33)")
    if not df.index.is_monotonic_increasing:
        raise InputError("hourly ET0 needs the index in increasing time order")
    if label not in ("start", "end"):
        raise InputError(f"label must be 'start' or 'end', got {label!r}")
    half = pd.Timedelta(minutes=30)
    mid = df.index + half if label == "start" else df.index - half
    local = mid.tz_localize(None)  # standard (or daylight-saving) clock time
    utc_offset_h = (local - mid.tz_convert("UTC").tz_localize(None)) / pd.Timedelta(hours=1)
    clock_h = (local - local.normalize()) / pd.Timedelta(hours=1)
    doy = local.day_of_year.to_numpy()
    # FAO-56 measures longitudes in degrees west: Lz = -15 x offset, Lm = -longitude.
    lz_minus_lm = (longitude - 15.0 * utc_offset_h.to_numpy() + 180.0) % 360.0 - 180.0
    b = 2.0 * np.pi * (doy - 81) / 364.0  # eq. 33
    sc = 0.1645 * np.sin(2.0 * b) - 0.1255 * np.cos(b) - 0.025 * np.sin(b)  # eq. 32, h
    omega = np.pi / 12.0 * ((clock_h.to_numpy() + 0.06667 * lz_minus_lm + sc) - 12.0)  # eq. 31
    omega = (omega + np.pi) % (2.0 * np.pi) - np.pi
    phi = np.deg2rad(latitude)
    decl = solar_declination(doy)
    ws = sunset_hour_angle(phi, decl)
    # eq. 29-30 for a 1 h period; the sun only counts between sunrise and sunset (-ws..ws).
    w2 = np.clip(omega + np.pi / 24.0, -ws, ws)
    w1 = np.minimum(np.clip(omega - np.pi / 24.0, -ws, ws), w2)
    ra = (
        (12.0 * 60.0 / np.pi)
        * GSC
        * inverse_relative_distance(doy)
        * (
            (w2 - w1) * np.sin(phi) * np.sin(decl)
            + np.cos(phi) * np.cos(decl) * (np.sin(w2) - np.sin(w1))
        )
    )  # eq. 28
    ra = np.maximum(ra, 0.0)
    rso = clear_sky_radiation(ra, elevation)

    t, rh, u2, rs = (_column(df, c) for c in ("t", "rh", "u2", "rs"))
    with np.errstate(divide="ignore", invalid="ignore"):
        own_ratio = np.where(rso > 0, np.clip(rs / rso, 0.3, 1.0), np.nan)
    sun_height = np.arcsin(np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(omega))
    before_sunset = (omega >= ws - np.pi / 4.0) & (omega <= ws - np.pi / 6.0)  # 2-3 h
    carried = (
        pd.Series(np.where(before_sunset, own_ratio, np.nan)).ffill().fillna(night_rs_rso)
    ).to_numpy()
    ratio = np.where((sun_height > _LOW_SUN_RAD) & np.isfinite(own_ratio), own_ratio, carried)

    es = saturation_vapour_pressure(t)
    ea = es * rh / 100.0  # eq. 54
    rnl = (
        SIGMA_HOUR * (t + 273.16) ** 4 * (0.34 - 0.14 * np.sqrt(ea)) * (1.35 * ratio - 0.35)
    )  # eq. 39 per hour
    rns = (1.0 - ALBEDO) * rs
    rn = rns - rnl
    g = np.where(np.abs(omega) < ws, 0.1 * rn, 0.5 * rn)  # eq. 45 (day), eq. 46 (night)
    delta = slope_vapour_pressure_curve(t)
    gamma = psychrometric_constant(_pressure(df, elevation))
    et0 = _penman_monteith(delta, gamma, rn, g, t, u2, es - ea, cn=37.0)  # eq. 53
    return pd.DataFrame(
        {
            "omega": omega,
            "ra": ra,
            "rso": rso,
            "rs": rs,
            "rs_rso": ratio,
            "rns": rns,
            "rnl": rnl,
            "rn": rn,
            "g": g,
            "es": es,
            "ea": ea,
            "delta": delta,
            "gamma": gamma,
            "et0": et0,
        },
        index=df.index,
    )


def hourly(
    df: pd.DataFrame,
    latitude: float,
    longitude: float,
    elevation: float,
    label: Literal["start", "end"] = "start",
    night_rs_rso: float = 0.8,
) -> pd.Series:
    """Hourly reference evapotranspiration ET0 (mm h-1), FAO-56 eq. 53.

    df: tz-aware hourly index (`label` "start" or "end" of each hour), columns t (°C),
    rh (%), u2 (m s-1 at 2 m), rs (MJ m-2 h-1). See :func:`hourly_terms`.
    """
    return hourly_terms(df, latitude, longitude, elevation, label, night_rs_rso)["et0"]
