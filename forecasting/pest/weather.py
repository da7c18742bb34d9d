"""The weather the pest rules read: hourly means, the leaf-wetness estimate, and the windows.

Place in the data path: the store's `readings` of a field (air_temp, air_rh, optional leaf_wet,
rain and wind_speed, 15-min or hourly) -> :func:`hourly_weather` -> one row per hour ->
the windows each rule in :mod:`forecasting.pest.rules` looks back over.

Leaf wetness: the sensor's `leaf_wet` (wet when >= 0.5) where it reads, else RH >= 90 %
(Sentelhas et al. 2008), and any hour with >= 0.2 mm of rain is wet (thresholds in the
`wetness` section of `data/pest_rules.json`).

Missing data: a window's hours are reindexed so a missing hour is a NaN row, and
:func:`known_fraction` says what fraction of them hold data; a rule needs :data:`MIN_COVERAGE` of
them.

Units: temperatures °C, RH %, leaf_wet 0-1, rain mm per reading, wind_speed m s-1, degree-days
°C day. Timestamps must be tz-aware; windows end at `at` (default: the end of the data) and
reach back whole hours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MIN_COVERAGE = 0.8  # fraction of a window's hours that must hold data
HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)

Rules = dict[str, Any]  # the parsed data/pest_rules.json


class InputError(ValueError):
    """The weather frame cannot be assessed: no tz-aware time index or no temperature."""


def hourly_weather(weather: pd.DataFrame, rules: Rules | None = None) -> pd.DataFrame:
    """Hourly means (sums for rain) of sensor readings, plus the leaf-wetness estimate.

    weather: tz-aware DatetimeIndex, columns air_temp (°C) required; air_rh (%), leaf_wet (0-1),
    rain (mm), wind_speed (m s-1) optional; any sampling interval up to an hour.
    rules: the parameters of `data/pest_rules.json` (default: :func:`load_rules`); only its
    `wetness` section is read.
    Returns one row per hour (labelled by its start) with air_temp, air_rh (clipped 0-100),
    leaf_wet, rain, wind_speed (NaN where absent), `wet` (1.0 wet, 0.0 dry, NaN unknown) and
    `wet_from_sensor` (bool: the hour's wetness came from the leaf-wetness sensor).
    """
    if not isinstance(weather.index, pd.DatetimeIndex) or weather.index.tz is None:
        raise InputError("pest rules need a tz-aware DatetimeIndex (the farm's local time)")
    if "air_temp" not in weather.columns:
        raise InputError(f"column 'air_temp' is required (have {sorted(weather.columns)})")
    if not rules:
        # imported here, not at the top: rules.py builds on this module
        from forecasting.pest.rules import load_rules

        rules = load_rules()
    p = rules["wetness"]
    frame = weather.sort_index()
    cols = {}
    for name in ("air_temp", "air_rh", "leaf_wet", "wind_speed"):
        if name in frame.columns:
            cols[name] = frame[name].astype(float).resample(HOUR).mean()
    if "rain" in frame.columns:
        cols["rain"] = frame["rain"].astype(float).resample(HOUR).sum(min_count=1)
    hourly = pd.DataFrame(cols)
    for name in ("air_rh", "leaf_wet", "rain", "wind_speed"):
        if name not in hourly.columns:
            hourly[name] = np.nan
    hourly["air_rh"] = hourly["air_rh"].clip(0.0, 100.0)
    sensor = hourly["leaf_wet"]
    from_rh = (
        (hourly["air_rh"] >= p["rh_threshold_pct"]).astype(float).where(hourly["air_rh"].notna())
    )
    wet = (sensor >= p["sensor_wet_fraction"]).astype(float).where(sensor.notna(), from_rh)
    rained = hourly["rain"] >= p["rain_wet_mm"]
    hourly["wet"] = wet.mask(rained, 1.0)
    hourly["wet_from_sensor"] = sensor.notna()
    return hourly


def hours_before(hourly: pd.DataFrame, at: pd.Timestamp, span: pd.Timedelta) -> pd.DataFrame:
    """The hours in [at - span, at) of an :func:`hourly_weather` frame, reindexed so missing
    hours appear as NaN rows."""
    start = (at - span).ceil("h")
    index = pd.date_range(start, at - HOUR, freq=HOUR)
    return hourly.reindex(index)


def known_fraction(values: pd.Series) -> float:
    """Fraction (0-1) of a window's hours whose value is known; 0 for an empty window."""
    return float(values.notna().mean()) if len(values) else 0.0


def window_end(hourly: pd.DataFrame, at: pd.Timestamp | None) -> pd.Timestamp:
    """Where the windows end: `at` floored to the hour (an unfinished hour is left out), or
    the end of the last hour of data when `at` is None. Raises InputError for a naive `at`."""
    if at is not None:
        at = pd.Timestamp(at)
        if at.tz is None:
            raise InputError("`at` must be tz-aware, like the readings")
        return at.floor("h")
    return hourly.index[-1] + HOUR if len(hourly) else pd.Timestamp.now(tz="UTC")


def wet_spells(wet: pd.Series, air_temp: pd.Series) -> pd.DataFrame:
    """Continuous leaf-wetness spells in an hourly series.

    wet: 1.0/0.0/NaN per hour (NaN breaks a spell); air_temp: °C on the same index.
    Returns one row per spell: start, end (timestamp after its last hour), hours, mean_temp (°C).
    """
    is_wet = wet.fillna(0.0).to_numpy() >= 0.5
    if not is_wet.any():
        return pd.DataFrame(columns=["start", "end", "hours", "mean_temp"])
    run = np.cumsum(np.r_[True, is_wet[1:] != is_wet[:-1]])
    frame = pd.DataFrame({"t": air_temp.to_numpy(), "run": run, "time": wet.index})[is_wet]
    grouped = frame.groupby("run")
    spells = pd.DataFrame(
        {
            "start": grouped["time"].min(),
            "end": grouped["time"].max() + HOUR,
            "hours": grouped.size(),
            "mean_temp": grouped["t"].mean(),
        }
    )
    return spells.reset_index(drop=True)


def degree_days(air_temp: pd.Series, base: float, upper: float) -> float:
    """Degree-days (°C day) from hourly temperatures (°C): the sum of min(T, upper) - base over
    hours above `base` (°C), divided by 24 (hourly averaging with a horizontal cut-off at
    `upper`, °C)."""
    t = air_temp.dropna().to_numpy()
    return float(np.clip(t - base, 0.0, upper - base).sum() / 24.0)
