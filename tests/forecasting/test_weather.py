"""The Ninh Bình weather generator reproduces its normals and gives physically possible days."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting import et0, pest, weather

YEARS = 100
# Tolerances are about three standard errors of a 100-year mean, measured over ten seeds:
# monthly rain totals vary most in the dry months (7 % in December), rain-day counts up to 6 %,
# monthly mean temperatures up to 0.16 °C.


@pytest.fixture(scope="module")
def normals() -> pd.DataFrame:
    return weather.load_normals()


@pytest.fixture(scope="module")
def climate() -> pd.DataFrame:
    """A hundred simulated years, 1921-2020."""
    days = (pd.Timestamp("2021-01-01") - pd.Timestamp("1921-01-01")).days
    return weather.generate_daily("1921-01-01", days, seed=2024)


def _per_year(series: pd.Series) -> pd.Series:
    return series.groupby(series.index.month).sum() / YEARS


def test_normals_file_has_twelve_months_and_every_column(normals: pd.DataFrame) -> None:
    assert list(normals.index) == list(range(1, 13))
    for column in ("tmax", "tmin", "rh", "rain_mm", "rain_days", "sunshine_h", "wind_10m"):
        assert normals[column].notna().all()
    assert 1500 < normals["rain_mm"].sum() < 2000  # the delta's ~1,700-1,800 mm a year


def test_monthly_temperatures_match_the_normals_within_0_5_degc(climate, normals) -> None:
    by_month = climate.groupby(climate.index.month)
    assert np.abs(by_month["tmax"].mean() - normals["tmax"]).max() < 0.5
    assert np.abs(by_month["tmin"].mean() - normals["tmin"]).max() < 0.5


def test_monthly_rain_totals_within_20_percent_and_rain_days_within_15_percent(
    climate, normals
) -> None:
    totals = _per_year(climate["rain"])
    rain_days = _per_year((climate["rain"] >= weather.WET_DAY_MM).astype(float))
    assert (np.abs(totals / normals["rain_mm"] - 1.0) < 0.20).all(), totals
    assert (np.abs(rain_days / normals["rain_days"] - 1.0) < 0.15).all(), rain_days
    annual = climate["rain"].sum() / YEARS
    assert abs(annual / normals["rain_mm"].sum() - 1.0) < 0.05


def test_wet_days_cluster_as_the_markov_chain_says(climate, normals) -> None:
    """Geng et al. (1986): P(W|D) = 0.75 f and P(W|W) = 0.25 + 0.75 f, checked in August."""
    wet = (climate["rain"] > 0).to_numpy()
    august = np.asarray(climate.index.month == 8)
    today, yesterday = wet[1:][august[1:]], wet[:-1][august[1:]]
    f = normals.loc[8, "rain_days"] / 31
    assert abs(today[~yesterday].mean() - 0.75 * f) < 0.03
    assert abs(today[yesterday].mean() - (0.25 + 0.75 * f)) < 0.03


def test_humidity_sunshine_and_radiation_follow_the_normals(climate, normals) -> None:
    by_month = climate.groupby(climate.index.month)
    rh_mean = by_month.apply(lambda d: ((d["rh_max"] + d["rh_min"]) / 2).mean())
    # % RH; the spring months run ~3 % dry: the dew point is capped at Tmin (a known limit)
    assert np.abs(rh_mean - normals["rh"]).max() < 5.0
    sunshine = _per_year(climate["sunshine"])
    assert (np.abs(sunshine / normals["sunshine_h"] - 1.0) < 0.08).all(), sunshine
    # radiation against Angstrom (FAO-56 eq. 35) applied to the normal sunshine, mid-month
    mid = pd.date_range("2001-01-01", periods=12, freq="MS") + pd.Timedelta(days=14)
    doy = mid.day_of_year.to_numpy()
    n_day = normals["sunshine_h"].to_numpy() / mid.days_in_month.to_numpy()
    rs_normal = et0.rs_from_sunshine(n_day, weather.LATITUDE, doy)
    assert (np.abs(by_month["rs"].mean().to_numpy() / rs_normal - 1.0) < 0.08).all()


def test_days_are_physically_possible(climate) -> None:
    assert (climate["tmin"] <= climate["tmax"]).all()
    assert ((climate["rh_min"] >= 0) & (climate["rh_min"] <= climate["rh_max"])).all()
    assert (climate["rh_max"] <= 100.0).all()
    assert (climate["rain"] >= 0).all() and (climate["u2"] > 0).all()
    ra = et0.extraterrestrial_radiation(weather.LATITUDE, climate.index.day_of_year.to_numpy())
    rso = et0.clear_sky_radiation(ra, weather.ELEVATION)
    assert (climate["rs"] > 0).all() and (climate["rs"] <= rso + 1e-9).all()


def test_same_seed_same_weather_other_seed_other_weather() -> None:
    a = weather.generate_daily("2024-01-01", 400, seed=7)
    b = weather.generate_daily("2024-01-01", 400, seed=7)
    c = weather.generate_daily("2024-01-01", 400, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["rain"], c["rain"])
    pd.testing.assert_frame_equal(
        weather.sensor_series(a.iloc[:30], seed=1), weather.sensor_series(a.iloc[:30], seed=1)
    )


def test_daily_output_is_the_input_of_fao56_et0() -> None:
    days = weather.generate_daily("2023-01-01", 365, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("error", et0.RadiationEstimatedWarning)  # rs is always given
        et = et0.daily(days, weather.LATITUDE, weather.ELEVATION)
    assert et.notna().all() and (et > 0).all() and (et < 9).all()
    assert 800 < et.sum() < 1400  # mm a year, the order of the Red River Delta's ET0


def test_sensor_series_keeps_the_daily_extremes_and_totals() -> None:
    days = weather.generate_daily("2024-03-01", 20, seed=5)
    readings = weather.sensor_series(days, "15min", seed=6)
    assert str(readings.index.tz) == weather.TIME_ZONE
    assert len(readings) == 20 * 96
    local_day = readings.index.tz_localize(None).normalize()
    daily = readings.groupby(local_day).agg({"air_temp": ["min", "max"], "rain": "sum"})
    # each day reaches its Tmin at sunrise; late evening may already be cooler, heading for
    # a colder next morning, so the calendar-day minimum lies between the two
    low = daily[("air_temp", "min")].to_numpy()
    tmin = days["tmin"].to_numpy()
    next_tmin = np.r_[tmin[1:], tmin[-1]]
    assert (low <= tmin + 0.3).all()
    assert (low >= np.minimum(tmin, next_tmin) - 0.3).all()
    # and its Tmax at 14:00; after a hotter day the small hours can still be warmer
    high = daily[("air_temp", "max")].to_numpy()
    tmax = days["tmax"].to_numpy()
    prev_tmax = np.r_[tmax[0], tmax[:-1]]
    assert (high >= tmax - 0.3).all()
    assert (high <= np.maximum(tmax, prev_tmax) + 0.3).all()
    assert np.allclose(daily[("rain", "sum")], days["rain"], atol=1e-9)
    assert readings["air_rh"].between(0, 100).all()
    assert readings["leaf_wet"].between(0, 1).all()
    hottest = readings["air_temp"].groupby(local_day).idxmax().dt.hour
    warmer_than_yesterday = tmax >= prev_tmax
    assert hottest[warmer_than_yesterday].between(13, 15).all()  # peak near 14:00 solar time


def test_sensor_series_rejects_an_interval_that_does_not_divide_an_hour() -> None:
    days = weather.generate_daily("2024-03-01", 2, seed=5)
    with pytest.raises(ValueError, match="divide one hour"):
        weather.sensor_series(days, "45min")


def test_simulated_sensors_drive_every_pest_rule() -> None:
    days = weather.generate_daily("2024-07-01", 70, seed=9)
    readings = weather.sensor_series(days, "15min", seed=10)
    risks = pest.assess(readings, dat=60)
    assert len(risks) == 5
    assert all(r.level is not None and 0 <= r.level <= 3 for r in risks)
