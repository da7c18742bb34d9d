"""One field's morning forecast (forecasting.field_forecast), on simulated Ninh Bình weather."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backend.i18n import render
from forecasting import weather
from forecasting.aggregate import daily_inputs
from forecasting.crops import load_crops
from forecasting.et0 import daily
from forecasting.field_forecast import FORECAST_HOURS, forecast_many, model_inputs, prepare
from forecasting.field_readings import DEFAULT_U2, Planting, Site, daily_et0
from forecasting.soils import load_soils

SITE = Site(weather.LATITUDE, weather.LONGITUDE, weather.ELEVATION, weather.TIME_ZONE)
NOW = pd.Timestamp("2026-03-20 06:30", tz=weather.TIME_ZONE)
PLANTED = dt.date(2026, 2, 10)
CROPS, SOILS = load_crops(), load_soils()


@pytest.fixture(scope="module")
def readings() -> pd.DataFrame:
    """Three weeks of 15-min air readings up to NOW (rain removed: the tests set the soil)."""
    days = weather.generate_daily("2026-02-27", 22, seed=11)
    frame = weather.sensor_series(days, freq="15min", seed=11)
    frame["rain"] = 0.0
    return frame[frame.index <= NOW]


def planting(
    crop: str, soil: str = "silty_clay_loam", area_m2: float = 1500.0, planted=PLANTED
) -> Planting:
    return Planting("f1", CROPS[crop], SOILS[soil], planted, area_m2)


def by_kind(advice: list) -> dict:
    return {a.kind: a for a in advice}


def test_et0_is_fao56_on_the_aggregated_readings_and_says_what_it_estimated(readings):
    et0, model = daily_et0(readings, SITE)
    inputs = daily_inputs(readings, tz=SITE.timezone).assign(u2=DEFAULT_U2)
    with pytest.warns(UserWarning, match="Hargreaves"):
        expected = daily(inputs, SITE.latitude, SITE.elevation)
    pd.testing.assert_series_equal(et0, expected.rename("et0"))
    assert model == "fao56-pm/rs-eq50/u2-2"
    # a node with a pyranometer and an anemometer needs no estimate
    measured = readings.assign(solar_rad=200.0, wind_speed=1.5)
    _, model = daily_et0(measured, SITE)
    assert model == "fao56-pm"


def test_dry_soil_means_irrigate_today_with_depth_and_volume(readings):
    soil = SOILS["silty_clay_loam"]
    crop = CROPS["maize"]
    # the probe reads a root zone drier than RAW: theta = FC - 0.8 (FC - WP)
    theta = soil.theta_fc - 0.8 * soil.available_water
    dry = readings.assign(soil_vwc=theta * 100.0)
    advice = by_kind(prepare(planting("maize"), dry, SITE, NOW).advice)
    irrigation = advice["irrigation"]
    assert irrigation.level == 3
    assert irrigation.model == "fao56-ch8"
    assert render(irrigation.text, "vi").startswith("Tưới hôm nay")
    assert render(irrigation.text, "en").startswith("Irrigate today")
    f = irrigation.fields
    assert f["dr_mm"] >= f["raw_mm"]
    # eq. 86 bounds the depletion the sensor implies: the model is pulled to it
    taw = 1000.0 * soil.available_water * crop.zr_min
    assert f["taw_mm"] == pytest.approx(taw, abs=0.1)
    assert f["gross_mm"] == pytest.approx(f["net_mm"], abs=0.1)  # efficiency 1 by default
    assert f["volume_m3"] == pytest.approx(f["gross_mm"] * 1500.0 / 1000.0, abs=0.1)
    assert f["due"] == NOW.date().isoformat()


def test_moist_soil_needs_no_irrigation_this_week(readings):
    soil = SOILS["silty_clay_loam"]
    wet = readings.assign(soil_vwc=soil.theta_fc * 100.0)
    irrigation = by_kind(prepare(planting("maize"), wet, SITE, NOW).advice)["irrigation"]
    assert irrigation.level == 0
    assert "due" not in irrigation.fields
    assert irrigation.fields["dr_mm"] < irrigation.fields["raw_mm"]
    assert "7" in render(irrigation.text, "vi")


def test_drying_soil_gets_a_date_not_today(readings):
    soil = SOILS["silty_clay_loam"]
    # depletion just under RAW: a few days of ET use up the rest
    theta = soil.theta_fc - 0.4 * soil.available_water
    drying = readings.assign(soil_vwc=theta * 100.0)
    irrigation = by_kind(prepare(planting("tomato"), drying, SITE, NOW).advice)["irrigation"]
    assert irrigation.level in (1, 2)
    days = irrigation.fields["days_ahead"]
    assert 1 <= days <= 6
    due = dt.date.fromisoformat(irrigation.fields["due"])
    assert due == NOW.date() + dt.timedelta(days=days)
    assert f"{due.day:02d}/{due.month:02d}" in render(irrigation.text, "vi")


def test_rice_gets_awd_and_explained_pest_risk_not_fao56_irrigation(readings):
    low = readings.assign(water_level=-0.18)
    # transplanted after the readings start: the degree-day rules see the whole season
    rice = planting("rice_spring", planted=dt.date(2026, 2, 28))
    advice = by_kind(prepare(rice, low, SITE, NOW).advice)
    assert "irrigation" not in advice
    awd = advice["awd"]
    assert awd.model == "irri-safe-awd"
    assert awd.level == 3 and awd.fields["action"] == "irrigate"
    assert awd.fields["level_m"] == pytest.approx(-0.18)
    assert "18 cm" in render(awd.text, "vi")
    pests = {k: a for k, a in advice.items() if k.startswith("pest_")}
    assert {"pest_blast", "pest_sheath_blight", "pest_bph"} <= set(pests)
    for a in pests.values():
        assert a.model.startswith("rice.") and a.model.endswith(".v1")  # versioned rule id
        assert a.fields["citation"]
        assert a.level in (0, 1, 2, 3)
        assert render(a.text, "vi") and render(a.text, "en")


def test_no_readings_asks_to_check_the_node_instead_of_guessing():
    empty = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
    upland = by_kind(prepare(planting("maize"), empty, SITE, NOW).advice)
    assert upland["irrigation"].level is None
    assert "kiểm tra" in render(upland["irrigation"].text, "vi")
    assert "et0" not in upland
    rice = by_kind(prepare(planting("rice_spring"), empty, SITE, NOW).advice)
    assert rice["awd"].level is None and rice["awd"].fields["action"] == "check_sensor"


def test_out_of_season_says_so(readings):
    late = Planting("f1", CROPS["cabbage"], SOILS["silt_loam"], dt.date(2025, 6, 1), 500.0)
    irrigation = by_kind(prepare(late, readings, SITE, NOW).advice)["irrigation"]
    assert irrigation.level == 0
    assert "Ngoài vụ" in render(irrigation.text, "vi")


def test_model_inputs_hold_no_future_and_assume_no_rain(readings):
    moist = readings.assign(soil_vwc=30.0)
    prepared = prepare(planting("maize"), moist, SITE, NOW)
    history, outlook = model_inputs(prepared)
    assert history.index.max() <= NOW
    assert history["et0"].notna().all()
    assert len(outlook) == FORECAST_HOURS
    assert outlook.index[0] > NOW
    assert (outlook["rain"] == 0).all()
    assert outlook["et0"].sum() == pytest.approx(3 * prepared.et0_outlook)
    assert model_inputs(prepare(planting("rice_spring"), moist, SITE, NOW)) is None


def test_one_fields_bad_data_does_not_stop_the_others(readings):
    naive = readings.tz_localize(None)
    good = readings.assign(soil_vwc=30.0)
    out = forecast_many(
        [(planting("maize"), naive), (planting("maize"), good)], SITE, NOW, model=None
    )
    assert isinstance(out[0], str) and "tz-aware" in out[0]
    assert isinstance(out[1], list) and by_kind(out[1])["irrigation"].level is not None


def test_parallel_and_serial_runs_agree(readings):
    fields = [
        (planting(crop), readings.assign(soil_vwc=v, water_level=-0.05))
        for crop, v in [("maize", 25.0), ("rice_spring", np.nan), ("tomato", 33.0)] * 3
    ]
    serial = forecast_many(fields, SITE, NOW, model=None, n_jobs=1)
    parallel = forecast_many(fields, SITE, NOW, model=None, n_jobs=2)
    assert serial == parallel


def test_hourly_nodes_get_et0_too(readings):
    """A node set to report hourly fills a quarter of the 15-min slots: the coverage rule
    counts in the node's own interval, so its days still count."""
    hourly = readings[readings.index.minute == 0]
    et0_15, _ = daily_et0(readings, SITE)
    et0_60, _ = daily_et0(hourly, SITE)
    complete = et0_15.dropna().index
    assert len(complete) >= 20
    assert et0_60[complete].notna().all()
    assert et0_60[complete].to_numpy() == pytest.approx(et0_15[complete].to_numpy(), rel=0.1)
    sparse = readings[readings.index.hour % 3 == 0].iloc[::4]  # every 3 h: too few
    assert daily_et0(sparse, SITE)[0].isna().all()
