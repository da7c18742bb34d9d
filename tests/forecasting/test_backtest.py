"""The backtest: the FAO-56 baseline behaves as the bucket does (and takes the irrigation the
farmer recorded), and on held-out seasons the model beats persistence and FAO-56 with
intervals that cover about 80 %, scored on the same origins with and without the records."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from forecasting import crops, soils
from forecasting.backtest import Backtest, fao56_forecast
from forecasting.features import HORIZONS_H
from forecasting.seasons import TEST_YEARS, SeasonData, seasons_for
from forecasting.water_balance import Field

from .conftest import SEED


def test_fao56_baseline_dries_without_rain_and_drains_to_field_capacity() -> None:
    f = Field(
        crop=crops.get_crop("maize"),
        soil=soils.get_soil("silt_loam"),
        planting_date=dt.date(2024, 9, 1),
    )
    dry = fao56_forecast(25.0, np.zeros(72), np.full(72, 0.2), f, dt.date(2024, 10, 20))
    assert (np.diff(dry) < 0).all() and dry[0] < 25.0
    wet = fao56_forecast(35.0, np.zeros(72), np.full(72, 0.2), f, dt.date(2024, 10, 20))
    assert wet[2] <= 100 * f.soil.theta_fc  # the bucket drains everything within a day
    rain = np.zeros(72)
    rain[30] = 80.0
    day = dt.date(2024, 10, 20)
    soaked = fao56_forecast(22.0, rain, np.full(72, 0.2), f, day)
    parched = fao56_forecast(22.0, np.zeros(72), np.full(72, 0.2), f, day)
    # 80 mm less SCS runoff (CN 85: 43.6 mm) into a 1 m root zone: +3.6 %, from 48 h on
    assert soaked[:3] == pytest.approx(parched[:3])
    assert soaked[3] - parched[3] == pytest.approx((80.0 - 43.55) / 10.0, abs=0.1)


def test_backtest_beats_persistence_and_fao56_at_every_horizon(result) -> None:
    table = result.table
    assert list(table.index) == list(HORIZONS_H)
    assert (table["n"] > 500).all()
    assert (table["skill_persistence"] > 0).all(), table
    assert (table["skill_fao56"] > 0).all(), table
    # errors grow with the horizon, for the model and for persistence
    assert table["mae_model"].is_monotonic_increasing
    assert table["mae_persistence"].is_monotonic_increasing
    text = result.to_text()
    assert "Beats persistence at every horizon" in text and "Beats FAO-56 at every horizon" in text
    assert result.model_version in text


def test_intervals_cover_about_their_nominal_80_percent(result) -> None:
    coverage = result.table["coverage"]
    assert ((coverage > 0.70) & (coverage < 0.92)).all(), coverage
    assert result.table["width"].is_monotonic_increasing


def test_backtest_is_held_out_and_recorded(model, result) -> None:
    trained = {s["seed"] for s in model.metadata["season_list"]}
    held_out = {s.seed for s in seasons_for(4, SEED, TEST_YEARS, branch=1)}
    assert not trained & held_out
    assert model.metadata["backtest"]["table"]["72h"]["mae_model"] == pytest.approx(
        result.table.loc[72, "mae_model"], abs=1e-4
    )


def test_verdict_says_plainly_where_a_baseline_is_not_beaten(result) -> None:
    worse = dataclasses.replace(result, table=result.table.copy())
    worse.table.loc[48, "skill_fao56"] = -0.05
    text = worse.to_text()
    assert "Does NOT beat FAO-56 at 48 h" in text


def test_fao56_baseline_adds_irrigation_recorded_after_the_last_reading() -> None:
    f = Field(
        crop=crops.get_crop("maize"),
        soil=soils.get_soil("silt_loam"),
        planting_date=dt.date(2024, 9, 1),
    )
    day, et0 = dt.date(2024, 10, 20), np.full(72, 0.15)
    dry = fao56_forecast(26.0, np.zeros(72), et0, f, day)
    watered = fao56_forecast(26.0, np.zeros(72), et0, f, day, irrigation_mm=20.0)
    # 20 mm into a 1 m root zone is +2 % (eq. 86), from the origin on (Ks stays 1)
    assert watered - dry == pytest.approx(np.full(len(HORIZONS_H), 2.0), abs=0.01)
    # a bucket at field capacity cannot hold more: the excess percolates (eq. 88)
    full = fao56_forecast(36.0, np.zeros(72), et0, f, day)
    assert fao56_forecast(36.0, np.zeros(72), et0, f, day, irrigation_mm=20.0) == pytest.approx(
        full
    )


def test_season_rows_differ_by_the_records_only(season: SeasonData) -> None:
    with_, without = season.x_records, season.x_no_records
    assert season.x is with_  # the season logs its irrigation
    others = [c for c in with_.columns if c != "irrigation_past_24h"]
    assert with_[others].equals(without[others])
    assert without["irrigation_past_24h"].isna().all()
    applied = season.sim["irrigation"].to_numpy()
    expected = [applied[o - 24 : o].sum() for o in season.origins]
    assert with_["irrigation_past_24h"].to_numpy() == pytest.approx(expected)
    assert np.nansum(expected) > 0  # the season does irrigate before some origin


def test_irrigation_since_the_last_reading_is_what_the_reading_has_not_seen(
    season: SeasonData,
) -> None:
    since = season.irrigation_since_reading()
    age = season.x["vwc_age_h"].to_numpy()
    applied = season.sim["irrigation"].to_numpy()
    for k, o in enumerate(season.origins):
        if not np.isfinite(age[k]):
            assert np.isnan(since[k])
            continue
        # the reading of hour o - age saw the water of the hours before it, not of its own on
        assert since[k] == pytest.approx(applied[o - int(age[k]) : o].sum())
    assert (since[age == 0] == 0).all()


def test_backtest_scores_the_same_origins_with_and_without_records(model, result: Backtest) -> None:
    without, with_ = result.table, result.table_records
    assert list(with_.index) == list(without.index)
    assert (with_["n"] == without["n"]).all()
    assert with_["mae_persistence"].to_numpy() == pytest.approx(without["mae_persistence"])
    # records are information: they may not make the model worse by more than noise
    assert (with_["mae_model"] <= without["mae_model"] * 1.05).all(), (with_, without)
    assert (with_["skill_fao56"] > 0).all() and (with_["skill_persistence"] > 0).all()
    assert set(result.errors["records"]) == {False, True}
    text = result.to_text()
    assert "Without / with the farmer's irrigation records" in text
    assert "Origins with irrigation in the 24 h before them" in text
    stored = model.metadata["backtest"]["table_records"]["24h"]["mae_model"]
    assert stored == pytest.approx(with_.loc[24, "mae_model"], abs=1e-4)
