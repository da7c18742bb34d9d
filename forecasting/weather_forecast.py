"""Weather forecasts in the Open-Meteo forecast API's JSON shape, read into hourly frames.

Place in the data path: `ruong.weather_feed` fetches a site's forecast from an
Open-Meteo-compatible source (`GET {url}/v1/forecast`, the `[weather] url` setting) and hands
the JSON here; the irrigation outlook and the soil-moisture model take the hourly frame, or its
per-day sums (:func:`daily_outlook`), instead of assuming no rain.

The request this module reads (Open-Meteo forecast API documentation,
https://open-meteo.com/en/docs): `hourly=` the variables of :data:`HOURLY_VARIABLES`,
`wind_speed_unit=ms`, `timezone=<IANA zone>` (the data then starts at 00:00 local time) and
`timeformat=unixtime` (the answer's `hourly.time` are UTC epoch seconds, so no local clock time
has to be read back with its offset). An ISO 8601 answer (`timeformat=iso8601`, local clock
times without offset) is read too, in the zone given.

Open-Meteo's time stamps mean two things (its documentation, "Hourly Parameter
Definition"): temperature, humidity and wind are instants at the stamp; precipitation, its
probability, shortwave radiation and ET0 are the sum or mean of the *preceding* hour. The
frame returned here follows the rest of Ruộng instead (`forecasting.weather.sensor_series`,
`forecasting.soil_sim.hourly_weather`): one row per hour, indexed by the hour's *start*, with
the instants taken at that start and the sums and means of that hour (the stamp one hour
later). So the first stamp's sums (the hour before the forecast begins) are not used and the
last row's sums are unknown (NaN).

Open-Meteo returns `null` where a model has no value (beyond its horizon, or a variable a
model lacks); those are NaN here. Wind is given at 10 m and brought to 2 m by FAO-56 eq. 47
(Allen et al. 1998, `forecasting.et0.wind_at_2m`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.et0 import wind_at_2m

# Open-Meteo hourly variable -> column of the frame, the unit it must come in (its
# `hourly_units` string), and whether its stamp is an instant or the end of its hour.
HOURLY_VARIABLES: dict[str, tuple[str, str, bool]] = {
    "temperature_2m": ("air_temp", "°C", True),
    "relative_humidity_2m": ("air_rh", "%", True),
    "precipitation": ("rain", "mm", False),
    "precipitation_probability": ("rain_prob", "%", False),
    "wind_speed_10m": ("wind_speed", "m/s", True),
    "shortwave_radiation": ("solar_rad", "W/m²", False),
    "et0_fao_evapotranspiration": ("et0", "mm", False),
}
COLUMNS = [column for column, _unit, _instant in HOURLY_VARIABLES.values()]
WIND_HEIGHT_M = 10.0  # Open-Meteo's wind_speed_10m
KMH_PER_MS = 3.6  # a source that ignores wind_speed_unit=ms answers in its default km/h
MIN_DAY_HOURS = 20  # fewer known hours and a day's sums are not a day's (NaN)


class WeatherError(ValueError):
    """A forecast answer that cannot be used; `reason` is a short code to count failures by
    (source_error, not_forecast, missing_variable, length_mismatch, non_numeric, bad_time,
    bad_unit), the message says what was wrong (with the source's own reason, if it gave one)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class WeatherOutlook:
    """A site's forecast as a feed delivered it.

    hourly: as :func:`parse_open_meteo` returns (empty when `error` is set);
    source: the provider's host (and port), for the advice's words ("theo dự báo của ...");
    fetched_ms: when the forecast was fetched (Unix ms, the site's clock), or when the fetch
    failed; error: why there is no forecast (the caller then falls back to the no-rain
    outlook and says so), None when there is one.
    """

    hourly: pd.DataFrame
    source: str
    fetched_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether there is a forecast to use."""
        return self.error is None and not self.hourly.empty

    def daily(self) -> pd.DataFrame:
        """The forecast per local day (:func:`daily_outlook`)."""
        return daily_outlook(self.hourly)


def empty_hourly(timezone: str) -> pd.DataFrame:
    """An hourly frame with the columns of :func:`parse_open_meteo` and no rows."""
    index = pd.DatetimeIndex([], tz=timezone, name="time")
    return pd.DataFrame({column: pd.Series(dtype=float) for column in COLUMNS}, index=index)


def _numbers(name: str, values: object, length: int) -> np.ndarray:
    """An Open-Meteo value list as floats, null as NaN; WeatherError on anything else."""
    if not isinstance(values, Sequence) or isinstance(values, str | bytes):
        raise WeatherError("non_numeric", f"hourly.{name} is not a list")
    if len(values) != length:
        raise WeatherError(
            "length_mismatch",
            f"hourly.{name} has {len(values)} values for {length} times",
        )
    out = np.empty(length)
    for i, value in enumerate(values):
        if value is None:
            out[i] = math.nan
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[i] = float(value)
        else:
            raise WeatherError("non_numeric", f"hourly.{name}[{i}] is {value!r}, not a number")
    return out


def _times(values: object, timezone: str) -> pd.DatetimeIndex:
    """hourly.time (Unix seconds, or local ISO 8601 clock times) as a tz-aware index."""
    if not isinstance(values, Sequence) or isinstance(values, str | bytes) or not values:
        raise WeatherError("bad_time", "hourly.time is not a list of times")
    numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if not numbers and not all(isinstance(v, str) for v in values):
        raise WeatherError("bad_time", "hourly.time is neither all Unix seconds nor all text")
    try:
        if numbers:
            index = pd.to_datetime(list(values), unit="s", utc=True).tz_convert(timezone)
        else:
            local = pd.to_datetime(list(values), format="%Y-%m-%dT%H:%M")
            index = local.tz_localize(timezone, ambiguous="raise", nonexistent="raise")
    except (ValueError, OverflowError) as exc:  # out of range, not ISO, a DST gap or fold
        raise WeatherError("bad_time", f"hourly.time cannot be read: {exc}") from None
    steps = index[1:] - index[:-1]  # not asi8: its unit is ns in pandas 2, may be s in 3
    if (steps != pd.Timedelta(hours=1)).any():
        raise WeatherError("bad_time", "hourly.time is not one hour apart, in order")
    return pd.DatetimeIndex(index, name="time")


def parse_open_meteo(payload: Mapping[str, object], timezone: str) -> pd.DataFrame:
    """The hourly block of an Open-Meteo `/v1/forecast` answer as a frame (module notes).

    payload: the decoded JSON; timezone: the IANA zone the request named (the index's zone).
    Returns one row per hour, indexed by the hour's start (tz-aware), with columns air_temp
    (°C) and air_rh (%) at the hour's start, wind_speed (m s-1 at 2 m, FAO-56 eq. 47, from
    10 m) at the hour's start, rain (mm in the hour), rain_prob (%, probability of more than
    0.1 mm in the hour), solar_rad (W m-2, the hour's mean shortwave radiation) and et0 (mm in
    the hour, the source's FAO-56 reference evapotranspiration). NaN where the source has no
    value. Raises WeatherError for an error answer (`{"error": true, "reason": ...}`), a
    missing variable, lists of different lengths, a value that is not a number or null, or
    times that are not consecutive hours.
    """
    if not isinstance(payload, Mapping):
        raise WeatherError("not_forecast", "the answer is not a JSON object")
    if payload.get("error"):
        raise WeatherError(
            "source_error", f"the source refused: {payload.get('reason', 'no reason given')}"
        )
    hourly = payload.get("hourly")
    if not isinstance(hourly, Mapping):
        raise WeatherError("not_forecast", "the answer has no hourly block")
    units = payload.get("hourly_units")
    units = units if isinstance(units, Mapping) else {}
    stamps = _times(hourly.get("time"), timezone)
    n = len(stamps)
    columns: dict[str, np.ndarray] = {}
    for name, (column, unit, instant) in HOURLY_VARIABLES.items():
        if name not in hourly:
            raise WeatherError("missing_variable", f"hourly.{name} is missing")
        values = _numbers(name, hourly[name], n)
        given = units.get(name, unit)
        if name == "wind_speed_10m" and given == "km/h":
            values = values / KMH_PER_MS
        elif given != unit:
            raise WeatherError("bad_unit", f"hourly.{name} is in {given!r}, not {unit!r}")
        if not instant:
            # the value stamped T is the hour T-1h..T: it belongs to the row of T-1h
            values = np.append(values[1:], math.nan)
        columns[column] = values
    columns["wind_speed"] = np.asarray(wind_at_2m(columns["wind_speed"], WIND_HEIGHT_M))
    return pd.DataFrame(columns, index=stamps)[COLUMNS]


def daily_outlook(hourly: pd.DataFrame) -> pd.DataFrame:
    """The forecast per local day of the hourly frame's zone.

    hourly: as :func:`parse_open_meteo` returns. Returns a frame indexed by local date
    (tz-naive midnight, name "date", as `forecasting.weather.generate_daily`) with rain (mm,
    the day's sum), et0 (mm, the day's sum), rain_prob (%, the day's highest hourly
    probability) and hours (how many of its hours have both rain and ET0). A day with fewer
    than 20 such hours (the first and last of a forecast, or beyond the model's horizon)
    keeps its hours and has NaN values: a partial sum is not that day's rain.
    """
    columns = ["rain", "et0", "rain_prob", "hours"]
    if hourly.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=float) for c in columns},
            index=pd.DatetimeIndex([], name="date"),
        )
    index = pd.DatetimeIndex(hourly.index)
    day = index.tz_localize(None).normalize() if index.tz is not None else index.normalize()
    known = hourly["rain"].notna() & hourly["et0"].notna()
    frame = pd.DataFrame(
        {
            "rain": hourly["rain"].where(known).to_numpy(),
            "et0": hourly["et0"].where(known).to_numpy(),
            "rain_prob": hourly["rain_prob"].where(known).to_numpy(),
            "hours": known.to_numpy(int),
        },
        index=pd.DatetimeIndex(day, name="date"),
    )
    grouped = frame.groupby(level="date")
    out = pd.DataFrame(
        {
            "rain": grouped["rain"].sum(min_count=1),
            "et0": grouped["et0"].sum(min_count=1),
            "rain_prob": grouped["rain_prob"].max(),
            "hours": grouped["hours"].sum(),
        }
    )
    short = out["hours"] < MIN_DAY_HOURS
    out.loc[short, ["rain", "et0", "rain_prob"]] = math.nan
    return out[columns]
