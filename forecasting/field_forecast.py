"""One field's morning forecast from its sensor readings: ET0, irrigation or AWD, pest risk,
and the soil-moisture model run over every upland field in one batch.

Place in the data path: `ruong forecast run` reads a field's recent `readings` from the store
and its planting from the registry, calls :func:`forecast_many` here (pure, pandas in and
out), and writes each `forecasting.advice.Advice` as one point of the `forecasts`
measurement. The readings are made ready by `forecasting.field_readings`, each kind of advice
is built by `forecasting.advice` (which says what each is made from), the soil-moisture
model's features by `forecasting.features`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from forecasting.advice import (
    Advice,
    FarmRecord,
    Prepared,
    WeatherAhead,
    awd_advice,
    et0_advice,
    event_advice,
    irrigation_advice,
    no_probe_advice,
    pest_advice,
    soil_moisture_advice,
)
from forecasting.et0 import InputError
from forecasting.field_readings import Planting, Site, daily_et0, hourly_readings

ET0_RECENT_DAYS = 7  # complete days whose mean ET0 stands in for the forecast
FORECAST_HOURS = 72  # the soil-moisture model's longest horizon


def newest_readings(
    readings: pd.DataFrame, now: pd.Timestamp
) -> tuple[dict[str, int], dict[str, float]]:
    """Each quantity's newest reading up to `now`: its sample time (Unix ms) and value."""
    times: dict[str, int] = {}
    values: dict[str, float] = {}
    if not len(readings):
        return times, values
    upto = readings.loc[readings.index <= now]
    for column in upto.columns:
        known = upto[column].dropna()
        if len(known):
            times[str(column)] = int(pd.Timestamp(known.index[-1]).timestamp() * 1000)
            values[str(column)] = float(known.iloc[-1])
    return times, values


def prepare(
    planting: Planting,
    readings: pd.DataFrame,
    site: Site,
    now: pd.Timestamp,
    records: Sequence[FarmRecord] = (),
    weather: WeatherAhead | None = None,
) -> Prepared:
    """Everything but the soil-moisture model for one field at `now` (tz-aware).

    readings: the field's readings over at least the last `HISTORY_DAYS` days (columns named
    as the SenML quantities, tz-aware index of sample times). Empty readings give advice that
    asks to check the node rather than a number. records: what the farmer recorded doing
    (irrigation enters the water balance, a recorded re-flood the AWD advice); weather: the
    forecast of the site (None: no source configured; the advice assumes no rain).
    """
    now = pd.Timestamp(now).tz_convert(site.timezone)
    if len(readings):
        hourly = hourly_readings(readings, site.timezone)
    else:
        hourly = pd.DataFrame(index=pd.DatetimeIndex([], tz=site.timezone))
    if len(readings) and {"air_temp", "air_rh"} <= set(readings.columns):
        et0, et0_model = daily_et0(readings, site)
    else:
        et0, et0_model = pd.Series(dtype=float, name="et0"), "fao56-pm"
    today = pd.Timestamp(now.date())
    complete = et0[pd.DatetimeIndex(et0.index).tz_localize(None) < today].dropna()
    recent = complete.tail(ET0_RECENT_DAYS)
    outlook = float(recent.mean()) if len(recent) else float("nan")
    latest_ms, latest = newest_readings(readings, now)
    prepared = Prepared(
        planting, now, hourly, et0, outlook, [], list(records), weather, latest_ms, latest
    )
    yesterday = et0_advice(complete, et0_model)
    if yesterday is not None:
        prepared.advice.append(yesterday)
    if planting.is_rice:
        prepared.advice.append(awd_advice(prepared))
        prepared.advice.extend(pest_advice(prepared))
    else:
        prepared.advice.append(irrigation_advice(prepared))
    prepared.advice.extend(event_advice(prepared))
    return prepared


def model_inputs(prepared: Prepared) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The soil-moisture model's inputs for an upland field, or None when it cannot run.

    history: hourly soil_vwc (%), rain (mm), et0 (mm/h) and the recorded irrigation (mm) up
    to now; forecast: the next `FORECAST_HOURS` hours of et0 (mm/h) and rain (mm): the
    weather forecast's hours where it has them, else the no-rain outlook (recent ET0, no
    rain). Daily ET0 is spread evenly over the day's hours: the model's features are sums
    over 6 h or more, where the diurnal shape matters little.
    """
    hourly = prepared.hourly
    if prepared.planting.is_rice or "soil_vwc" not in hourly.columns:
        return None
    if hourly["soil_vwc"].notna().sum() == 0 or not np.isfinite(prepared.et0_outlook):
        return None
    history = hourly.loc[hourly.index <= prepared.now, ["soil_vwc"]].copy()
    history["rain"] = hourly["rain"] if "rain" in hourly.columns else np.nan
    per_day = prepared.et0.copy()
    per_day.index = pd.DatetimeIndex(per_day.index).tz_localize(None)
    # hourly's tz-aware times (hourly_readings)
    days = cast(pd.DatetimeIndex, history.index).tz_localize(None).normalize()
    history["et0"] = per_day.reindex(days).fillna(prepared.et0_outlook).to_numpy() / 24.0
    if prepared.records:
        history["irrigation"] = recorded_hourly(prepared, cast(pd.DatetimeIndex, history.index))
    start = prepared.now.floor("h") + pd.Timedelta(hours=1)
    ahead = pd.date_range(start, periods=FORECAST_HOURS, freq="h")
    forecast = pd.DataFrame({"et0": prepared.et0_outlook / 24.0, "rain": 0.0}, index=ahead)
    weather = prepared.weather
    if weather is not None and weather.hourly is not None and len(weather.hourly):
        given = weather.hourly[["et0", "rain"]].reindex(ahead)
        known = given.notna().all(axis=1)
        forecast.loc[known] = given.loc[known]
    return history, forecast


def recorded_hourly(prepared: Prepared, hours: pd.DatetimeIndex) -> np.ndarray:
    """The recorded irrigation (mm) in each hour of `hours` (tz-aware hour starts)."""
    out = np.zeros(len(hours))
    for record in prepared.records:
        if record.kind == "irrigation" and record.amount_mm:
            at = hours.get_indexer(pd.DatetimeIndex([pd.Timestamp(record.time).floor("h")]))[0]
            if at >= 0:
                out[at] += float(record.amount_mm)
    return out


class SoilMoistureModel(Protocol):
    """What :func:`forecast_many` needs of `forecasting.model.SoilMoistureForecaster`."""

    version: str

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame: ...


@dataclass(frozen=True)
class FieldInputs:
    """One field's inputs to :func:`forecast_many` beside its planting and readings."""

    records: Sequence[FarmRecord] = ()
    weather: WeatherAhead | None = None


def _prepare_safely(
    planting: Planting,
    readings: pd.DataFrame,
    site: Site,
    now: pd.Timestamp,
    extra: FieldInputs = FieldInputs(),
) -> Prepared | str:
    try:
        return prepare(planting, readings, site, now, extra.records, extra.weather)
    except InputError as exc:  # bad readings for this field: say so, go on with the others
        return f"{type(exc).__name__}: {exc}"


def forecast_many(
    fields: Sequence[tuple[Planting, pd.DataFrame] | tuple[Planting, pd.DataFrame, FieldInputs]],
    site: Site,
    now: pd.Timestamp,
    model: SoilMoistureModel | None,
    n_jobs: int = 1,
) -> list[list[Advice] | str]:
    """Every field's advice at `now`: per-field work in `n_jobs` processes (joblib), then
    the soil-moisture model on all upland fields' feature rows in one batch.

    fields: (planting, readings) or (planting, readings, FieldInputs) per field.
    Returns, per input field in order, its advice list or the error (a string) that stopped
    it; one field's bad data never stops the others.
    """
    if n_jobs == 1 or len(fields) < 2 * max(n_jobs, 1):
        prepared = [_prepare_safely(*f[:2], site, now, *f[2:]) for f in fields]
    else:
        prepared = Parallel(n_jobs=n_jobs)(
            delayed(_prepare_safely)(*f[:2], site, now, *f[2:]) for f in fields
        )
    if model is not None:
        from forecasting.features import HORIZONS_H, features

        rows, owners = [], []
        for i, item in enumerate(prepared):
            if isinstance(item, str):
                continue
            inputs = model_inputs(item)
            if inputs is None:
                continue
            history, outlook = inputs
            field_ = item.planting.water_balance_field()
            try:
                rows.append(features(history, outlook, field_, item.now))
            except InputError as exc:  # e.g. no probe reading in the last 24 h: say so
                item.advice.append(no_probe_advice(model.version, str(exc)))
                continue
            owners.append(i)
        if rows:
            predicted = model.predict(pd.concat(rows, ignore_index=True))
            for (_, row), i in zip(predicted.iterrows(), owners, strict=True):
                item = prepared[i]
                assert isinstance(item, Prepared)
                advice = soil_moisture_advice(row, model.version, HORIZONS_H, item.planting.soil)
                advice.fields.update(item.reading_fields("soil_vwc"))
                item.advice.append(advice)
    return [item if isinstance(item, str) else item.advice for item in prepared]
