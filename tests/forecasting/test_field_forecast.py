"""One field's morning forecast (forecasting.field_forecast), on simulated Ninh Bình weather."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from backend.i18n import render
from backend.store.base import line_protocol
from forecasting import awd, weather
from forecasting.advice import no_probe_advice, soil_moisture_advice
from forecasting.aggregate import daily_inputs
from forecasting.crops import load_crops
from forecasting.et0 import daily
from forecasting.field_forecast import FORECAST_HOURS, forecast_many, model_inputs, prepare
from forecasting.field_readings import DEFAULT_U2, Planting, Site, daily_et0
from forecasting.soils import load_soils
from ruong.forecast_job import advice_point

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


# What the field page draws from the newest `forecasts` points: the growth stage, the
# flowering window, the soil's field-capacity and wilting lines.

# maize, FAO-56 Table 11 (crops.csv): 20 initial, 35 development, 40 mid, 30 late = 125 days
MAIZE_STAGES = [
    (1, "initial"),
    (20, "initial"),
    (21, "development"),
    (39, "development"),
    (55, "development"),
    (56, "mid"),
    (95, "mid"),
    (96, "late"),
    (125, "late"),
]


@pytest.mark.parametrize(("day", "stage"), MAIZE_STAGES)
def test_irrigation_advice_says_the_growth_stage_of_today(readings, day, stage):
    planted = NOW.date() - dt.timedelta(days=day - 1)
    moist = readings.assign(soil_vwc=SOILS["silty_clay_loam"].theta_fc * 100.0)
    irrigation = by_kind(prepare(planting("maize", planted=planted), moist, SITE, NOW).advice)[
        "irrigation"
    ]
    assert irrigation.level is not None
    assert irrigation.fields["stage"] == stage
    assert irrigation.fields["season_day"] == day
    assert type(irrigation.fields["season_day"]) is int  # an InfluxDB integer, not numpy's


def test_the_stage_comes_even_without_weather_but_not_out_of_season(readings):
    empty = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
    no_weather = by_kind(prepare(planting("maize"), empty, SITE, NOW).advice)["irrigation"]
    assert no_weather.level is None
    assert no_weather.fields == {"stage": "development", "season_day": 39}
    for planted in (NOW.date() - dt.timedelta(days=125), NOW.date() + dt.timedelta(days=1)):
        out = by_kind(prepare(planting("maize", planted=planted), readings, SITE, NOW).advice)
        assert "Ngoài vụ" in render(out["irrigation"].text, "vi")
        assert "stage" not in out["irrigation"].fields
        assert "season_day" not in out["irrigation"].fields


def test_awd_advice_carries_the_flowering_window_the_schedule_keeps_ponded(readings):
    transplanted = dt.date(2026, 2, 28)
    rice = planting("rice_spring", planted=transplanted)
    empty = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
    for frame in (readings.assign(water_level=-0.05), empty):  # with and without readings
        fields = by_kind(prepare(rice, frame, SITE, NOW).advice)["awd"].fields
        # 150-day season: flowering on day 120 (harvest - 30), kept ponded 7 days either side
        assert fields["flowering_start"] == "2026-06-21"  # transplanting + 113 days
        assert fields["flowering_end"] == "2026-07-05"  # transplanting + 127 days
    schedule = awd.AwdSchedule.for_crop(CROPS["rice_spring"])
    start = dt.date.fromisoformat(fields["flowering_start"])
    end = dt.date.fromisoformat(fields["flowering_end"])
    for day in range(schedule.season_days + 1):
        date = transplanted + dt.timedelta(days=day)
        flowering = awd.phase_of_day(day, schedule) is awd.Phase.FLOWERING
        assert flowering == (start <= date <= end), day


def test_soil_vwc_advice_carries_field_capacity_and_wilting_point():
    soil = SOILS["silty_clay_loam"]  # FAO-56 Table 19: 0.335 and 0.205 m3 m-3
    forecast = pd.Series({"vwc_24h": 28.04, "lo_24h": 25.0, "hi_24h": 31.0})
    unknown = pd.Series({"vwc_24h": np.nan})
    for prediction in (forecast, unknown):
        advice = soil_moisture_advice(prediction, "v1", (24,), soil)
        assert advice.fields["fc_pct"] == 33.5
        assert advice.fields["wp_pct"] == 20.5
    no_probe = no_probe_advice("v1", "no reading", soil)
    assert (no_probe.fields["fc_pct"], no_probe.fields["wp_pct"]) == (33.5, 20.5)
    assert "fc_pct" not in no_probe_advice("v1", "no reading").fields


def test_the_new_fields_are_influxdb_fields_of_the_forecasts_point(readings):
    moist = readings.assign(soil_vwc=30.0, water_level=-0.05)
    advice = [
        *prepare(planting("maize"), moist, SITE, NOW).advice,
        *prepare(planting("rice_spring", planted=dt.date(2026, 2, 28)), moist, SITE, NOW).advice,
        soil_moisture_advice(
            pd.Series({"vwc_24h": 28.0, "lo_24h": 26.0, "hi_24h": 30.0}),
            "v1",
            (24,),
            SOILS["silt_loam"],
        ),
    ]
    line = "\n".join(line_protocol(advice_point("htx", "f1", a, 0)) for a in advice)
    assert 'stage="development"' in line and "season_day=39i" in line
    assert 'flowering_start="2026-06-21"' in line and 'flowering_end="2026-07-05"' in line
    assert re.search(r"fc_pct=\d+\.\d", line) and re.search(r"wp_pct=\d+\.\d", line)
