"""The weather outlook the soil-moisture models are given: an imperfect forecast, never the future.

Place in the data path: training and the backtest (`forecasting.seasons`) turn each simulated
season's realised hourly rain and ET0 into the 72 h outlook of every origin with
:func:`outlook`; the features (`forecasting.features`) sum it per horizon. Live forecasts get
their outlook from `forecasting.field_forecast` instead, which has no weather feed yet:
:data:`NO_RAIN_OUTLOOK` describes how far that outlook is from the weather.

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.features import OUTLOOK_H


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
