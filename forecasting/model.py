"""The soil-moisture model: root-zone soil_vwc 6 h to 72 h ahead, with prediction intervals.

Place in the data path: :func:`train` fits it on simulated seasons (`forecasting.seasons`);
`forecasting.persist` saves and loads it; `ruong forecast run` predicts every upland field's
feature row (`forecasting.features`) in one batch with :meth:`SoilMoistureForecaster.predict`
and writes the `vwc_<h>h`, `lo_<h>h`, `hi_<h>h` values (%) to `forecasts` with the model's
version as the `model` tag; `forecasting.backtest` scores it. Upland crops only: paddy rice
is ponded and follows the AWD water-level advice (`forecasting.awd`).

What is predicted
-----------------
For each horizon h in :data:`~forecasting.features.HORIZONS_H` (hours), the change of the
probe's reading soil_vwc(t0 + h) - soil_vwc_last (percentage points of volumetric water
content), where soil_vwc_last is the last reading at or before the origin t0. Predicting the
change, not the level, is what lets a model beat persistence: the level is mostly the probe's
own offset and the soil's field capacity, which the last reading already carries.

Model
-----
One scikit-learn `HistGradientBoostingRegressor` per horizon and quantile (10 %, 50 %, 90 %)
with the pinball (quantile) loss; the 50 % model is the point forecast (the median minimises
the mean absolute error, the score the backtest reports). The horizon's own outlook features
carry monotonic constraints (more rain cannot lower the forecast; more crop ET cannot raise
it), physics the trees would otherwise have to learn from noise.

Prediction intervals: conformalised quantile regression (Romano, Patterson & Candès 2019,
"Conformalized quantile regression", NeurIPS): the 10 % and 90 % models give an interval
that widens where the future is uncertain (after rain, near the irrigation trigger); on
calibration seasons held out from fitting (the latest-planted quarter) the conformity score
E = max(lo - y, y - hi) gives the correction Q, the ceil((n + 1) 0.8)-th smallest E, and the
interval is [lo - Q, hi + Q] (never narrower than the median). Why this rather than either
part alone: quantile models by themselves carry no coverage guarantee out of sample, and
conformal residual quantiles by themselves give one width for every situation. The nominal
coverage is 80 % (marginal, and exchangeability of seasons is assumed); the backtest reports
the coverage reached on held-out seasons.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.et0 import InputError
from forecasting.features import FEATURES, HORIZONS_H
from forecasting.outlook import OutlookError
from forecasting.seasons import TRAIN_YEARS, SeasonData, season_data, seasons_for

QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
NOMINAL_COVERAGE = QUANTILES[2] - QUANTILES[0]
FAMILY = "sm-hgb-1"

# The median model is the forecast; the 10 % / 90 % models only shape the interval, which the
# conformal step then calibrates, so they are smaller (faster to fit).
_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "median": {
        "max_iter": 90,
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "early_stopping": False,
    },
    "interval": {
        "max_iter": 40,
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "early_stopping": False,
    },
}


def _monotonic(h: int) -> list[int]:
    cst = {f"rain_next_{h}h": 1, f"rain_next_{h}h_pct": 1, f"etc_next_{h}h_pct": -1}
    return [cst.get(name, 0) for name in FEATURES]


class SoilMoistureForecaster:
    """Multi-horizon root-zone soil_vwc forecaster with 80 % prediction intervals.

    version: "sm-hgb-1-<hash of the training metadata>", the `model` tag of its forecasts.
    metadata: trained_at (ISO UTC), versions of sklearn/numpy/python, seed, seasons and their
      descriptions, n_samples per horizon, features, hyperparameters, conformal corrections,
      validation MAE on the calibration seasons, and `backtest` once
      `forecasting.backtest.backtest` ran.
    """

    def __init__(
        self,
        models: dict[int, dict[float, Any]],
        corrections: dict[int, float],
        metadata: dict[str, Any],
    ) -> None:
        self.models = models
        self.corrections = corrections
        self.metadata = metadata
        self.version: str = metadata["version"]

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Forecasts for feature rows (as `forecasting.features.features` makes, any number,
        one batch).

        Returns one row per input row (same index) with, for each horizon h in HORIZONS_H,
        vwc_<h>h (the forecast reading, %), lo_<h>h and hi_<h>h (the 80 % interval, %), all
        within 0-100 %. Rows without a last reading give NaN.
        """
        missing = [c for c in FEATURES if c not in rows.columns]
        if missing:
            raise InputError(f"feature rows lack {missing}")
        from threadpoolctl import threadpool_limits

        x = rows[list(FEATURES)].to_numpy(dtype=float)
        last = x[:, FEATURES.index("vwc_last")]
        out: dict[str, np.ndarray] = {}
        # One OpenMP thread: on a busy 2-core machine OpenMP's waiting threads made a
        # 1,000-row batch 10-30 times slower; parallelise over fields with processes instead.
        with threadpool_limits(1, user_api="openmp"):
            predicted = {h: [self.models[h][q].predict(x) for q in QUANTILES] for h in HORIZONS_H}
        for h in HORIZONS_H:
            lo, mid, hi = predicted[h]
            lo, hi = np.minimum(lo, mid), np.maximum(hi, mid)  # quantile models may cross
            q = self.corrections[h]  # CQR; a negative q narrows, but never past the median
            out[f"vwc_{h}h"] = np.clip(last + mid, 0.0, 100.0)
            out[f"lo_{h}h"] = np.clip(last + np.minimum(lo - q, mid), 0.0, 100.0)
            out[f"hi_{h}h"] = np.clip(last + np.maximum(hi + q, mid), 0.0, 100.0)
        columns = [f"{p}_{h}h" for h in HORIZONS_H for p in ("vwc", "lo", "hi")]
        return pd.DataFrame(out, index=rows.index)[columns]

    # Model files are `forecasting.persist`'s job; these two delegate to it. persist imports
    # this module, so it is imported when called.
    def save(self, directory: str | Path) -> Path:
        """Write `<version>.joblib` and `<version>.json` into `directory`
        (`forecasting.persist.save`); returns the .joblib path."""
        from forecasting import persist

        return persist.save(self, directory)

    @classmethod
    def load(cls, path: str | Path) -> SoilMoistureForecaster:
        """A model saved by :meth:`save` (`forecasting.persist.load`)."""
        from forecasting import persist

        return persist.load(path)

    def __repr__(self) -> str:
        return f"SoilMoistureForecaster({self.version!r})"


def _fit_one(x: np.ndarray, y: np.ndarray, q: float, h: int, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        loss="quantile",
        quantile=q,
        monotonic_cst=_monotonic(h),
        random_state=seed,
        **_HYPERPARAMETERS["median" if q == 0.5 else "interval"],
    )
    return model.fit(x, y)


def _conformal_correction(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """CQR correction Q: the ceil((n + 1) coverage)-th smallest max(lo - y, y - hi)."""
    scores = np.sort(np.maximum(lo - y, y - hi))
    k = min(int(np.ceil((len(scores) + 1) * coverage)), len(scores)) - 1
    return float(scores[max(k, 0)])


def _stack(data: list[SeasonData]) -> tuple[pd.DataFrame, np.ndarray]:
    return pd.concat([d.x for d in data], ignore_index=True), np.concatenate([d.y for d in data])


def train(
    seasons: int = 30,
    seed: int = 1,
    origin_step_h: int = 6,
    calibration_fraction: float = 0.25,
    error: OutlookError | None = None,
) -> SoilMoistureForecaster:
    """Train a forecaster on `seasons` simulated seasons (the module notes; the seasons:
    `forecasting.seasons`).

    seasons: number of simulated seasons (at least 4; 30 take about 15 s on an idle 2-core
      machine, 20-25 s while other jobs share it);
    seed: seeds the season draw, the simulations, the outlooks and the trees;
    origin_step_h: hours between training origins; calibration_fraction: share of seasons
    (the latest planted) held out of fitting to calibrate the intervals.
    """
    import sklearn
    from threadpoolctl import threadpool_limits

    from forecasting.persist import digest  # persist imports this module: import it here

    if seasons < 4:
        raise ValueError(f"need at least 4 seasons, got {seasons}")
    error = error or OutlookError()
    started = time.perf_counter()
    specs = sorted(seasons_for(seasons, seed, TRAIN_YEARS, branch=0), key=lambda s: s.planted)
    n_cal = max(1, round(seasons * calibration_fraction))
    data = [season_data(s, origin_step_h, error) for s in specs]
    fit, cal = data[:-n_cal], data[-n_cal:]
    x_fit, y_fit = _stack(fit)
    x_cal, y_cal = _stack(cal)
    simulated_s = time.perf_counter() - started

    models: dict[int, dict[float, Any]] = {}
    corrections: dict[int, float] = {}
    n_samples: dict[str, int] = {}
    validation: dict[str, dict[str, float]] = {}
    xf, xc = x_fit.to_numpy(float), x_cal.to_numpy(float)
    empty = [name for name, seen in zip(x_fit.columns, np.isfinite(xf).any(axis=0)) if not seen]
    if empty:  # scikit-learn's binning fails on a feature with no value at all
        raise ValueError(
            f"feature(s) {', '.join(empty)} have no value in the {len(fit)} fitting seasons: "
            "train on more seasons"
        )
    for j, h in enumerate(HORIZONS_H):
        ok = np.isfinite(y_fit[:, j]) & np.isfinite(xf[:, 0])
        # one OpenMP thread: on a shared 2-core machine more threads oversubscribe and stall
        with threadpool_limits(1, user_api="openmp"):
            models[h] = {q: _fit_one(xf[ok], y_fit[ok, j], q, h, seed) for q in QUANTILES}
        okc = np.isfinite(y_cal[:, j]) & np.isfinite(xc[:, 0])
        lo, mid, hi = (models[h][q].predict(xc[okc]) for q in QUANTILES)
        lo, hi = np.minimum(lo, mid), np.maximum(hi, mid)
        corrections[h] = _conformal_correction(lo, hi, y_cal[okc, j], NOMINAL_COVERAGE)
        n_samples[f"{h}h"] = int(ok.sum())
        validation[f"{h}h"] = {
            "mae_model": round(float(np.mean(np.abs(mid - y_cal[okc, j]))), 4),
            "mae_persistence": round(float(np.mean(np.abs(y_cal[okc, j]))), 4),
            "n": int(okc.sum()),
        }
    metadata: dict[str, Any] = {
        "family": FAMILY,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "seed": seed,
        "seasons": seasons,
        "origin_step_h": origin_step_h,
        "train_years": list(TRAIN_YEARS),
        "season_list": [dataclasses.asdict(s) for s in specs],
        "calibration_seasons": n_cal,
        "horizons_h": list(HORIZONS_H),
        "quantiles": list(QUANTILES),
        "features": list(FEATURES),
        "hyperparameters": _HYPERPARAMETERS,
        "outlook_error": dataclasses.asdict(error),
        "n_samples": n_samples,
        "conformal_correction_pct": {f"{h}h": round(q, 4) for h, q in corrections.items()},
        "validation": validation,
        "train_seconds": round(time.perf_counter() - started, 1),
        "simulate_seconds": round(simulated_s, 1),
    }
    metadata["version"] = f"{FAMILY}-{digest(metadata)}"
    return SoilMoistureForecaster(models, corrections, metadata)
