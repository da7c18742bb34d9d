"""Daily ET0 inputs from 15-minute sensor readings, by documented rules.

Place in the data path: the store's `readings` (one column per quantity, indexed by the time
the sensor sampled) -> :func:`daily_inputs` -> :func:`forecasting.et0.daily`.

Input columns (SenML names and units, docs/vocabulary.md): `air_temp` (Cel) and `air_rh` (%RH)
are required; `wind_speed` (m/s, measured `wind_height` m above ground), `solar_rad` (W/m2,
pyranometer irradiance) and `air_pressure` (Pa) are used when present.

Rules, applied per local calendar day (the index's time zone, or `tz`):

1. Readings are first averaged onto a regular grid of `interval` slots (15 min), so duplicate
   or jittered timestamps count once per slot.
2. A quantity's day is used only when at least `min_coverage` (80 %) of the day's slots hold
   a value (a day has 96 slots of 15 min, 92 or 100 across a daylight-saving change);
   otherwise that quantity's outputs are NaN for the day. Downstream, a NaN `rs` makes
   `et0.daily` fall back to Hargreaves' radiation (FAO-56 eq. 50) and flag it; a NaN
   temperature or humidity gives a NaN ET0, never a guess.
3. `tmin`, `tmax` (°C): the smallest and largest slot value of `air_temp` (FAO-56 eq. 12 uses
   the daily extremes).
4. `rh_min`, `rh_max` (%): the extremes of `air_rh`, clipped to 0-100 because capacitive
   sensors read above 100 % in fog and dew (FAO-56 eq. 17 takes the daily extremes).
5. `u2` (m/s): the mean of `wind_speed`, converted to 2 m with FAO-56 eq. 47.
6. `rs` (MJ m-2 day-1): the mean of `solar_rad` (W/m2, zero at night) times 0.0864
   (86 400 s a day / 10^6 J per MJ); night slots must be reported like day slots.
7. `pressure` (kPa): the mean of `air_pressure` / 1000 (replaces FAO-56 eq. 7 in et0).

Known limit: a gap within the allowed 20 % can hide the true extreme (e.g. a 4 h gap over the
afternoon peak lowers tmax); the coverage rule bounds it but does not remove it.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from forecasting.et0 import InputError, wind_at_2m

_OPTIONAL = ("wind_speed", "solar_rad", "air_pressure")
_W_M2_TO_MJ_DAY = 86_400 / 1e6


def daily_inputs(
    readings: pd.DataFrame,
    interval: str = "15min",
    min_coverage: float = 0.8,
    wind_height: float = 2.0,
    tz: str | None = None,
) -> pd.DataFrame:
    """Aggregate sensor readings into the daily inputs of :func:`forecasting.et0.daily`.

    readings: DatetimeIndex (tz-aware when `tz` is given) and columns air_temp (°C), air_rh
    (%), optionally wind_speed (m/s at `wind_height` m), solar_rad (W m-2), air_pressure (Pa).
    interval: the sampling period the coverage is counted in. min_coverage: fraction 0-1 of
    a day's slots a quantity needs. tz: the farm's time zone (e.g. "Asia/Ho_Chi_Minh") to cut
    days in, when the readings are in UTC.
    Returns one row per local day (midnight timestamps) with tmin, tmax (°C), rh_min, rh_max
    (%), and u2 (m s-1), rs (MJ m-2 day-1), pressure (kPa) when their sensors exist.
    """
    if not isinstance(readings.index, pd.DatetimeIndex):
        raise InputError("readings need a DatetimeIndex (the time each sensor sampled)")
    for name in ("air_temp", "air_rh"):
        if name not in readings.columns:
            raise InputError(f"readings need column {name!r}")
    if tz is not None:
        if readings.index.tz is None:
            raise InputError("tz given but the readings' timestamps are naive")
        readings = readings.tz_convert(tz)
    columns = ["air_temp", "air_rh", *(c for c in _OPTIONAL if c in readings.columns)]
    step = pd.Timedelta(interval)
    grid = readings[columns].sort_index().resample(step).mean()
    days = grid.resample("D")
    day_start = cast(pd.DatetimeIndex, days.count().index)  # resampled: a DatetimeIndex
    slots = ((day_start + pd.DateOffset(days=1)) - day_start) / step
    covered = days.count().div(np.asarray(slots, dtype=float), axis=0) >= min_coverage

    def kept(values: pd.Series, quantity: str) -> pd.Series:
        return values.where(covered[quantity])

    out = pd.DataFrame(index=day_start)
    out["tmin"] = kept(days["air_temp"].min(), "air_temp")
    out["tmax"] = kept(days["air_temp"].max(), "air_temp")
    rh = grid["air_rh"].clip(0.0, 100.0).resample("D")
    out["rh_min"] = kept(rh.min(), "air_rh")
    out["rh_max"] = kept(rh.max(), "air_rh")
    if "wind_speed" in columns:
        wind = days["wind_speed"].mean()
        # eq. 47 gives 1.0002 at z = 2 m, so a 2 m anemometer is taken as it is; of a Series,
        # wind_at_2m returns a Series
        u2 = wind if wind_height == 2.0 else cast(pd.Series, wind_at_2m(wind, wind_height))
        out["u2"] = kept(u2, "wind_speed")
    if "solar_rad" in columns:
        out["rs"] = kept(days["solar_rad"].mean() * _W_M2_TO_MJ_DAY, "solar_rad")
    if "air_pressure" in columns:
        out["pressure"] = kept(days["air_pressure"].mean() / 1000.0, "air_pressure")
    out.index.name = "date"
    return out
