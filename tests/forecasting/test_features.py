"""The soil-moisture model's feature rows: they see no future, a live row equals the training
row of the same inputs, and unusable inputs are refused with the reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.et0 import InputError
from forecasting.features import FEATURES, OUTLOOK_H, features
from forecasting.seasons import SeasonData


def _inputs(d: SeasonData, k: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The history (every row of the season, future included), the k-th origin's outlook as
    a frame, and the origin."""
    origin = d.sim.index[d.origins[k]]
    history = d.sim[["soil_vwc", "rain", "et0", "irrigation"]]
    ahead = pd.date_range(origin, periods=OUTLOOK_H, freq="h")
    forecast = pd.DataFrame({"et0": d.et0_f[k], "rain": d.rain_f[k]}, index=ahead)
    return history, forecast, origin


def test_features_use_no_future_readings(season) -> None:
    for k in (3, 40, 80):
        history, forecast, origin = _inputs(season, k)
        before = features(history, forecast, season.field, origin)
        corrupt = history.copy()
        later = corrupt.index > origin
        corrupt.loc[later, "soil_vwc"] = 99.0
        corrupt.loc[corrupt.index >= origin, ["rain", "et0", "irrigation"]] = 500.0
        after = features(corrupt, forecast, season.field, origin)
        pd.testing.assert_frame_equal(before, after)
        # and only the first 72 h of the outlook count
        longer = pd.concat(
            [
                forecast,
                pd.DataFrame(
                    {"et0": 9.0, "rain": 300.0},
                    index=pd.date_range(
                        forecast.index[-1] + pd.Timedelta(hours=1), periods=5, freq="h"
                    ),
                ),
            ]
        )
        pd.testing.assert_frame_equal(before, features(history, longer, season.field, origin))


def test_features_row_equals_the_vectorised_training_row(season) -> None:
    for k in range(0, len(season.origins), 7):
        history, forecast, origin = _inputs(season, k)
        row = features(history, forecast, season.field, origin)
        assert list(row.columns) == list(FEATURES)
        np.testing.assert_allclose(
            row.iloc[0].to_numpy(float), season.x.iloc[k].to_numpy(float), rtol=1e-9, atol=1e-9
        )


def test_features_values_make_sense(season) -> None:
    history, forecast, origin = _inputs(season, 50)
    row = features(history, forecast, season.field, origin).iloc[0]
    last = history["soil_vwc"].loc[:origin].dropna().iloc[-1]
    assert row["vwc_last"] == last
    assert row["rain_past_24h"] == pytest.approx(
        history["rain"].loc[origin - pd.Timedelta(hours=24) : origin - pd.Timedelta(hours=1)].sum()
    )
    assert row["rain_next_72h"] == pytest.approx(forecast["rain"].sum())
    assert row["et0_next_6h"] == pytest.approx(forecast["et0"].iloc[:6].sum())
    assert row["fc"] == pytest.approx(100 * season.field.soil.theta_fc)
    assert row["day_of_season"] == (origin.date() - season.field.planting_date).days + 1
    assert row["hour"] == origin.hour


def test_features_handle_missing_optional_data_and_other_intervals(season) -> None:
    history, forecast, origin = _inputs(season, 50)
    hourly = features(history, forecast, season.field, origin)
    no_irrigation = features(history.drop(columns="irrigation"), forecast, season.field, origin)
    assert np.isnan(no_irrigation["irrigation_past_24h"].iloc[0])
    gap = history.copy()
    gap.loc[origin - pd.Timedelta(hours=30) : origin - pd.Timedelta(hours=20), "rain"] = np.nan
    with_gap = features(gap, forecast, season.field, origin)
    assert np.isnan(with_gap["rain_past_24h"].iloc[0])  # a missing hour is not a dry hour
    assert np.isfinite(with_gap["rain_next_24h"].iloc[0])
    # 15-minute readings: the same hours, so the same features
    quarter = history.loc[: origin + pd.Timedelta(hours=1)].resample("15min").asfreq()
    for column in ("rain", "et0", "irrigation"):
        quarter[column] = quarter[column].fillna(0.0)
    quarter = quarter.loc[:origin]
    pd.testing.assert_frame_equal(hourly, features(quarter, forecast, season.field, origin))
    # an outlook that starts in the next hour (as `forecasting.field_forecast` gives it)
    shifted = forecast.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=1)
    assert np.isfinite(features(history, shifted, season.field, origin).to_numpy()[:, :5]).all()


def test_features_refuse_unusable_inputs(season) -> None:
    history, forecast, origin = _inputs(season, 50)
    with pytest.raises(InputError, match="soil_vwc"):
        features(history.drop(columns="soil_vwc"), forecast, season.field, origin)
    with pytest.raises(InputError, match="rain"):
        features(history, forecast.drop(columns="rain"), season.field, origin)
    with pytest.raises(InputError, match="72"):
        features(history, forecast.iloc[:48], season.field, origin)
    holed = forecast.copy()
    holed.iloc[10, 0] = np.nan
    with pytest.raises(InputError):
        features(history, holed, season.field, origin)
    silent = history.copy()
    silent.loc[origin - pd.Timedelta(hours=30) :, "soil_vwc"] = np.nan
    with pytest.raises(InputError, match="no soil_vwc reading"):
        features(silent, forecast, season.field, origin)
    with pytest.raises(InputError):
        features(history.reset_index(drop=True), forecast, season.field, origin)
