"""Feature rows of the soil-moisture forecaster: a field's recent readings and weather outlook.

Place in the data path: `ruong forecast run` gives :func:`features` one upland field's hourly
readings from the store and the weather outlook (`forecasting.field_forecast`), and the
fields' rows go to `forecasting.model.SoilMoistureForecaster.predict` in one batch. Training
and the backtest build the same rows for many origins at once from simulated seasons
(`forecasting.seasons`); both paths go through :func:`feature_core`, so a live row and a
training row of the same inputs are equal (tests/forecasting/test_features.py).

Features (one row per field and origin; :data:`FEATURES`, units in the names where not %)
------------------------------------------------------------------------------------------
- readings: the last soil_vwc (%), its age (h), its change over the last 6 h and 24 h, its
  24 h mean and maximum; the reading minus 100 theta_FC (% above field capacity) and the
  depleted fraction of TAW it implies ((theta_FC - theta) / (theta_FC - theta_WP), FAO-56
  eq. 86 over eq. 82).
- weather so far: rain in the past 24 h and 72 h (mm), hours since the last hour with >= 1 mm
  of rain, ET0 in the past 24 h (mm), irrigation in the past 24 h (mm; NaN when the field
  does not log its irrigation, which is the usual case).
- weather outlook for each horizon h: ET0 and rain summed over the h hours after the origin
  (mm), and the same as root-zone water content (%, mm / (10 Zr)): Kc ET0 for the crop and rain.
- crop and soil: Kc (FAO-56 eq. 66), stage (0-3), day of season, root depth Zr (m), TAW (mm,
  eq. 82), theta_FC and theta_WP (%); the origin's local hour.
Features use only the history up to the origin and the weather outlook (tests corrupt the
future and check the features do not move). Missing optional inputs give NaN features, which
HistGradientBoosting routes by what it learnt (it is trained with irrigation unknown on half
the seasons and with probe gaps).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from forecasting.crops import Crop, kc_curve
from forecasting.et0 import InputError
from forecasting.water_balance import Field

HORIZONS_H: tuple[int, ...] = (6, 12, 24, 48, 72)
OUTLOOK_H = max(HORIZONS_H)  # forecast weather needed after the origin (h)
PAST_H = 72  # hours of past weather the features look at
VWC_WINDOW_H = 26  # hours of past readings the features look at (24 h change +- 2 h)
LAG_TOLERANCE_H = 2  # a lagged reading may be up to this much older than its lag
_HOUR_NS = 3_600 * 10**9

FEATURES: tuple[str, ...] = (
    "vwc_last",
    "vwc_age_h",
    "dvwc_6h",
    "dvwc_24h",
    "vwc_mean_24h",
    "vwc_max_24h",
    "vwc_above_fc",
    "depleted_fraction",
    "rain_past_24h",
    "rain_past_72h",
    "hours_since_rain",
    "et0_past_24h",
    "irrigation_past_24h",
    *(f"et0_next_{h}h" for h in HORIZONS_H),
    *(f"rain_next_{h}h" for h in HORIZONS_H),
    *(f"etc_next_{h}h_pct" for h in HORIZONS_H),
    *(f"rain_next_{h}h_pct" for h in HORIZONS_H),
    "kc",
    "stage",
    "day_of_season",
    "zr",
    "taw",
    "fc",
    "wp",
    "hour",
)


def _last_valid(window: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the last finite value of window[:, lo:hi] and its column (NaN / -1 if none)."""
    part = window[:, lo:hi]
    ok = np.isfinite(part)
    any_ok = ok.any(axis=1)
    last = part.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    value = np.where(any_ok, part[np.arange(len(part)), last], np.nan)
    return value, np.where(any_ok, lo + last, -1)


def _stage_number(crop: Crop, day: np.ndarray) -> np.ndarray:
    ends = np.asarray(crop.stage_ends, dtype=float)
    stage = np.searchsorted(ends, day, side="left").astype(float)
    return np.where((day >= 1) & (day <= ends[-1]), stage, np.nan)


def feature_core(
    vwc: np.ndarray,
    rain_past: np.ndarray,
    et0_past: np.ndarray,
    irrigation_past: np.ndarray,
    et0_next: np.ndarray,
    rain_next: np.ndarray,
    field_: Field,
    season_day: np.ndarray,
    hour: np.ndarray,
) -> dict[str, np.ndarray]:
    """Feature arrays for n origins of one field.

    vwc: (n, VWC_WINDOW_H + 1) readings (%) at origin - VWC_WINDOW_H h .. origin (NaN missed).
    rain_past, et0_past, irrigation_past: (n, PAST_H) mm in each hour before the origin, the
      last column the hour just before it. et0_next, rain_next: (n, OUTLOOK_H) mm in each hour
      from the origin on. season_day: day of season of the origin; hour: its local hour.
    """
    end = VWC_WINDOW_H + 1
    last, col = _last_valid(vwc, end - 25, end)  # the last reading within 24 h
    age = np.where(col >= 0, VWC_WINDOW_H - col, np.nan).astype(float)
    lag6, _ = _last_valid(vwc, end - 7 - LAG_TOLERANCE_H, end - 6)
    lag24, _ = _last_valid(vwc, 0, end - 24)
    recent = vwc[:, end - 24 :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as wanted
        mean24 = np.nanmean(recent, axis=1)
        max24 = np.nanmax(recent, axis=1)
    soil = field_.soil
    zr = float(np.asarray(field_.root_depth(np.asarray([1])))[0])
    taw = 1000.0 * soil.available_water * zr
    kc = kc_curve(field_.crop, season_day)
    wet = np.nan_to_num(rain_past, nan=0.0) >= 1.0
    any_wet = wet.any(axis=1)
    since = np.where(any_wet, np.argmax(wet[:, ::-1], axis=1), PAST_H)  # h since a wet hour
    out: dict[str, np.ndarray] = {
        "vwc_last": last,
        "vwc_age_h": age,
        "dvwc_6h": last - lag6,
        "dvwc_24h": last - lag24,
        "vwc_mean_24h": mean24,
        "vwc_max_24h": max24,
        "vwc_above_fc": last - 100.0 * soil.theta_fc,
        "depleted_fraction": (100.0 * soil.theta_fc - last) / (100.0 * soil.available_water),
        "rain_past_24h": rain_past[:, -24:].sum(axis=1),
        "rain_past_72h": rain_past.sum(axis=1),
        "hours_since_rain": since.astype(float),
        "et0_past_24h": et0_past[:, -24:].sum(axis=1),
        "irrigation_past_24h": irrigation_past[:, -24:].sum(axis=1),
    }
    kc_safe = np.nan_to_num(kc, nan=0.0)
    for h in HORIZONS_H:
        et0_h = et0_next[:, :h].sum(axis=1)
        rain_h = rain_next[:, :h].sum(axis=1)
        out[f"et0_next_{h}h"] = et0_h
        out[f"rain_next_{h}h"] = rain_h
        out[f"etc_next_{h}h_pct"] = kc_safe * et0_h / (10.0 * zr)
        out[f"rain_next_{h}h_pct"] = rain_h / (10.0 * zr)
    n = len(last)
    out.update(
        kc=kc,
        stage=_stage_number(field_.crop, season_day),
        day_of_season=season_day.astype(float),
        zr=np.full(n, zr),
        taw=np.full(n, taw),
        fc=np.full(n, 100.0 * soil.theta_fc),
        wp=np.full(n, 100.0 * soil.theta_wp),
        hour=hour.astype(float),
    )
    return {name: np.asarray(out[name], dtype=float) for name in FEATURES}


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InputError(f"{what} needs a DatetimeIndex")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} needs column(s) {missing} (have {sorted(map(str, frame.columns))})"
        )


def _binned_sums(values: np.ndarray, bins: np.ndarray, n: int) -> np.ndarray:
    """Sums of `values` per bin 0..n-1 (values in other bins are dropped), skipping NaN; NaN
    for a bin with no finite value (a missing hour is not a dry hour)."""
    keep = (bins >= 0) & (bins < n)
    finite = np.isfinite(values) & keep
    idx = np.where(keep, bins, 0).astype(np.int64)
    sums = np.bincount(idx, weights=np.where(finite, values, 0.0), minlength=n)[:n]
    counts = np.bincount(idx, weights=finite.astype(float), minlength=n)[:n]
    return np.where(counts > 0, sums, np.nan)


def features(
    history: pd.DataFrame, forecast: pd.DataFrame, field: Field, origin: pd.Timestamp
) -> pd.DataFrame:
    """The feature row (one-row frame, columns :data:`FEATURES`) of one field at `origin`.

    history: readings up to the origin, DatetimeIndex (tz-aware, as the store gives them),
      columns soil_vwc (%), rain (mm in the hour starting at the timestamp), et0 (mm h-1, same
      labelling), optionally irrigation (mm, same labelling). Any interval works: values are
      gathered into hours (readings: the last in each hour; rain, et0, irrigation: summed).
      Rows after the origin are ignored; missing hours give NaN features, not zeros.
    forecast: the weather outlook, hourly rows labelled by the start of the hour, from the
      origin's hour or the next one on, at least 72 consecutive hours; columns et0 (mm h-1)
      and rain (mm), no NaN.
    field: the field (crop, soil, planting date; `forecasting.water_balance.Field`).
    origin: the forecast's time (tz-aware; a naive time is taken in the history's zone).

    Raises InputError for a missing column, a non-time index, no soil_vwc reading in the 24 h
    up to the origin, or an outlook that is short, has gaps or NaN.
    """
    _require(history, ("soil_vwc", "rain", "et0"), "history")
    _require(forecast, ("et0", "rain"), "forecast")
    history_index = cast(pd.DatetimeIndex, history.index)  # both checked by _require
    forecast_index = cast(pd.DatetimeIndex, forecast.index)
    origin = pd.Timestamp(origin)
    tz = history_index.tz
    if origin.tz is None and tz is not None:
        origin = origin.tz_localize(tz)
    elif origin.tz is not None and tz is None:
        raise InputError("origin is tz-aware but the history's index is naive")
    elif tz is not None:
        origin = origin.tz_convert(tz)

    if (forecast_index.tz is None) != (origin.tz is None):
        raise InputError("forecast and history must both be tz-aware, or both naive")
    t = history_index.asi8  # ns (UTC for tz-aware indexes), compared with origin.value
    o = origin.value
    readable = (t <= o) & np.isfinite(history["soil_vwc"].to_numpy(dtype=float))
    t_read = t[readable]
    v_read = history["soil_vwc"].to_numpy(dtype=float)[readable]
    order = np.argsort(t_read, kind="stable")  # equal times: the last row wins below
    t_read, v_read = t_read[order], v_read[order]
    grid = o - _HOUR_NS * np.arange(VWC_WINDOW_H, -1, -1)
    pos = np.searchsorted(t_read, grid, side="right") - 1
    found = (pos >= 0) & (grid - t_read[np.maximum(pos, 0)] < _HOUR_NS)
    vwc = np.where(found, v_read[np.maximum(pos, 0)] if len(v_read) else np.nan, np.nan)
    if not np.isfinite(vwc[-25:]).any():
        raise InputError(f"no soil_vwc reading in the 24 h up to {origin}")
    start = origin.ceil("h").value - PAST_H * _HOUR_NS
    past = (t >= start) & (t < o)
    bins = (t[past] - start) // _HOUR_NS
    rain_past = _binned_sums(history["rain"].to_numpy(dtype=float)[past], bins, PAST_H)
    et0_past = _binned_sums(history["et0"].to_numpy(dtype=float)[past], bins, PAST_H)
    if "irrigation" in history.columns:
        irrigation = history["irrigation"].to_numpy(dtype=float)[past]
        irrigation_past = _binned_sums(irrigation, bins, PAST_H)
    else:
        irrigation_past = np.full(PAST_H, np.nan)

    first_hour = origin.floor("h").value
    tf = forecast_index.asi8
    ahead = tf >= first_hour
    if not ahead.any():
        raise InputError(f"forecast has no rows from {origin.floor('h')} on")
    hour_of = (tf[ahead] - first_hour) // _HOUR_NS
    lead = int(hour_of.min())
    if lead > 1:
        raise InputError(f"forecast starts {lead} h after {origin.floor('h')}, not within 1 h")
    outlook_et0 = _binned_sums(forecast["et0"].to_numpy(float)[ahead], hour_of - lead, OUTLOOK_H)
    outlook_rain = _binned_sums(forecast["rain"].to_numpy(float)[ahead], hour_of - lead, OUTLOOK_H)
    bad = ~(np.isfinite(outlook_et0) & np.isfinite(outlook_rain))
    if bad.any():
        raise InputError(
            f"forecast needs {OUTLOOK_H} consecutive hours of et0 and rain from "
            f"{origin.floor('h')}; hour {int(np.argmax(bad)) + lead} is missing or NaN"
        )

    local = origin.tz_localize(None) if origin.tz is not None else origin
    season_day = np.asarray([(local.normalize() - pd.Timestamp(field.planting_date)).days + 1])
    core = feature_core(
        vwc[None, :],
        rain_past[None, :],
        et0_past[None, :],
        irrigation_past[None, :],
        outlook_et0[None, :],
        outlook_rain[None, :],
        field,
        season_day,
        np.asarray([local.hour + local.minute / 60.0]),
    )
    values = np.array([[core[name][0] for name in FEATURES]], dtype=float)
    return pd.DataFrame(values, index=[0], columns=list(FEATURES))
