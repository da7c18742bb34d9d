"""The soil-moisture forecaster: features see no future, the model saves and loads exactly, it
beats persistence and the FAO-56 balance on held-out seasons, and its intervals cover.

The model here is small (12 seasons) so the file runs in well under a minute; the full
backtest is `ruong forecast backtest --outlook forecast`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import crops, soils
from forecasting import forecaster as fc
from forecasting.et0 import InputError
from forecasting.water_balance import Field

SEED = 3


@pytest.fixture(scope="module")
def model() -> fc.SoilMoistureForecaster:
    return fc.train(seasons=12, seed=SEED)


@pytest.fixture(scope="module")
def result(model: fc.SoilMoistureForecaster) -> fc.Backtest:
    return fc.backtest(model, seasons=4, seed=SEED, origin_step_h=12)


@pytest.fixture(scope="module")
def season() -> fc._SeasonData:
    spec = fc.Season("tomato", "silt_loam", dt.date(2035, 9, 20), seed=77, irrigation_logged=True)
    return fc._season_data(spec, 24, fc.OutlookError())


def _inputs(d: fc._SeasonData, k: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The history (every row of the season, future included), the k-th origin's outlook as
    a frame, and the origin."""
    origin = d.sim.index[d.origins[k]]
    history = d.sim[["soil_vwc", "rain", "et0", "irrigation"]]
    ahead = pd.date_range(origin, periods=fc.OUTLOOK_H, freq="h")
    forecast = pd.DataFrame({"et0": d.et0_f[k], "rain": d.rain_f[k]}, index=ahead)
    return history, forecast, origin


# --- features ---------------------------------------------------------------------------------


def test_features_use_no_future_readings(season) -> None:
    for k in (3, 40, 80):
        history, forecast, origin = _inputs(season, k)
        before = fc.features(history, forecast, season.field, origin)
        corrupt = history.copy()
        later = corrupt.index > origin
        corrupt.loc[later, "soil_vwc"] = 99.0
        corrupt.loc[corrupt.index >= origin, ["rain", "et0", "irrigation"]] = 500.0
        after = fc.features(corrupt, forecast, season.field, origin)
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
        pd.testing.assert_frame_equal(before, fc.features(history, longer, season.field, origin))


def test_features_row_equals_the_vectorised_training_row(season) -> None:
    for k in range(0, len(season.origins), 7):
        history, forecast, origin = _inputs(season, k)
        row = fc.features(history, forecast, season.field, origin)
        assert list(row.columns) == list(fc.FEATURES)
        np.testing.assert_allclose(
            row.iloc[0].to_numpy(float), season.x.iloc[k].to_numpy(float), rtol=1e-9, atol=1e-9
        )


def test_features_values_make_sense(season) -> None:
    history, forecast, origin = _inputs(season, 50)
    row = fc.features(history, forecast, season.field, origin).iloc[0]
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
    hourly = fc.features(history, forecast, season.field, origin)
    no_irrigation = fc.features(history.drop(columns="irrigation"), forecast, season.field, origin)
    assert np.isnan(no_irrigation["irrigation_past_24h"].iloc[0])
    gap = history.copy()
    gap.loc[origin - pd.Timedelta(hours=30) : origin - pd.Timedelta(hours=20), "rain"] = np.nan
    with_gap = fc.features(gap, forecast, season.field, origin)
    assert np.isnan(with_gap["rain_past_24h"].iloc[0])  # a missing hour is not a dry hour
    assert np.isfinite(with_gap["rain_next_24h"].iloc[0])
    # 15-minute readings: the same hours, so the same features
    quarter = history.loc[: origin + pd.Timedelta(hours=1)].resample("15min").asfreq()
    for column in ("rain", "et0", "irrigation"):
        quarter[column] = quarter[column].fillna(0.0)
    quarter = quarter.loc[:origin]
    pd.testing.assert_frame_equal(hourly, fc.features(quarter, forecast, season.field, origin))
    # an outlook that starts in the next hour (as `forecasting.field_forecast` gives it)
    shifted = forecast.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=1)
    assert np.isfinite(fc.features(history, shifted, season.field, origin).to_numpy()[:, :5]).all()


def test_features_refuse_unusable_inputs(season) -> None:
    history, forecast, origin = _inputs(season, 50)
    with pytest.raises(InputError, match="soil_vwc"):
        fc.features(history.drop(columns="soil_vwc"), forecast, season.field, origin)
    with pytest.raises(InputError, match="rain"):
        fc.features(history, forecast.drop(columns="rain"), season.field, origin)
    with pytest.raises(InputError, match="72"):
        fc.features(history, forecast.iloc[:48], season.field, origin)
    holed = forecast.copy()
    holed.iloc[10, 0] = np.nan
    with pytest.raises(InputError):
        fc.features(history, holed, season.field, origin)
    silent = history.copy()
    silent.loc[origin - pd.Timedelta(hours=30) :, "soil_vwc"] = np.nan
    with pytest.raises(InputError, match="no soil_vwc reading"):
        fc.features(silent, forecast, season.field, origin)
    with pytest.raises(InputError):
        fc.features(history.reset_index(drop=True), forecast, season.field, origin)


# --- the outlook and the baselines ------------------------------------------------------------


def test_outlook_without_error_is_the_realised_weather_and_errors_grow_with_lead() -> None:
    rng = np.random.default_rng(0)
    rain = rng.gamma(0.3, 3.0, 3000) * (rng.random(3000) < 0.2)
    et0 = rng.uniform(0.0, 0.5, 3000)
    origins = np.arange(0, 2800, 5)
    exact = fc.OutlookError(
        rain_sd=(0, 0, 0), miss=(0, 0, 0), false_alarm=(0, 0, 0), timing_sd_h=0, et0_sd=(0, 0, 0)
    )
    r, e = fc.outlook(rain, et0, origins, rng, exact)
    assert np.allclose(r, rain[origins[:, None] + np.arange(72)])
    assert np.allclose(e, et0[origins[:, None] + np.arange(72)])
    r, e = fc.outlook(rain, et0, origins, rng)
    assert (r >= 0).all() and (e >= 0).all()
    real = rain[origins[:, None] + np.arange(72)].reshape(-1, 3, 24).sum(axis=2)
    fcst = r.reshape(-1, 3, 24).sum(axis=2)
    day_error = np.abs(fcst - real).mean(axis=0)
    assert day_error[0] < day_error[2]  # day 3 is worse than day 1
    assert 0.6 < fcst.sum() / real.sum() < 1.5  # no gross bias


def test_fao56_baseline_dries_without_rain_and_drains_to_field_capacity() -> None:
    f = Field(
        crop=crops.get_crop("maize"),
        soil=soils.get_soil("silt_loam"),
        planting_date=dt.date(2024, 9, 1),
    )
    dry = fc.fao56_forecast(25.0, np.zeros(72), np.full(72, 0.2), f, dt.date(2024, 10, 20))
    assert (np.diff(dry) < 0).all() and dry[0] < 25.0
    wet = fc.fao56_forecast(35.0, np.zeros(72), np.full(72, 0.2), f, dt.date(2024, 10, 20))
    assert wet[2] <= 100 * f.soil.theta_fc  # the bucket drains everything within a day
    rain = np.zeros(72)
    rain[30] = 80.0
    day = dt.date(2024, 10, 20)
    soaked = fc.fao56_forecast(22.0, rain, np.full(72, 0.2), f, day)
    parched = fc.fao56_forecast(22.0, np.zeros(72), np.full(72, 0.2), f, day)
    # 80 mm less SCS runoff (CN 85: 43.6 mm) into a 1 m root zone: +3.6 %, from 48 h on
    assert soaked[:3] == pytest.approx(parched[:3])
    assert soaked[3] - parched[3] == pytest.approx((80.0 - 43.55) / 10.0, abs=0.1)


# --- the model --------------------------------------------------------------------------------


def test_predict_is_batched_ordered_and_interval_contains_the_forecast(model, season) -> None:
    rows = season.x.iloc[:50].copy()
    rows.index = np.arange(1000, 1050)
    rows.iloc[7, rows.columns.get_loc("vwc_last")] = np.nan
    out = model.predict(rows)
    assert list(out.index) == list(rows.index)
    assert list(out.columns) == [f"{p}_{h}h" for h in fc.HORIZONS_H for p in ("vwc", "lo", "hi")]
    assert out.iloc[7].isna().all()
    ok = out.drop(index=1007)
    for h in fc.HORIZONS_H:
        assert (ok[f"lo_{h}h"] <= ok[f"vwc_{h}h"]).all() and (
            ok[f"vwc_{h}h"] <= ok[f"hi_{h}h"]
        ).all()
    single = model.predict(rows.iloc[[3]])
    pd.testing.assert_frame_equal(single, out.iloc[[3]])
    with pytest.raises(InputError):
        model.predict(rows.drop(columns="kc"))


def test_rain_in_the_outlook_raises_the_forecast(model, season) -> None:
    row = season.x.iloc[[60]].copy()
    dry = model.predict(row)
    for h in fc.HORIZONS_H:
        row[f"rain_next_{h}h"] += 40.0
        row[f"rain_next_{h}h_pct"] += 40.0 / (10 * row["zr"].iloc[0])
    wet = model.predict(row)
    for h in fc.HORIZONS_H:
        assert wet[f"vwc_{h}h"].iloc[0] >= dry[f"vwc_{h}h"].iloc[0]


def test_predicting_1000_rows_takes_well_under_a_second(model, season) -> None:
    rows = pd.concat([season.x] * (1000 // len(season.x) + 1), ignore_index=True).iloc[:1000]
    best = min(_timed(model.predict, rows) for _ in range(3))
    assert best < 1.0, best


def _timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def test_version_and_metadata(model) -> None:
    meta = model.metadata
    assert model.version.startswith("sm-hgb-1-") and len(model.version) == len("sm-hgb-1-") + 8
    assert model.version == f"{fc.FAMILY}-{fc._digest(meta)}"
    assert fc._digest({**meta, "trained_at": "2000-01-01T00:00:00+00:00"}) == fc._digest(meta)
    for key in ("trained_at", "sklearn", "seed", "n_samples", "features", "validation"):
        assert key in meta, key
    assert meta["features"] == list(fc.FEATURES)
    assert all(n > 1000 for n in meta["n_samples"].values())
    years = {dt.date.fromisoformat(str(s["planted"])).year for s in meta["season_list"]}
    assert max(years) < fc.TEST_YEARS[0]


def test_save_load_round_trip_gives_identical_predictions(model, season, tmp_path: Path) -> None:
    path = model.save(tmp_path)
    assert path.name == f"{model.version}.joblib"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["version"] == model.version
    loaded = fc.SoilMoistureForecaster.load(path)
    assert loaded.version == model.version
    pd.testing.assert_frame_equal(loaded.predict(season.x), model.predict(season.x))
    assert fc.SoilMoistureForecaster.load(path.with_suffix(".json")).version == model.version


def test_load_or_train_takes_the_newest_and_trains_when_there_is_none(
    model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model.save(tmp_path)
    newer_meta = {
        **model.metadata,
        "version": "sm-hgb-1-0000beef",
        "trained_at": "2999-01-01T00:00:00+00:00",
    }
    newer = fc.SoilMoistureForecaster(model.models, model.corrections, newer_meta)
    newer.save(tmp_path)
    assert fc.load_or_train(tmp_path).version == "sm-hgb-1-0000beef"
    calls = []

    def fake_train(error: fc.OutlookError | None = None) -> fc.SoilMoistureForecaster:
        calls.append(error)
        return model

    monkeypatch.setattr(fc, "train", fake_train)
    empty = tmp_path / "none"
    assert fc.load_or_train(empty).version == model.version
    assert calls == [fc.OutlookError()] and (empty / f"{model.version}.joblib").exists()
    # a model trained for another outlook is not taken: one is trained for this outlook
    fc.load_or_train(tmp_path, fc.NO_RAIN_OUTLOOK)
    assert calls[-1] == fc.NO_RAIN_OUTLOOK


# --- the backtest -----------------------------------------------------------------------------


def test_backtest_beats_persistence_and_fao56_at_every_horizon(result) -> None:
    table = result.table
    assert list(table.index) == list(fc.HORIZONS_H)
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
    held_out = {s.seed for s in fc.seasons_for(4, SEED, fc.TEST_YEARS, branch=1)}
    assert not trained & held_out
    assert model.metadata["backtest"]["table"]["72h"]["mae_model"] == pytest.approx(
        result.table.loc[72, "mae_model"], abs=1e-4
    )


def test_verdict_says_plainly_where_a_baseline_is_not_beaten(result) -> None:
    worse = dataclasses.replace(result, table=result.table.copy())
    worse.table.loc[48, "skill_fao56"] = -0.05
    text = worse.to_text()
    assert "Does NOT beat FAO-56 at 48 h" in text
