"""A node's 15-minute readings become the daily ET0 inputs by the documented rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import aggregate, et0

TZ = "Asia/Ho_Chi_Minh"


def three_days_of_readings() -> pd.DataFrame:
    """15-min readings for 1-3 June 2024 local time, stored in UTC as the store holds them."""
    index = pd.date_range("2024-06-01", "2024-06-04", freq="15min", tz=TZ, inclusive="left")
    hours = (index - index.normalize()) / pd.Timedelta(hours=1)
    hours = np.asarray(hours, dtype=float)
    daily_wave = np.cos(2 * np.pi * (hours - 14.0) / 24.0)  # max at 14:00, min at 02:00
    sun = np.clip(np.sin(np.pi * (hours - 6.0) / 12.0), 0.0, None)  # 06:00-18:00
    return pd.DataFrame(
        {
            "air_temp": 27.0 + 5.0 * daily_wave,  # 22-32 °C
            "air_rh": 78.0 - 25.0 * daily_wave,  # 53-103 %: fog reads above 100
            "wind_speed": 3.0,  # at 10 m
            "solar_rad": 900.0 * sun,  # W m-2
            "air_pressure": 100_500.0,  # Pa
        },
        index=index,
    ).tz_convert("UTC")


def test_a_full_day_gives_extremes_means_and_unit_conversions() -> None:
    readings = three_days_of_readings()
    daily = aggregate.daily_inputs(readings, wind_height=10.0, tz=TZ)
    assert len(daily) == 3
    assert str(daily.index.tz) == TZ
    assert (daily.index.hour == 0).all()
    day = daily.iloc[0]
    assert day.tmin == pytest.approx(22.0) and day.tmax == pytest.approx(32.0)
    assert day.rh_min == pytest.approx(53.0) and day.rh_max == 100.0  # clipped
    assert day.u2 == pytest.approx(3.0 * 4.87 / np.log(67.8 * 10 - 5.42))  # eq. 47
    local = readings.tz_convert(TZ).loc["2024-06-01"]
    assert day.rs == pytest.approx(local.solar_rad.mean() * 86_400 / 1e6)  # W m-2 -> MJ/day
    assert day.pressure == pytest.approx(100.5)


def test_days_are_cut_at_local_midnight_not_utc() -> None:
    daily = aggregate.daily_inputs(three_days_of_readings(), tz=TZ)
    # In UTC the readings start at 17:00 on 31 May; cut in UTC, four partial days appear.
    assert list(daily.index.strftime("%Y-%m-%d")) == ["2024-06-01", "2024-06-02", "2024-06-03"]
    in_utc = aggregate.daily_inputs(three_days_of_readings())
    assert len(in_utc) == 4 and in_utc.tmin.isna().sum() == 2


def test_a_day_below_80_percent_coverage_is_nan_for_that_quantity_only() -> None:
    readings = three_days_of_readings().tz_convert(TZ)
    gap = (readings.index >= "2024-06-02 10:00") & (readings.index < "2024-06-02 15:00")
    readings.loc[gap, "air_temp"] = np.nan  # 20 of 96 slots missing: 79 % coverage
    readings.loc[readings.index.date == pd.Timestamp("2024-06-03").date(), "solar_rad"] = np.nan
    daily = aggregate.daily_inputs(readings)
    assert np.isnan(daily.tmin.iloc[1]) and np.isnan(daily.tmax.iloc[1])
    assert daily.rh_max.iloc[1] == 100.0  # humidity still complete that day
    assert np.isnan(daily.rs.iloc[2]) and not np.isnan(daily.rs.iloc[1])

    readings.loc[gap & (readings.index >= "2024-06-02 14:00"), "air_temp"] = 27.0
    assert not np.isnan(aggregate.daily_inputs(readings).tmin.iloc[1])  # 16 missing: 83 %


def test_duplicate_readings_do_not_inflate_coverage() -> None:
    readings = three_days_of_readings().tz_convert(TZ).loc["2024-06-01"]
    half_day = readings.iloc[:48]  # 50 % of the day, each reading sent three times
    duplicated = pd.concat([half_day, half_day, half_day]).sort_index()
    daily = aggregate.daily_inputs(duplicated)
    assert np.isnan(daily.tmin.iloc[0])


def test_readings_to_et0_end_to_end_flags_the_day_without_a_pyranometer_reading() -> None:
    readings = three_days_of_readings()
    readings.loc[readings.tz_convert(TZ).index.day == 3, "solar_rad"] = np.nan
    daily = aggregate.daily_inputs(readings, wind_height=10.0, tz=TZ)
    with pytest.warns(et0.RadiationEstimatedWarning, match="1 of 3 days"):
        terms = et0.daily_terms(daily, 20.25, 2.0)
    assert terms.rs_estimated.tolist() == [False, False, True]
    assert terms.et0.between(2.0, 8.0).all()


def test_temperature_and_humidity_are_required() -> None:
    with pytest.raises(et0.InputError, match="air_rh"):
        aggregate.daily_inputs(three_days_of_readings().drop(columns="air_rh"))
    with pytest.raises(et0.InputError, match="naive"):
        aggregate.daily_inputs(three_days_of_readings().tz_localize(None), tz=TZ)
