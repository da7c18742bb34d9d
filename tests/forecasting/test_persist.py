"""Model files: the version is the digest of what training did, a saved model loads to the
same predictions, and `load_or_train` takes the newest model for the outlook or trains one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from forecasting import persist
from forecasting.features import FEATURES
from forecasting.model import FAMILY, SoilMoistureForecaster
from forecasting.outlook import NO_RAIN_OUTLOOK, OutlookError
from forecasting.seasons import TEST_YEARS


def test_version_and_metadata(model) -> None:
    meta = model.metadata
    assert model.version.startswith("sm-hgb-1-") and len(model.version) == len("sm-hgb-1-") + 8
    assert model.version == f"{FAMILY}-{persist.digest(meta)}"
    assert persist.digest({**meta, "trained_at": "2000-01-01T00:00:00+00:00"}) == persist.digest(
        meta
    )
    for key in ("trained_at", "sklearn", "seed", "n_samples", "features", "validation"):
        assert key in meta, key
    assert meta["features"] == list(FEATURES)
    assert all(n > 1000 for n in meta["n_samples"].values())
    years = {dt.date.fromisoformat(str(s["planted"])).year for s in meta["season_list"]}
    assert max(years) < TEST_YEARS[0]


def test_save_load_round_trip_gives_identical_predictions(model, season, tmp_path: Path) -> None:
    path = model.save(tmp_path)
    assert path.name == f"{model.version}.joblib"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["version"] == model.version
    loaded = SoilMoistureForecaster.load(path)
    assert loaded.version == model.version
    pd.testing.assert_frame_equal(loaded.predict(season.x), model.predict(season.x))
    assert SoilMoistureForecaster.load(path.with_suffix(".json")).version == model.version


def test_load_or_train_takes_the_newest_and_trains_when_there_is_none(
    model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model.save(tmp_path)
    newer_meta = {
        **model.metadata,
        "version": "sm-hgb-1-0000beef",
        "trained_at": "2999-01-01T00:00:00+00:00",
    }
    newer = SoilMoistureForecaster(model.models, model.corrections, newer_meta)
    newer.save(tmp_path)
    assert persist.load_or_train(tmp_path).version == "sm-hgb-1-0000beef"
    calls = []

    def fake_train(error: OutlookError | None = None) -> SoilMoistureForecaster:
        calls.append(error)
        return model

    monkeypatch.setattr(persist, "train", fake_train)
    empty = tmp_path / "none"
    assert persist.load_or_train(empty).version == model.version
    assert calls == [OutlookError()] and (empty / f"{model.version}.joblib").exists()
    # a model trained for another outlook is not taken: one is trained for this outlook
    persist.load_or_train(tmp_path, NO_RAIN_OUTLOOK)
    assert calls[-1] == NO_RAIN_OUTLOOK
