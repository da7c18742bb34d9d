"""Model files of the soil-moisture forecaster: save, load, the version, load-or-train.

Place in the data path: `ruong forecast train` saves what `forecasting.model.train` made
(:func:`save`); `ruong forecast run` takes the newest saved model for its outlook, or trains
and saves one when none loads (:func:`load_or_train`); `ruong forecast backtest --model`
loads one (:func:`load`). The version computed here (:func:`digest`) is the `model` tag of
every forecast the model writes.

Model files
-----------
:func:`save` writes `<version>.joblib` (the fitted estimators and the metadata) and
`<version>.json` (the metadata alone, for people). The version is
`sm-hgb-1-<8 hex of the SHA-256 of the training metadata>` (minus the training time and any
backtest results), so the same training run gives the same version. joblib files are
pickles: load only model files you made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

from forecasting.model import FAMILY, SoilMoistureForecaster, train
from forecasting.outlook import OutlookError

_VOLATILE = ("trained_at", "train_seconds", "simulate_seconds", "backtest", "version")

# what unpickling a model file written by other library versions, or cut short, can raise
_UNLOADABLE = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    AttributeError,
    ImportError,
    TypeError,
    pickle.UnpicklingError,
)


def digest(metadata: dict[str, Any]) -> str:
    """8 hex digits of the SHA-256 of the metadata without what changes between identical
    training runs (times, backtest results, the version itself)."""
    stable = {k: v for k, v in metadata.items() if k not in _VOLATILE}
    text = json.dumps(stable, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def save(model: SoilMoistureForecaster, directory: str | Path) -> Path:
    """Write `<version>.joblib` and its `<version>.json` metadata into `directory`
    (created if needed); returns the .joblib path."""
    import joblib

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{model.version}.joblib"
    payload = {"models": model.models, "corrections": model.corrections, "meta": model.metadata}
    partial = path.with_name(path.name + ".partial")  # readers never see half a file
    joblib.dump(payload, partial)
    os.replace(partial, path)
    sidecar = path.with_suffix(".json")
    text = json.dumps(model.metadata, indent=2, sort_keys=True, default=str) + "\n"
    partial = sidecar.with_name(sidecar.name + ".partial")
    partial.write_text(text)
    os.replace(partial, sidecar)
    return path


def load(path: str | Path) -> SoilMoistureForecaster:
    """A model saved by :func:`save` (the .joblib path, or its .json sidecar's)."""
    import joblib

    path = Path(path)
    if path.suffix == ".json":
        path = path.with_suffix(".joblib")
    payload = joblib.load(path)
    return SoilMoistureForecaster(payload["models"], payload["corrections"], payload["meta"])


def load_or_train(directory: Path, error: OutlookError | None = None) -> SoilMoistureForecaster:
    """The newest model saved in `directory` (by its metadata's trained_at) that was trained
    for the outlook `error` (default `forecasting.outlook.OutlookError`), or a new one trained
    with `forecasting.model.train`'s defaults for it and saved there when none loads."""
    directory = Path(directory)
    error = error or OutlookError()
    wanted = dataclasses.asdict(error)
    candidates = []
    for path in directory.glob(f"{FAMILY}-*.joblib") if directory.is_dir() else []:
        sidecar = path.with_suffix(".json")
        try:
            meta = json.loads(sidecar.read_text())
            stamp = meta["trained_at"]
            outlook_error = meta.get("outlook_error")
        except (OSError, ValueError, KeyError):
            stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat()
            outlook_error = None
        if outlook_error is not None and _same_error(outlook_error, wanted):
            candidates.append((stamp, path))
    for _, path in sorted(candidates, reverse=True):
        try:
            return load(path)
        except _UNLOADABLE as exc:  # a model from another sklearn, a torn file: try the next
            warnings.warn(f"cannot load {path}: {exc}", stacklevel=2)
    model = train(error=error)
    save(model, directory)
    return model


def _same_error(saved: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Saved (JSON: tuples became lists) and wanted outlook errors are the same."""
    return json.dumps(saved, sort_keys=True) == json.dumps(wanted, sort_keys=True)
