"""The soil-moisture model: one batch in input order, intervals around the forecast, rain in
the outlook cannot lower it, and 1,000 fields take well under a second."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from forecasting.et0 import InputError
from forecasting.features import HORIZONS_H


def test_predict_is_batched_ordered_and_interval_contains_the_forecast(model, season) -> None:
    rows = season.x.iloc[:50].copy()
    rows.index = np.arange(1000, 1050)
    rows.iloc[7, rows.columns.get_loc("vwc_last")] = np.nan
    out = model.predict(rows)
    assert list(out.index) == list(rows.index)
    assert list(out.columns) == [f"{p}_{h}h" for h in HORIZONS_H for p in ("vwc", "lo", "hi")]
    assert out.iloc[7].isna().all()
    ok = out.drop(index=1007)
    for h in HORIZONS_H:
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
    for h in HORIZONS_H:
        row[f"rain_next_{h}h"] += 40.0
        row[f"rain_next_{h}h_pct"] += 40.0 / (10 * row["zr"].iloc[0])
    wet = model.predict(row)
    for h in HORIZONS_H:
        assert wet[f"vwc_{h}h"].iloc[0] >= dry[f"vwc_{h}h"].iloc[0]


def test_predicting_1000_rows_takes_well_under_a_second(model, season) -> None:
    rows = pd.concat([season.x] * (1000 // len(season.x) + 1), ignore_index=True).iloc[:1000]
    best = min(_timed(model.predict, rows) for _ in range(3))
    assert best < 1.0, best


def _timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started
