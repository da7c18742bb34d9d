"""Soil-moisture forecaster: root-zone soil_vwc 6 h to 72 h ahead, with prediction intervals.

Place in the data path: `ruong forecast run` builds one feature row per upland field with
:func:`features` (the field's recent hourly readings and the weather outlook), predicts all
fields in one batch with :meth:`SoilMoistureForecaster.predict` and writes the `vwc_<h>h`,
`lo_<h>h`, `hi_<h>h` values (%) to `forecasts` with the model's version as the `model` tag.
`ruong forecast train` makes and saves a model (:func:`train`), `ruong forecast backtest`
prints its skill (:func:`backtest`). Upland crops only: paddy rice is ponded and follows the
AWD water-level advice (`forecasting.awd`).

What is predicted
-----------------
For each horizon h in :data:`HORIZONS_H` (hours), the change of the probe's reading
soil_vwc(t0 + h) - soil_vwc_last (percentage points of volumetric water content), where
soil_vwc_last is the last reading at or before the origin t0. Predicting the change, not the
level, is what lets a model beat persistence: the level is mostly the probe's own offset and
the soil's field capacity, which the last reading already carries.

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

Model
-----
One scikit-learn `HistGradientBoostingRegressor` per horizon and quantile (10 %, 50 %, 90 %)
with the pinball (quantile) loss; the 50 % model is the point forecast (the median minimises
the mean absolute error, the score the backtest reports). The horizon's own outlook features
carry monotonic constraints (more rain cannot lower the forecast; more crop ET cannot raise
it), physics the trees would otherwise have to learn from noise.

Prediction intervals: conformalised quantile regression (Romano, Patterson & Candès 2019,
"Conformalized quantile regression", NeurIPS): the 10 % and 90 % models give an interval
that widens where the future is uncertain (after rain, near the irrigation trigger); on
calibration seasons held out from fitting (the latest-planted quarter) the conformity score
E = max(lo - y, y - hi) gives the correction Q, the ceil((n + 1) 0.8)-th smallest E, and the
interval is [lo - Q, hi + Q] (never narrower than the median). Why this rather than either
part alone: quantile models by themselves carry no coverage guarantee out of sample, and
conformal residual quantiles by themselves give one width for every situation. The nominal
coverage is 80 % (marginal, and exchangeability of seasons is assumed); the backtest reports
the coverage reached on held-out seasons.

Training data (:func:`train`)
-----------------------------
Simulated seasons (`forecasting.soil_sim`): maize, cabbage and tomato on the five soils of
`forecasting/data/soils.csv`, planted in their usual month (vụ đông) or in spring (Feb-Apr),
in calendar years 2001-2020, each with its own weather, farmer and probe seed. Origins every
`origin_step_h` hours from the second day of the season to 4 days before its end.

Forecast weather (never the realised future)
--------------------------------------------
In training and in the backtest both the model and the FAO-56 baseline get the same
imperfect outlook, made from the realised hourly weather by :class:`OutlookError` (assumed
values, of the kind a day-1..3 numerical forecast makes; not fitted to a forecast archive):
the rain series is shifted by a timing error ~ N(0, 2 h) (limited to +-6 h); per lead day
(hours 0-23, 24-47, 48-71) a rain day (>= 0.5 mm) is missed with probability 10/15/20 % and
otherwise its amount is multiplied by a mean-one lognormal factor of log-sd 0.5/0.7/0.9; a
dry day gets a false alarm with probability 10/15/20 %, an exponential amount of mean 5 mm
over 1 + Poisson(2) hours; the day's ET0 is multiplied by 1 + N(0, 5/8/10 %).

Backtest (:func:`backtest`)
---------------------------
Rolling origin over held-out seasons: other generator seeds (a separate branch of numpy's
SeedSequence, checked disjoint from training's) and later calendar years (2031-2040) than any
training season; the model is fixed, the origin steps through each season every
`origin_step_h` hours and each forecast is scored against the probe reading h hours later
(hours where the probe missed are skipped). Baselines:
- persistence: the last reading;
- FAO-56 balance: the depletion from the last reading by eq. 86 (limited to 0..TAW), then
  `forecasting.water_balance.run` forward over the outlook in 24 h blocks from the origin
  (eq. 85 with SCS runoff, Ks eq. 84); its water content (eq. 86 backwards) at 24, 48, 72 h,
  linearly interpolated from the last reading at 0 h to 24 h for the 6 h and 12 h horizons.
Skill = 1 - MAE_model / MAE_baseline; a 90 % interval of each skill from a bootstrap over
held-out seasons says how sure the sign is. :meth:`Backtest.to_text` says plainly at which
horizons the model does not beat a baseline.

Result and its limits (`ruong forecast backtest --outlook forecast`, seed 1)
--------------------------------------------------------------------------
Trained on 30 seasons, tested on 15 held-out seasons, origins every 6 h (6,680 per horizon):

    h    MAE model  persistence  FAO-56   skill vs persistence  skill vs FAO-56   80 % covers
    6h   0.35       0.43         0.45     +0.19 [+0.18,+0.20]   +0.23 [+0.20,+0.26]   0.80
    12h  0.41       0.54         0.59     +0.25 [+0.22,+0.27]   +0.31 [+0.23,+0.36]   0.81
    24h  0.52       0.74         0.85     +0.30 [+0.27,+0.32]   +0.39 [+0.27,+0.50]   0.79
    48h  0.75       1.11         1.04     +0.33 [+0.29,+0.36]   +0.28 [+0.17,+0.38]   0.80
    72h  0.95       1.40         1.25     +0.32 [+0.28,+0.36]   +0.24 [+0.14,+0.31]   0.82

(MAE in % VWC; [5 %, 95 %] season-bootstrap bounds.) It beats both baselines at every
horizon, for every crop and soil; the smallest margin is against FAO-56 on the sandy loam
at 48-72 h (skill +0.08-0.09). What this does and does not show:
- The truth is `forecasting.soil_sim`, and the model was trained on the same simulator: the
  test says the model learns that world's dynamics from readings, not that the simulator is
  the delta. FAO-56's losses come from what its bucket leaves out (drainage over days,
  hourly timing, intense-shower runoff). On real fields the skill must be measured again on
  real probe series before it is claimed.
- Not the probe offset: with offset_sd = 0 the skills hardly change (vs FAO-56: +0.22, +0.30,
  +0.38, +0.32, +0.25; the offset costs FAO-56 only 0.01-0.04 % of MAE).
- The outlook matters: given an outlook with no rain at all (what `forecasting.field_forecast`
  uses until a weather feed exists), the same model still beats both baselines (skill vs
  persistence +0.14..+0.17, vs FAO-56 +0.19..+0.32) but its intervals cover only 69-77 %;
  train with `train(error=OutlookError(miss=(1, 1, 1), false_alarm=(0, 0, 0)))` to calibrate
  them for that outlook.
- Irrigation the farmer has not yet done is unknowable: a refill inside the horizon is the
  largest single error for every method.

Model files
-----------
:meth:`SoilMoistureForecaster.save` writes `<version>.joblib` (the fitted estimators and the
metadata) and `<version>.json` (the metadata alone, for people). The version is
`sm-hgb-1-<8 hex of the SHA-256 of the training metadata>` (minus the training time and any
backtest results), so the same training run gives the same version. joblib files are
pickles: load only model files you made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import platform
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from forecasting import water_balance as wb
from forecasting.crops import Crop, get_crop, kc_curve, load_crops
from forecasting.et0 import InputError
from forecasting.soil_sim import simulate
from forecasting.soils import load_soils
from forecasting.water_balance import Field

HORIZONS_H: tuple[int, ...] = (6, 12, 24, 48, 72)
QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
NOMINAL_COVERAGE = QUANTILES[2] - QUANTILES[0]
FAMILY = "sm-hgb-1"
UPLAND_CROPS: tuple[str, ...] = ("maize", "cabbage", "tomato")
OUTLOOK_H = max(HORIZONS_H)  # forecast weather needed after the origin (h)
PAST_H = 72  # hours of past weather the features look at
VWC_WINDOW_H = 26  # hours of past readings the features look at (24 h change +- 2 h)
LAG_TOLERANCE_H = 2  # a lagged reading may be up to this much older than its lag
TRAIN_YEARS = (2001, 2020)
_HOUR_NS = 3_600 * 10**9
TEST_YEARS = (2031, 2040)

_STAGE_ENDS_KEYS = ("initial", "development", "mid", "late")

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

# The median model is the forecast; the 10 % / 90 % models only shape the interval, which the
# conformal step then calibrates, so they are smaller (faster to fit).
_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "median": {
        "max_iter": 90,
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "early_stopping": False,
    },
    "interval": {
        "max_iter": 40,
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "early_stopping": False,
    },
}


# --- features -----------------------------------------------------------------------------------


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


def _feature_core(
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
    core = _feature_core(
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


# --- forecast weather ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutlookError:
    """How the outlook given to the models differs from the realised weather (module notes).

    Per lead day (0-23 h, 24-47 h, 48-71 h): rain_sd (log-sd of the amount factor), miss
    (probability a rain day is missed), false_alarm (probability a dry day gets rain), et0_sd
    (relative sd of the day's ET0). timing_sd_h: sd of the rain timing error (h).
    """

    rain_sd: tuple[float, float, float] = (0.5, 0.7, 0.9)
    miss: tuple[float, float, float] = (0.10, 0.15, 0.20)
    false_alarm: tuple[float, float, float] = (0.10, 0.15, 0.20)
    false_alarm_mm: float = 5.0
    false_alarm_hours: float = 2.0
    timing_sd_h: float = 2.0
    timing_max_h: int = 6
    et0_sd: tuple[float, float, float] = (0.05, 0.08, 0.10)
    wet_day_mm: float = 0.5


# The outlook `ruong forecast run` gives the model until a weather-forecast feed is configured
# (forecasting.field_forecast): no rain at all, so every rain day is "missed", and the last
# week's mean ET0, which misses a day's ET0 by about a quarter (our assumption, from the
# day-to-day spread of the generated Ninh Bình weather). Train and backtest with it to get
# intervals that cover for the forecasts farmers actually see.
NO_RAIN_OUTLOOK = OutlookError(
    miss=(1.0, 1.0, 1.0), false_alarm=(0.0, 0.0, 0.0), et0_sd=(0.25, 0.25, 0.25)
)


def outlook(
    rain: np.ndarray,
    et0: np.ndarray,
    origins: np.ndarray,
    rng: np.random.Generator,
    error: OutlookError | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Imperfect 72 h outlooks (rain mm, ET0 mm, each (n, 72)) from realised hourly series.

    rain, et0: realised hourly values (mm); origins: row numbers of the origins (the first
    outlook hour is the origin's row). Hours beyond the series count as dry, ET0 0.
    """
    error = error or OutlookError()
    n, pad = len(origins), error.timing_max_h
    rain_p = np.concatenate([np.zeros(pad), rain, np.zeros(OUTLOOK_H + 2 * pad)])
    et0_p = np.concatenate([et0, np.zeros(OUTLOOK_H)])
    lag = np.clip(np.rint(rng.normal(0.0, error.timing_sd_h, n)), -pad, pad).astype(int)
    hours = np.arange(OUTLOOK_H)
    realised = rain_p[(origins + pad + lag)[:, None] + hours[None, :]]
    blocks = realised.reshape(n, 3, 24)
    wet = blocks.sum(axis=2) >= error.wet_day_mm
    sd = np.asarray(error.rain_sd)[None, :]
    factor = np.exp(rng.normal(-0.5 * sd**2, sd, (n, 3)))
    missed = wet & (rng.random((n, 3)) < np.asarray(error.miss)[None, :])
    factor = np.where(missed, 0.0, factor)
    rain_f = blocks * factor[:, :, None]
    alarm = ~wet & (rng.random((n, 3)) < np.asarray(error.false_alarm)[None, :])
    amount = rng.exponential(error.false_alarm_mm, (n, 3))
    length = 1 + rng.poisson(error.false_alarm_hours, (n, 3))
    first = rng.integers(0, 24, (n, 3))
    hour = np.arange(24)[None, None, :]
    span = (hour >= first[:, :, None]) & (hour < np.minimum(first + length, 24)[:, :, None])
    per_hour = amount / np.maximum(span.sum(axis=2), 1)
    rain_f = rain_f + np.where(alarm[:, :, None] & span, per_hour[:, :, None], 0.0)
    et0_real = et0_p[origins[:, None] + hours[None, :]].reshape(n, 3, 24)
    et0_factor = 1.0 + rng.normal(0.0, 1.0, (n, 3)) * np.asarray(error.et0_sd)[None, :]
    et0_f = et0_real * np.maximum(et0_factor, 0.0)[:, :, None]
    return rain_f.reshape(n, OUTLOOK_H), et0_f.reshape(n, OUTLOOK_H)


# --- simulated seasons ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Season:
    """One simulated season: crop and soil keys, planting date, simulation seed, and whether
    the field logs its irrigation (else the irrigation feature is NaN)."""

    crop: str
    soil: str
    planted: dt.date
    seed: int
    irrigation_logged: bool

    def field(self) -> Field:
        crop = get_crop(self.crop)
        soil = load_soils()[self.soil]
        return Field(crop=crop, soil=soil, planting_date=self.planted)


def seasons_for(n: int, seed: int, years: tuple[int, int], branch: int) -> list[Season]:
    """`n` season descriptions drawn with `seed` on SeedSequence branch `branch` (training 0,
    backtest 1): crops cycle through :data:`UPLAND_CROPS`, soils through the soils file, each
    planted in a random year of `years` in its usual month or in spring (Feb-Apr)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(branch,)))
    crops = load_crops()
    soils = sorted(load_soils())
    out = []
    for i in range(n):
        crop = crops[UPLAND_CROPS[i % len(UPLAND_CROPS)]]
        soil = soils[(i // len(UPLAND_CROPS) + i) % len(soils)]
        month = crop.plant_month if rng.random() < 0.5 else int(rng.integers(2, 5))
        year = int(rng.integers(years[0], years[1] + 1))
        day = int(rng.integers(1, 29))
        out.append(
            Season(
                crop=crop.key,
                soil=soil,
                planted=dt.date(year, month, day),
                seed=int(rng.integers(0, 2**31 - 1)),
                irrigation_logged=bool(rng.random() < 0.5),
            )
        )
    return out


@dataclass
class _SeasonData:
    season: Season
    field: Field
    sim: pd.DataFrame
    origins: np.ndarray  # row numbers
    x: pd.DataFrame
    y: np.ndarray  # (n, len(HORIZONS_H)) reading(t0 + h) - vwc_last
    rain_f: np.ndarray
    et0_f: np.ndarray


def _windows(values: np.ndarray, before: int, origins: np.ndarray, width: int) -> np.ndarray:
    """values[o - before : o - before + width] for each origin o, NaN before the series."""
    padded = np.concatenate([np.full(before, np.nan), values, np.full(width, np.nan)])
    return padded[origins[:, None] + np.arange(width)[None, :]]


def _season_data(season: Season, origin_step_h: int, error: OutlookError) -> _SeasonData:
    field_ = season.field()
    sim = simulate(field_, seed=season.seed)
    n = len(sim)
    origins = np.arange(24, n - OUTLOOK_H - 24, origin_step_h)
    vwc = sim["soil_vwc"].to_numpy(float)
    rain = sim["rain"].to_numpy(float)
    et0 = sim["et0"].to_numpy(float)
    irrigation = sim["irrigation"].to_numpy(float)
    rng = np.random.default_rng(np.random.SeedSequence(season.seed, spawn_key=(7,)))
    rain_f, et0_f = outlook(rain, et0, origins, rng, error)
    irrigation_past = _windows(irrigation, PAST_H, origins, PAST_H)
    if not season.irrigation_logged:
        irrigation_past = np.full_like(irrigation_past, np.nan)
    local = cast(pd.DatetimeIndex, sim.index).tz_localize(None)  # simulate's: tz-aware, hourly
    core = _feature_core(
        _windows(vwc, VWC_WINDOW_H, origins, VWC_WINDOW_H + 1),
        _windows(rain, PAST_H, origins, PAST_H),
        _windows(et0, PAST_H, origins, PAST_H),
        irrigation_past,
        et0_f,
        rain_f,
        field_,
        sim["day"].to_numpy()[origins],
        np.asarray(local.hour)[origins],
    )
    x = pd.DataFrame(core, columns=list(FEATURES))
    future = np.stack([vwc[origins + h] for h in HORIZONS_H], axis=1)
    y = future - x["vwc_last"].to_numpy()[:, None]
    return _SeasonData(season, field_, sim, origins, x, y, rain_f, et0_f)


# --- the model -----------------------------------------------------------------------------------


def _monotonic(h: int) -> list[int]:
    cst = {f"rain_next_{h}h": 1, f"rain_next_{h}h_pct": 1, f"etc_next_{h}h_pct": -1}
    return [cst.get(name, 0) for name in FEATURES]


_VOLATILE = ("trained_at", "train_seconds", "simulate_seconds", "backtest", "version")


def _digest(metadata: dict[str, Any]) -> str:
    """8 hex digits of the SHA-256 of the metadata without what changes between identical
    training runs (times, backtest results, the version itself)."""
    stable = {k: v for k, v in metadata.items() if k not in _VOLATILE}
    text = json.dumps(stable, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class SoilMoistureForecaster:
    """Multi-horizon root-zone soil_vwc forecaster with 80 % prediction intervals.

    version: "sm-hgb-1-<hash of the training metadata>", the `model` tag of its forecasts.
    metadata: trained_at (ISO UTC), versions of sklearn/numpy/python, seed, seasons and their
      descriptions, n_samples per horizon, features, hyperparameters, conformal corrections,
      validation MAE on the calibration seasons, and `backtest` once :func:`backtest` ran.
    """

    def __init__(
        self,
        models: dict[int, dict[float, Any]],
        corrections: dict[int, float],
        metadata: dict[str, Any],
    ) -> None:
        self.models = models
        self.corrections = corrections
        self.metadata = metadata
        self.version: str = metadata["version"]

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Forecasts for feature rows (as :func:`features` makes, any number, one batch).

        Returns one row per input row (same index) with, for each horizon h in HORIZONS_H,
        vwc_<h>h (the forecast reading, %), lo_<h>h and hi_<h>h (the 80 % interval, %), all
        within 0-100 %. Rows without a last reading give NaN.
        """
        missing = [c for c in FEATURES if c not in rows.columns]
        if missing:
            raise InputError(f"feature rows lack {missing}")
        from threadpoolctl import threadpool_limits

        x = rows[list(FEATURES)].to_numpy(dtype=float)
        last = x[:, FEATURES.index("vwc_last")]
        out: dict[str, np.ndarray] = {}
        # One OpenMP thread: on a busy 2-core machine OpenMP's waiting threads made a
        # 1,000-row batch 10-30 times slower; parallelise over fields with processes instead.
        with threadpool_limits(1, user_api="openmp"):
            predicted = {h: [self.models[h][q].predict(x) for q in QUANTILES] for h in HORIZONS_H}
        for h in HORIZONS_H:
            lo, mid, hi = predicted[h]
            lo, hi = np.minimum(lo, mid), np.maximum(hi, mid)  # quantile models may cross
            q = self.corrections[h]  # CQR; a negative q narrows, but never past the median
            out[f"vwc_{h}h"] = np.clip(last + mid, 0.0, 100.0)
            out[f"lo_{h}h"] = np.clip(last + np.minimum(lo - q, mid), 0.0, 100.0)
            out[f"hi_{h}h"] = np.clip(last + np.maximum(hi + q, mid), 0.0, 100.0)
        columns = [f"{p}_{h}h" for h in HORIZONS_H for p in ("vwc", "lo", "hi")]
        return pd.DataFrame(out, index=rows.index)[columns]

    def save(self, directory: str | Path) -> Path:
        """Write `<version>.joblib` and its `<version>.json` metadata into `directory`
        (created if needed); returns the .joblib path."""
        import joblib

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.version}.joblib"
        payload = {"models": self.models, "corrections": self.corrections, "meta": self.metadata}
        partial = path.with_name(path.name + ".partial")  # readers never see half a file
        joblib.dump(payload, partial)
        os.replace(partial, path)
        sidecar = path.with_suffix(".json")
        text = json.dumps(self.metadata, indent=2, sort_keys=True, default=str) + "\n"
        partial = sidecar.with_name(sidecar.name + ".partial")
        partial.write_text(text)
        os.replace(partial, sidecar)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SoilMoistureForecaster:
        """A model saved by :meth:`save` (the .joblib path, or its .json sidecar's)."""
        import joblib

        path = Path(path)
        if path.suffix == ".json":
            path = path.with_suffix(".joblib")
        payload = joblib.load(path)
        return cls(payload["models"], payload["corrections"], payload["meta"])

    def __repr__(self) -> str:
        return f"SoilMoistureForecaster({self.version!r})"


def _fit_one(x: np.ndarray, y: np.ndarray, q: float, h: int, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        loss="quantile",
        quantile=q,
        monotonic_cst=_monotonic(h),
        random_state=seed,
        **_HYPERPARAMETERS["median" if q == 0.5 else "interval"],
    )
    return model.fit(x, y)


def _conformal_correction(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """CQR correction Q: the ceil((n + 1) coverage)-th smallest max(lo - y, y - hi)."""
    scores = np.sort(np.maximum(lo - y, y - hi))
    k = min(int(np.ceil((len(scores) + 1) * coverage)), len(scores)) - 1
    return float(scores[max(k, 0)])


def _stack(data: list[_SeasonData]) -> tuple[pd.DataFrame, np.ndarray]:
    return pd.concat([d.x for d in data], ignore_index=True), np.concatenate([d.y for d in data])


def train(
    seasons: int = 30,
    seed: int = 1,
    origin_step_h: int = 6,
    calibration_fraction: float = 0.25,
    error: OutlookError | None = None,
) -> SoilMoistureForecaster:
    """Train a forecaster on `seasons` simulated seasons (see the module notes).

    seasons: number of simulated seasons (at least 4; 30 take about 15 s on an idle 2-core
      machine, 20-25 s while other jobs share it);
    seed: seeds the season draw, the simulations, the outlooks and the trees;
    origin_step_h: hours between training origins; calibration_fraction: share of seasons
    (the latest planted) held out of fitting to calibrate the intervals.
    """
    import sklearn
    from threadpoolctl import threadpool_limits

    if seasons < 4:
        raise ValueError(f"need at least 4 seasons, got {seasons}")
    error = error or OutlookError()
    started = time.perf_counter()
    specs = sorted(seasons_for(seasons, seed, TRAIN_YEARS, branch=0), key=lambda s: s.planted)
    n_cal = max(1, round(seasons * calibration_fraction))
    data = [_season_data(s, origin_step_h, error) for s in specs]
    fit, cal = data[:-n_cal], data[-n_cal:]
    x_fit, y_fit = _stack(fit)
    x_cal, y_cal = _stack(cal)
    simulated_s = time.perf_counter() - started

    models: dict[int, dict[float, Any]] = {}
    corrections: dict[int, float] = {}
    n_samples: dict[str, int] = {}
    validation: dict[str, dict[str, float]] = {}
    xf, xc = x_fit.to_numpy(float), x_cal.to_numpy(float)
    empty = [name for name, seen in zip(x_fit.columns, np.isfinite(xf).any(axis=0)) if not seen]
    if empty:  # scikit-learn's binning fails on a feature with no value at all
        raise ValueError(
            f"feature(s) {', '.join(empty)} have no value in the {len(fit)} fitting seasons: "
            "train on more seasons"
        )
    for j, h in enumerate(HORIZONS_H):
        ok = np.isfinite(y_fit[:, j]) & np.isfinite(xf[:, 0])
        # one OpenMP thread: on a shared 2-core machine more threads oversubscribe and stall
        with threadpool_limits(1, user_api="openmp"):
            models[h] = {q: _fit_one(xf[ok], y_fit[ok, j], q, h, seed) for q in QUANTILES}
        okc = np.isfinite(y_cal[:, j]) & np.isfinite(xc[:, 0])
        lo, mid, hi = (models[h][q].predict(xc[okc]) for q in QUANTILES)
        lo, hi = np.minimum(lo, mid), np.maximum(hi, mid)
        corrections[h] = _conformal_correction(lo, hi, y_cal[okc, j], NOMINAL_COVERAGE)
        n_samples[f"{h}h"] = int(ok.sum())
        validation[f"{h}h"] = {
            "mae_model": round(float(np.mean(np.abs(mid - y_cal[okc, j]))), 4),
            "mae_persistence": round(float(np.mean(np.abs(y_cal[okc, j]))), 4),
            "n": int(okc.sum()),
        }
    metadata: dict[str, Any] = {
        "family": FAMILY,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "seed": seed,
        "seasons": seasons,
        "origin_step_h": origin_step_h,
        "train_years": list(TRAIN_YEARS),
        "season_list": [dataclasses.asdict(s) for s in specs],
        "calibration_seasons": n_cal,
        "horizons_h": list(HORIZONS_H),
        "quantiles": list(QUANTILES),
        "features": list(FEATURES),
        "hyperparameters": _HYPERPARAMETERS,
        "outlook_error": dataclasses.asdict(error),
        "n_samples": n_samples,
        "conformal_correction_pct": {f"{h}h": round(q, 4) for h, q in corrections.items()},
        "validation": validation,
        "train_seconds": round(time.perf_counter() - started, 1),
        "simulate_seconds": round(simulated_s, 1),
    }
    metadata["version"] = f"{FAMILY}-{_digest(metadata)}"
    return SoilMoistureForecaster(models, corrections, metadata)


# what unpickling a model file written by other library versions, or cut short, can raise
_UNLOADABLE = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    AttributeError,
    ImportError,
    TypeError,
    pickle.UnpicklingError,
)


def load_or_train(directory: Path, error: OutlookError | None = None) -> SoilMoistureForecaster:
    """The newest model saved in `directory` (by its metadata's trained_at) that was trained
    for the outlook `error` (default :class:`OutlookError`), or a new one trained with
    :func:`train`'s defaults for it and saved there when none loads."""
    directory = Path(directory)
    error = error or OutlookError()
    wanted = dataclasses.asdict(error)
    candidates = []
    for path in directory.glob(f"{FAMILY}-*.joblib") if directory.is_dir() else []:
        sidecar = path.with_suffix(".json")
        try:
            meta = json.loads(sidecar.read_text())
            stamp = meta["trained_at"]
            outlook_error = meta.get("outlook_error")
        except (OSError, ValueError, KeyError):
            stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat()
            outlook_error = None
        if outlook_error is not None and _same_error(outlook_error, wanted):
            candidates.append((stamp, path))
    for _, path in sorted(candidates, reverse=True):
        try:
            return SoilMoistureForecaster.load(path)
        except _UNLOADABLE as exc:  # a model from another sklearn, a torn file: try the next
            warnings.warn(f"cannot load {path}: {exc}", stacklevel=2)
    model = train(error=error)
    model.save(directory)
    return model


def _same_error(saved: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Saved (JSON: tuples became lists) and wanted outlook errors are the same."""
    return json.dumps(saved, sort_keys=True) == json.dumps(wanted, sort_keys=True)


# --- baselines and the backtest ------------------------------------------------------------------


def fao56_forecast(
    vwc_last: float,
    rain_next: np.ndarray,
    et0_next: np.ndarray,
    field_: Field,
    origin_date: dt.date,
) -> np.ndarray:
    """The FAO-56 balance's soil_vwc (%) at each of HORIZONS_H (see the module notes).

    vwc_last: the last reading (%); rain_next, et0_next: the outlook's 72 hourly values (mm);
    origin_date: the origin's local date (block k is dated origin_date + k days for Kc).
    """
    dates = pd.date_range(pd.Timestamp(origin_date), periods=3, freq="D")
    zr = float(field_.root_depth(field_.season_day(dates[:1]))[0])
    taw = 1000.0 * field_.soil.available_water * zr
    dr0 = float(
        np.clip(wb.depletion_from_theta(vwc_last / 100.0, field_.soil.theta_fc, zr), 0, taw)
    )
    daily = pd.DataFrame(
        {
            "et0": np.asarray(et0_next[:72], float).reshape(3, 24).sum(axis=1),
            "rain": np.asarray(rain_next[:72], float).reshape(3, 24).sum(axis=1),
        },
        index=dates,
    )
    dr = wb.run(daily, field_, dr0=dr0)["dr"].to_numpy()
    at = np.concatenate([[vwc_last], 100.0 * (field_.soil.theta_fc - dr / (1000.0 * zr))])
    return np.interp(np.asarray(HORIZONS_H, float), [0.0, 24.0, 48.0, 72.0], at)


@dataclass
class Backtest:
    """A backtest's result.

    table: one row per horizon (h): n, mae_model, mae_persistence, mae_fao56 (%),
      skill_persistence, skill_fao56 (1 - MAE_model / MAE_baseline) with their bootstrap 5 %
      and 95 % bounds (`*_lo`, `*_hi`), coverage (share of readings inside the 80 % interval)
      and width (mean interval width, %).
    by_crop, by_soil: MAE and skill per crop (soil texture) and horizon. errors: one row per
    origin and horizon.
    """

    table: pd.DataFrame
    by_crop: pd.DataFrame
    by_soil: pd.DataFrame
    errors: pd.DataFrame
    model_version: str
    settings: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> list[str]:
        """Plain sentences: where the model does and does not beat each baseline."""
        lines = []
        for name, column in (("persistence", "skill_persistence"), ("FAO-56", "skill_fao56")):
            # self.table's index holds the horizons (int); pandas-stubs types labels Hashable
            lost = [int(h) for h, s in self.table[column].items() if not s > 0]  # type: ignore[call-overload]
            unsure = [
                int(h)  # type: ignore[call-overload]
                for h, s in self.table[f"{column}_lo"].items()
                if s <= 0 and int(h) not in lost  # type: ignore[call-overload]
            ]
            if lost:
                lines.append(
                    f"Does NOT beat {name} at {', '.join(f'{h} h' for h in lost)} "
                    "(skill <= 0 on the held-out seasons)."
                )
            else:
                lines.append(f"Beats {name} at every horizon on the held-out seasons.")
            if unsure:
                lines.append(
                    f"  ...but against {name} at {', '.join(f'{h} h' for h in unsure)} the "
                    "season bootstrap's 5 % bound is <= 0: not sure of the sign."
                )
        return lines

    def to_text(self) -> str:
        """The table as text, with the verdict and the settings."""
        s = self.settings
        t = self.table
        head = (
            f"Soil-moisture backtest of {self.model_version}: {s.get('seasons')} held-out "
            f"seasons ({s.get('years')}, seeds disjoint from training), origins every "
            f"{s.get('origin_step_h')} h, scored against the probe reading (soil_vwc, %)."
        )
        lines = [head, ""]
        lines.append(
            f"{'h':>4} {'n':>6} {'MAE model':>9} {'persist':>8} {'FAO-56':>7} "
            f"{'skill vs persist [90% CI]':>26} {'skill vs FAO-56 [90% CI]':>26} "
            f"{'cover80':>7} {'width':>6}"
        )
        for h, r in t.iterrows():  # h: the horizon (int), typed Hashable by pandas-stubs
            sp = f"{r.skill_persistence:+.2f} [{r.skill_persistence_lo:+.2f},{r.skill_persistence_hi:+.2f}]"
            sf = f"{r.skill_fao56:+.2f} [{r.skill_fao56_lo:+.2f},{r.skill_fao56_hi:+.2f}]"
            lines.append(
                f"{int(h):>3}h {int(r.n):>6} {r.mae_model:>9.2f} {r.mae_persistence:>8.2f} "  # type: ignore[call-overload]
                f"{r.mae_fao56:>7.2f} {sp:>26} {sf:>26} {r.coverage:>7.2f} {r.width:>6.2f}"
            )
        lines.append("")
        lines.append(
            "MAE in percentage points of volumetric water content; skill = 1 - MAE / MAE_baseline."
        )
        lines.extend(self.verdict())
        for title, part_table in (("crop", self.by_crop), ("soil", self.by_soil)):
            lines.append("")
            lines.append(f"By {title} (skill vs persistence / vs FAO-56; a minus is a loss):")
            for name, part in part_table.groupby(level=0):
                # part's labels: (crop or soil, horizon) pairs, typed Hashable by pandas-stubs
                cells = "  ".join(
                    f"{int(h)}h {r.skill_persistence:+.2f}/{r.skill_fao56:+.2f}"  # type: ignore[misc, has-type]
                    for (_, h), r in part.iterrows()
                )
                lines.append(f"  {name:<16} {cells}")
        return "\n".join(lines)


def _skill_bounds(
    errors: pd.DataFrame, baseline: str, rng: np.random.Generator, n: int = 200
) -> tuple[float, float]:
    """5 % and 95 % bootstrap bounds of 1 - MAE_model / MAE_baseline, resampling seasons."""
    sums = errors.groupby("season")[["abs_model", baseline]].sum()
    seasons = sums.to_numpy()
    pick = rng.integers(0, len(seasons), (n, len(seasons)))
    total = seasons[pick].sum(axis=1)
    skill = 1.0 - total[:, 0] / total[:, 1]
    return float(np.quantile(skill, 0.05)), float(np.quantile(skill, 0.95))


def backtest(
    model: SoilMoistureForecaster | None = None,
    seasons: int = 15,
    seed: int = 1,
    origin_step_h: int = 6,
    error: OutlookError | None = None,
    train_seasons: int = 30,
) -> Backtest:
    """Rolling-origin backtest on held-out seasons (see the module notes).

    model: the model to test (default: one trained now with `train(train_seasons, seed)`);
    seasons: held-out seasons (years TEST_YEARS, SeedSequence branch 1 of `seed`);
    origin_step_h: hours between origins. Records the table in `model.metadata["backtest"]`.
    """
    error = error or OutlookError()
    if model is None:
        model = train(seasons=train_seasons, seed=seed, error=error)
    specs = seasons_for(seasons, seed, TEST_YEARS, branch=1)
    trained_seeds = {s["seed"] for s in model.metadata.get("season_list", [])}
    if trained_seeds & {s.seed for s in specs}:
        raise ValueError("a held-out season shares a seed with a training season")
    frames = []
    for i, spec in enumerate(specs):
        d = _season_data(spec, origin_step_h, error)
        pred = model.predict(d.x)
        last = d.x["vwc_last"].to_numpy()
        # simulate's frame has a tz-aware hourly DatetimeIndex
        local_dates = cast(pd.DatetimeIndex, d.sim.index).tz_localize(None).normalize()[d.origins]
        fao = np.full((len(d.origins), len(HORIZONS_H)), np.nan)
        for k in np.flatnonzero(np.isfinite(last)):
            fao[k] = fao56_forecast(
                last[k],
                d.rain_f[k],
                d.et0_f[k],
                d.field,
                # pandas-stubs index a DatetimeIndex by int, not by a numpy integer (k)
                local_dates[k].date(),  # type: ignore[call-overload]
            )
        for j, h in enumerate(HORIZONS_H):
            truth = last + d.y[:, j]
            frames.append(
                pd.DataFrame(
                    {
                        "season": i,
                        "crop": spec.crop,
                        "soil": spec.soil,
                        "h": h,
                        "truth": truth,
                        "model": pred[f"vwc_{h}h"].to_numpy(),
                        "lo": pred[f"lo_{h}h"].to_numpy(),
                        "hi": pred[f"hi_{h}h"].to_numpy(),
                        "persistence": last,
                        "fao56": fao[:, j],
                    }
                )
            )
    errors = pd.concat(frames, ignore_index=True)
    errors = errors[np.isfinite(errors["truth"]) & np.isfinite(errors["persistence"])]
    for name in ("model", "persistence", "fao56"):
        errors[f"abs_{name}"] = (errors[name] - errors["truth"]).abs()
    errors["inside"] = (errors["truth"] >= errors["lo"]) & (errors["truth"] <= errors["hi"])
    rng = np.random.default_rng(seed)
    rows = []
    for h, part in errors.groupby("h"):
        row: dict[str, float] = {
            "h": h,
            "n": len(part),
            "mae_model": part["abs_model"].mean(),
            "mae_persistence": part["abs_persistence"].mean(),
            "mae_fao56": part["abs_fao56"].mean(),
            "coverage": part["inside"].mean(),
            "width": (part["hi"] - part["lo"]).mean(),
        }
        for base in ("persistence", "fao56"):
            row[f"skill_{base}"] = 1.0 - row["mae_model"] / row[f"mae_{base}"]
            lo, hi = _skill_bounds(part, f"abs_{base}", rng)
            row[f"skill_{base}_lo"], row[f"skill_{base}_hi"] = lo, hi
        rows.append(row)
    table = pd.DataFrame(rows).set_index("h")
    table = table[
        [
            "n",
            "mae_model",
            "mae_persistence",
            "mae_fao56",
            "skill_persistence",
            "skill_persistence_lo",
            "skill_persistence_hi",
            "skill_fao56",
            "skill_fao56_lo",
            "skill_fao56_hi",
            "coverage",
            "width",
        ]
    ]

    def breakdown(key: str) -> pd.DataFrame:
        mae = errors.groupby([key, "h"])[["abs_model", "abs_persistence", "abs_fao56"]].mean()
        return pd.DataFrame(
            {
                "mae_model": mae["abs_model"],
                "skill_persistence": 1.0 - mae["abs_model"] / mae["abs_persistence"],
                "skill_fao56": 1.0 - mae["abs_model"] / mae["abs_fao56"],
            }
        )

    settings = {
        "seasons": seasons,
        "seed": seed,
        "years": f"{TEST_YEARS[0]}-{TEST_YEARS[1]}",
        "origin_step_h": origin_step_h,
    }
    result = Backtest(table, breakdown("crop"), breakdown("soil"), errors, model.version, settings)
    model.metadata["backtest"] = {
        **settings,
        "table": {
            # table's index holds the horizons (int); pandas-stubs types labels Hashable
            f"{int(h)}h": {k: round(float(v), 4) for k, v in r.items()}  # type: ignore[call-overload]
            for h, r in table.iterrows()
        },
    }
    return result


# --- command line -------------------------------------------------------------------------------
