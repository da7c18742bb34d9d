"""The FAO-56 chapter 8 water balance: its equations, its books balance, the sensor corrects it,
and it tells the farmer when and how much to irrigate."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecasting import crops, soils
from forecasting import water_balance as wb
from forecasting.et0 import InputError

PLANTED = dt.date(2024, 10, 1)


@pytest.fixture(scope="module")
def cabbage_field() -> wb.Field:
    return wb.Field(
        crop=crops.get_crop("cabbage"),
        soil=soils.get_soil("silt_loam"),
        planting_date=PLANTED,
        area_m2=500.0,
    )


def _weather(start: dt.date, days: int, **columns: object) -> pd.DataFrame:
    index = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    return pd.DataFrame({k: np.broadcast_to(v, days) for k, v in columns.items()}, index=index)


# --- equations --------------------------------------------------------------------------------


def test_taw_raw_eq82_eq83_for_a_silt_loam_root_zone() -> None:
    taw = wb.total_available_water(0.29, 0.15, 0.5)  # 1000 x 0.14 x 0.5
    assert taw == pytest.approx(70.0)
    assert wb.readily_available_water(taw, 0.45) == pytest.approx(31.5)


def test_p_adjusted_for_etc_table22_footnote() -> None:
    assert wb.depletion_fraction(0.45, 5.0) == pytest.approx(0.45)  # table value at 5 mm/day
    assert wb.depletion_fraction(0.45, 3.0) == pytest.approx(0.53)  # + 0.04 (5 - 3)
    assert wb.depletion_fraction(0.45, 8.0) == pytest.approx(0.33)
    assert wb.depletion_fraction(0.20, 9.0) == pytest.approx(0.10)  # limited to >= 0.1
    assert wb.depletion_fraction(0.65, 0.0) == pytest.approx(0.80)  # limited to <= 0.8


def test_ks_eq84() -> None:
    taw, raw = 100.0, 40.0
    assert wb.water_stress_coefficient(30.0, taw, raw) == 1.0  # Dr <= RAW: no stress
    assert wb.water_stress_coefficient(40.0, taw, raw) == 1.0
    assert wb.water_stress_coefficient(70.0, taw, raw) == pytest.approx(0.5)  # 30 / 60
    assert wb.water_stress_coefficient(100.0, taw, raw) == 0.0  # wilting point
    ks = wb.water_stress_coefficient(np.array([0.0, 55.0, 120.0]), taw, raw)
    assert ks.tolist() == pytest.approx([1.0, 0.75, 0.0])


def test_scs_runoff() -> None:
    s = 25400 / 85 - 254  # 44.82 mm; Ia = 8.96 mm
    assert wb.runoff_scs(8.0) == 0.0  # below the initial abstraction
    assert wb.runoff_scs(50.0) == pytest.approx((50 - 0.2 * s) ** 2 / (50 + 0.8 * s))
    assert round(float(wb.runoff_scs(50.0)), 1) == 19.6
    assert wb.runoff_scs(np.array([0.0, 120.0]), None).tolist() == [0.0, 0.0]  # bunded paddy
    with pytest.raises(InputError):
        wb.runoff_scs(10.0, 0.0)


def test_depletion_from_theta_eq86_and_volumes() -> None:
    assert wb.depletion_from_theta(0.22, 0.29, 0.5) == pytest.approx(35.0)
    assert wb.volume_m3(20.0, area_m2=500.0) == pytest.approx(10.0)
    assert wb.volume_m3(20.0, area_ha=0.36) == pytest.approx(72.0)  # 1 sào Bắc Bộ = 360 m2
    with pytest.raises(InputError):
        wb.volume_m3(20.0)


# --- the daily balance ----------------------------------------------------------------------


def test_three_days_by_hand(cabbage_field: wb.Field) -> None:
    """Mid-season cabbage (Kc 1.05) on silt loam, Zr 0.5 m: TAW 70 mm."""
    start = PLANTED + dt.timedelta(days=61)  # day 62: mid-season
    weather = _weather(start, 3, et0=4.0, rain=[0.0, 30.0, 0.0])
    field = dataclasses.replace(cabbage_field, curve_number=None)
    out = wb.run(weather, field, dr0=20.0)
    assert out["stage"].tolist() == ["mid"] * 3
    assert out["taw"].tolist() == pytest.approx([70.0] * 3)
    # p = 0.45 + 0.04 (5 - 4.2) = 0.482, RAW = 33.74 mm
    assert out["raw"].iloc[0] == pytest.approx(33.74)
    # day 1: 20 + 4.2 = 24.2; day 2: 24.2 - 30 + 4.2 < 0 -> Dr 0, DP 1.6; day 3: 4.2
    assert out["dr"].tolist() == pytest.approx([24.2, 0.0, 4.2])
    assert out["dp"].tolist() == pytest.approx([0.0, 1.6, 0.0])
    assert (out["ks"] == 1.0).all()
    assert (out["irrigation_needed"] == 0.0).all()


def test_water_is_conserved_with_rain_runoff_irrigation_stress_and_sensor(cabbage_field) -> None:
    rng = np.random.default_rng(5)
    days = 95
    rain = np.where(rng.random(days) < 0.25, rng.gamma(1.2, 15.0, days), 0.0)
    irrigation = np.where(rng.random(days) < 0.05, 25.0, 0.0)
    theta = np.where(rng.random(days) < 0.3, rng.uniform(0.12, 0.33, days), np.nan)
    weather = _weather(
        PLANTED,
        days,
        et0=rng.uniform(1.5, 5.5, days),
        rain=rain,
        irrigation=irrigation,
        theta_obs=theta,
    )
    field = dataclasses.replace(cabbage_field, zr_initial=0.2)
    out = wb.run(weather, field, dr0=12.0)
    inflow = out["eff_rain"] + out["irrigation"] + out["capillary_rise"]
    outflow = out["etc_adj"] + out["dp"]
    # eq. 85 summed: Dr_end - Dr0 = sum(ETc adj + DP - (P - RO) - I - CR) + sensor corrections
    assert out["dr"].iloc[-1] - 12.0 == pytest.approx(
        (outflow - inflow).sum() + out["correction"].sum(), abs=1e-9
    )
    assert ((out["dr"] >= 0) & (out["dr"] <= out["taw"] + 1e-12)).all()  # eq. 87
    assert (out["runoff"] <= out["rain"]).all()
    assert out["zr"].iloc[0] == 0.2 and out["zr"].iloc[-1] == 0.5  # roots grow to Zr max
    assert out["correction"][np.isnan(theta)].eq(0).all()


def test_stress_reduces_etc_and_depletion_never_passes_taw(cabbage_field) -> None:
    start = PLANTED + dt.timedelta(days=61)
    out = wb.run(_weather(start, 25, et0=5.0), cabbage_field, dr0=0.0)
    first_stress = int(np.argmax(out["ks"].to_numpy() < 1.0))
    assert out["dr"].iloc[first_stress - 1] > out["raw"].iloc[first_stress - 1]
    assert (out["ks"].diff().dropna() <= 1e-12).all()  # drying out: Ks only falls
    assert (out["etc_adj"] <= out["etc"] + 1e-12).all()
    assert out["dr"].iloc[-1] < out["taw"].iloc[-1]
    assert (out["irrigation_needed"] > 0).sum() == len(out) - int(
        np.argmax(out["dr"].to_numpy() >= out["raw"].to_numpy())
    )


def test_sensor_replaces_or_blends_the_model_depletion(cabbage_field) -> None:
    start = PLANTED + dt.timedelta(days=61)
    weather = _weather(start, 2, et0=4.0, theta_obs=[np.nan, 0.22])
    blended = wb.run(weather, cabbage_field, dr0=10.0)  # default weight 0.5
    dr_obs = 1000 * (0.29 - 0.22) * 0.5  # eq. 86: 35 mm
    model = 10.0 + 4.2 + 4.2
    assert blended["dr_obs"].iloc[1] == pytest.approx(dr_obs)
    assert blended["dr_model"].iloc[1] == pytest.approx(model)
    assert blended["dr"].iloc[1] == pytest.approx(model + 0.5 * (dr_obs - model))
    trusting = dataclasses.replace(cabbage_field, sensor_weight=1.0)
    assert wb.run(weather, trusting, dr0=10.0)["dr"].iloc[1] == pytest.approx(dr_obs)
    # the SenML reading soil_vwc is in %; wetter than field capacity means no depletion
    wet = _weather(start, 1, et0=4.0, soil_vwc=35.0)
    assert wb.run(wet, trusting, dr0=10.0)["dr"].iloc[0] == 0.0


def test_bad_input_is_refused_with_the_reason(cabbage_field) -> None:
    with pytest.raises(InputError, match="outside cabbage's season"):
        wb.run(_weather(PLANTED - dt.timedelta(days=1), 3, et0=3.0), cabbage_field)
    gap = _weather(PLANTED, 5, et0=3.0).drop(pd.Timestamp(PLANTED) + pd.Timedelta(days=2))
    with pytest.raises(InputError, match="consecutive"):
        wb.run(gap, cabbage_field)
    with pytest.raises(InputError, match="'et0' has 1 missing"):
        wb.run(_weather(PLANTED, 3, et0=[3.0, np.nan, 3.0]), cabbage_field)
    with pytest.raises(InputError, match="'et0' is required"):
        wb.run(_weather(PLANTED, 3, rain=1.0), cabbage_field)


# --- next irrigation --------------------------------------------------------------------------


def test_next_irrigation_date_depth_and_volume(cabbage_field) -> None:
    field = dataclasses.replace(cabbage_field, application_efficiency=0.8)
    start = PLANTED + dt.timedelta(days=61)  # mid-season, Kc 1.05: ETc 4.2 mm/day
    forecast = _weather(start, 10, et0=4.0, rain=0.0)
    advice = wb.next_irrigation(field, forecast, dr_now=10.0)
    # RAW = 33.74 mm; Dr after k days = 10 + 4.2 k reaches it on k = 6 (35.2 mm)
    assert advice is not None
    assert advice.days_ahead == 5
    assert advice.date == start + dt.timedelta(days=5)
    assert advice.net_mm == pytest.approx(35.2)
    assert advice.gross_mm == pytest.approx(44.0)
    assert advice.volume_m3 == pytest.approx(22.0)  # 44 mm over 500 m2
    assert advice.raw_mm == pytest.approx(33.74)


def test_no_irrigation_when_the_forecast_rain_keeps_up(cabbage_field) -> None:
    start = PLANTED + dt.timedelta(days=61)
    forecast = _weather(start, 7, et0=4.0, rain=[0, 0, 40, 0, 0, 30, 0])
    assert wb.next_irrigation(cabbage_field, forecast, dr_now=5.0) is None
    after_season = _weather(PLANTED + dt.timedelta(days=200), 5, et0=4.0)
    assert wb.next_irrigation(cabbage_field, after_season, dr_now=60.0) is None


def test_already_past_raw_means_irrigate_on_the_first_forecast_day(cabbage_field) -> None:
    start = PLANTED + dt.timedelta(days=61)
    advice = wb.next_irrigation(cabbage_field, _weather(start, 3, et0=4.0), dr_now=40.0)
    assert advice is not None and advice.days_ahead == 0
