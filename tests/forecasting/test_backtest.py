"""The backtest: the FAO-56 baseline behaves as the bucket does, and on held-out seasons the
model beats persistence and FAO-56 with intervals that cover about 80 %."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from forecasting import crops, soils
from forecasting.backtest import fao56_forecast
from forecasting.features import HORIZONS_H
from forecasting.seasons import TEST_YEARS, seasons_for
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
