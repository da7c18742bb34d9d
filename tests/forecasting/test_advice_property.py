"""Advice never contradicts its readings, over whole simulated seasons (issue 16).

At moments drawn through each season of `forecasting.soil_sim` (the field's true root zone,
its probe, the weather, a farmer who irrigates by his own habit), the advice computed from the
readings up to that moment must not say "no irrigation needed" while the newest probe reading
implies a depletion past RAW (FAO-56 eq. 86 against eq. 83), with or without a weather
forecast; and an upland field never gets AWD (paddy) advice, a paddy never upland irrigation.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecasting import soil_sim, weather
from forecasting.advice import PROBE_FRESH_H, WeatherAhead
from forecasting.crops import load_crops
from forecasting.field_forecast import prepare
from forecasting.field_readings import Planting, Site
from forecasting.soils import load_soils
from forecasting.water_balance import Field, depletion_from_theta

SITE = Site(weather.LATITUDE, weather.LONGITUDE, weather.ELEVATION, weather.TIME_ZONE)
CROPS, SOILS = load_crops(), load_soils()
# (crop, soil, planting day, seed, farmer): the Delta's upland crops on its soils, with a
# farmer who irrigates late and one who never does, so that fields spend days past RAW
SEASONS = [
    ("maize", "silty_clay_loam", dt.date(2026, 2, 10), 1, soil_sim.Farmer(max_delay_h=120)),
    ("cabbage", "sandy_loam", dt.date(2026, 2, 5), 2, soil_sim.Farmer(enabled=False)),
    ("tomato", "silt_loam", dt.date(2026, 9, 20), 3, soil_sim.Farmer(max_delay_h=96)),
]
MOMENTS = 50  # per season: half where the true depletion is near or past RAW, half anywhere
READINGS = ["soil_vwc", "air_temp", "air_rh", "leaf_wet", "rain"]


@pytest.fixture(scope="module")
def seasons() -> list[tuple[Planting, pd.DataFrame]]:
    out = []
    for crop, soil, planted, seed, farmer in SEASONS:
        field_ = Field(crop=CROPS[crop], soil=SOILS[soil], planting_date=planted)
        sim = soil_sim.simulate(field_, seed=seed, farmer=farmer)
        out.append((Planting(crop, CROPS[crop], SOILS[soil], planted, 1500.0), sim))
    return out


def _forecast(sim: pd.DataFrame, now: pd.Timestamp) -> WeatherAhead:
    """The realised weather of the next days as a perfect forecast (the hardest case for the
    property: forecast rain is what tempts the advice to wait)."""
    ahead = sim.loc[sim.index > now, ["rain", "et0"]]
    daily = ahead.tz_localize(None).resample("D").sum()
    return WeatherAhead(daily, ahead, "test")


def check_moment(planting: Planting, sim: pd.DataFrame, now: pd.Timestamp, forecast: bool) -> bool:
    """Assert the property at `now`; True when the newest reading was past RAW."""
    readings = sim.loc[sim.index <= now, READINGS]
    ahead = _forecast(sim, now) if forecast else None
    advice = {a.kind: a for a in prepare(planting, readings, SITE, now, weather=ahead).advice}
    assert "awd" not in advice, "AWD advice on an upland field"
    irrigation = advice["irrigation"]
    latest = readings["soil_vwc"].dropna()
    fresh = len(latest) and (now - latest.index[-1]) <= pd.Timedelta(hours=PROBE_FRESH_H)
    if "stage" not in irrigation.fields or not fresh:
        return False  # out of season, or no reading to contradict
    field_ = planting.water_balance_field()
    zr = float(field_.root_depth(np.array([planting.day(now.date())]))[0])
    dr = float(depletion_from_theta(latest.iloc[-1] / 100, field_.soil.theta_fc, zr))
    raw = float(irrigation.fields["raw_mm"])
    assert irrigation.fields["reading_ms"] == int(latest.index[-1].timestamp() * 1000)
    if irrigation.level == 0:
        assert dr <= raw + 0.1, (now, dr, raw, irrigation)
    if dr <= raw + 0.1:
        return False
    assert irrigation.level is not None and irrigation.level >= 2, (now, dr, raw, irrigation)
    assert irrigation.fields["days_ahead"] == 0
    if irrigation.level == 2:  # put off only for forecast rain, and it says how much
        assert forecast and irrigation.fields["postponed_for_rain_mm"] > 0
    return True


@pytest.mark.parametrize("forecast", [False, True], ids=["no-rain", "forecast"])
def test_no_moment_says_no_irrigation_while_the_reading_is_past_raw(seasons, forecast):
    """Moments drawn from each season: half among the hours whose true depletion is at 80 % of
    RAW or more (where advice and reading could disagree), half from the whole season;
    minutes past the hour, so that the newest reading is 10-50 min old."""
    past_raw = 0
    rng = np.random.default_rng(16)
    for planting, sim in seasons:
        rows = np.arange(24 * 12, len(sim) - 24)
        dry = rows[(sim["dr"].to_numpy() >= 0.8 * sim["raw"].to_numpy())[rows]]
        drawn = [*rng.choice(dry, MOMENTS // 2), *rng.choice(rows, MOMENTS // 2)]
        for row in drawn:
            now = sim.index[row] + pd.Timedelta(minutes=int(rng.integers(10, 50)))
            past_raw += check_moment(planting, sim, now, forecast)
    assert past_raw >= 10, f"only {past_raw} moments past RAW: the test proves little"


def test_a_paddy_gets_awd_advice_and_no_upland_irrigation():
    days = weather.generate_daily("2026-03-01", 20, seed=5)
    frame = weather.sensor_series(days, freq="15min", seed=5)
    frame["water_level"] = -0.18
    now = frame.index[-1]
    rice = Planting("p", CROPS["rice_spring"], SOILS["silty_clay_loam"], dt.date(2026, 2, 1), 1e3)
    advice = {a.kind: a for a in prepare(rice, frame, SITE, now).advice}
    assert "irrigation" not in advice and "soil_vwc" not in advice
    assert advice["awd"].fields["action"] == "irrigate"
    assert advice["awd"].fields["reading_ms"] == int(now.timestamp() * 1000)
