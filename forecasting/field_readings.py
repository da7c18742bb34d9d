"""A field's readings made ready for the agronomy: where the farm is, what grows on the field,
hourly readings in local time, and the daily reference ET0 they give.

Place in the data path: `ruong forecast run` hands the store's `readings` of a field (any
reporting interval, tz-aware sample times) to `forecasting.field_forecast.prepare`, which
calls these first. Pure: pandas in, pandas out.

- Hourly readings: means over each hour, `rain` summed (mm); an hour without a reading is NaN
  (rain too: a missing gauge is not a dry hour).
- Daily ET0 (model tag `fao56-pm`): FAO-56 eq. 6 (`forecasting.et0.daily`) on the readings
  aggregated by `forecasting.aggregate.daily_inputs`, which leaves days with less than 80 %
  of their slots covered NaN. Nodes carry no pyranometer or anemometer: Rs then comes from
  Hargreaves' eq. 50 and the wind is FAO-56's 2 m/s default for missing wind (chapter 3,
  "Missing wind speed data"); the tag then reads `fao56-pm/rs-eq50/u2-2`.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from forecasting.aggregate import daily_inputs
from forecasting.crops import Crop
from forecasting.et0 import InputError, RadiationEstimatedWarning, daily
from forecasting.soils import Soil
from forecasting.water_balance import Field

DEFAULT_U2 = 2.0  # m/s, FAO-56 chapter 3: "2 m/s ... as a temporary estimate"

# quantities averaged over an hour; `rain` is summed
_MEAN = ("soil_vwc", "air_temp", "air_rh", "leaf_wet", "water_level", "wind_speed", "solar_rad")


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
