"""A field's readings -> its pest and disease risks: the hourly weather prepared once, then
every rule of :data:`forecasting.pest.rules.REGISTRY` (:func:`assess`) or one of them.

Place in the data path: the store's `readings` of a field and its crop's days after
transplanting -> :func:`assess` -> one :class:`~forecasting.pest.rules.Risk` per rule ->
`forecasting.field_forecast` (the `forecasts` measurement) and the farmer's screen.
Readings and units as for :func:`forecasting.pest.weather.hourly_weather`; `at` is the end of
the windows (tz-aware, default: the end of the data), `dat` days after transplanting.
"""

from __future__ import annotations

import pandas as pd

from forecasting.pest.rules import (
    REGISTRY,
    Risk,
    bacterial_leaf_blight,
    blast,
    degree_day_rule,
    load_rules,
    sheath_blight,
)
from forecasting.pest.weather import Rules, hourly_weather, window_end


def _prepare(
    weather: pd.DataFrame, at: pd.Timestamp | None, rules: Rules | None
) -> tuple[pd.DataFrame, pd.Timestamp, Rules]:
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    return hourly, window_end(hourly, at), rules


def blast_risk(
    weather: pd.DataFrame,
    dat: int | None = None,
    at: pd.Timestamp | None = None,
    rules: Rules | None = None,
) -> Risk:
    """Rice blast risk from leaf-wetness spells x temperature over the last 7 days.

    weather: readings (see :func:`hourly_weather`); dat: days after transplanting (optional;
    from 75 days, ripening, the level is capped at 1); at: end of the window (tz-aware).
    Level 0: no infection period (>= 10 h wet at a mean 20-28 °C) in 7 days; 1: one; 2: one in
    the last 2 days or two in 7; 3: one in the last 2 days and three or more in 7.
    Sources: Hashimoto et al. (1984), Koshimizu (1988), Sentelhas et al. (2008); see
    :mod:`forecasting.pest.rules`.
    """
    hourly, end, rules = _prepare(weather, at, rules)
    return blast(hourly, end, dat, rules)


def sheath_blight_risk(
    weather: pd.DataFrame,
    dat: int | None = None,
    at: pd.Timestamp | None = None,
    rules: Rules | None = None,
) -> Risk:
    """Sheath blight risk: potential vertical lesion rise (cm) in 7 days, Hashiba et al. (1982).

    Hourly rate = rate(T) x factor(RH) / 24 with rate 0.48-1.58 cm day-1 at 20-28 °C and 100 %
    RH, factor 0.38 at 86 % to 1 at 100 % RH. Levels at 3, 5 and 7 cm; capped at 1 before
    canopy closure (dat < 30). Requires air_temp and air_rh.
    """
    hourly, end, rules = _prepare(weather, at, rules)
    return sheath_blight(hourly, end, dat, rules)


def planthopper_risk(
    weather: pd.DataFrame,
    dat: int,
    at: pd.Timestamp | None = None,
    rules: Rules | None = None,
) -> Risk:
    """Brown planthopper risk from degree-days since transplanting (`dat` days before `at`).

    DD above 11.7 °C (cut-off 32 °C), 350 DD a generation (parameters and their derivation in
    data/pest_rules.json). Level 0 below one generation, 1 from one, 2 from two; +1 when the
    last 7 days averaged 25-30 °C and RH >= 80 %. The weather must cover the season.
    Raises InputError when `dat` < 1.
    """
    hourly, end, rules = _prepare(weather, at, rules)
    return degree_day_rule("brown_planthopper", hourly, end, dat, rules)


def leaf_folder_risk(
    weather: pd.DataFrame,
    dat: int,
    at: pd.Timestamp | None = None,
    rules: Rules | None = None,
) -> Risk:
    """Rice leaf folder risk: as :func:`planthopper_risk` with 342 DD above 12.5 °C a generation
    (Wada & Kobayashi 1980) and a 22-30 °C, RH >= 80 % conducive week."""
    hourly, end, rules = _prepare(weather, at, rules)
    return degree_day_rule("leaf_folder", hourly, end, dat, rules)


def bacterial_blight_risk(
    weather: pd.DataFrame, at: pd.Timestamp | None = None, rules: Rules | None = None
) -> Risk:
    """Bacterial leaf blight risk over the last 3 days.

    Level 1 with >= 36 h at 25-34 °C and RH >= 70 %; 2 when also >= 20 mm of rain fell in one
    of the three 24-h blocks; 3 with >= 50 mm or wind >= 10.8 m/s (optional `wind_speed`).
    Without rain data the level stays at most 1 and the reason says so.
    """
    hourly, end, rules = _prepare(weather, at, rules)
    return bacterial_leaf_blight(hourly, end, None, rules)


def assess(
    weather: pd.DataFrame,
    dat: int | None,
    at: pd.Timestamp | None = None,
    rules: Rules | None = None,
) -> list[Risk]:
    """Every rule of the registry for one field, in its order: blast, sheath blight, bacterial
    leaf blight and, when `dat` (days after transplanting) is known and >= 1, brown planthopper
    and leaf folder."""
    hourly, end, rules = _prepare(weather, at, rules)
    risks = (rule(hourly, end, dat, rules) for rule in REGISTRY.values())
    return [risk for risk in risks if risk is not None]
