"""Fixtures of the soil-moisture forecaster's tests (test_features, test_model, test_persist,
test_backtest): one small model and its backtest, shared by the whole session.

The model here is small (12 seasons) so the files run in well under a minute; the full
backtest is `ruong forecast backtest --outlook forecast` (its figures: docs/forecasting.md).
"""

from __future__ import annotations

import datetime as dt

import pytest

from forecasting.backtest import Backtest, backtest
from forecasting.model import SoilMoistureForecaster, train
from forecasting.outlook import OutlookError
from forecasting.seasons import Season, SeasonData, season_data

SEED = 3


@pytest.fixture(scope="session")
def model() -> SoilMoistureForecaster:
    return train(seasons=12, seed=SEED)


@pytest.fixture(scope="session")
def result(model: SoilMoistureForecaster) -> Backtest:
    return backtest(model, seasons=4, seed=SEED, origin_step_h=12)


@pytest.fixture(scope="session")
def season() -> SeasonData:
    spec = Season("tomato", "silt_loam", dt.date(2035, 9, 20), seed=77, irrigation_logged=True)
    return season_data(spec, 24, OutlookError())
