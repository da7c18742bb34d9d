"""Forecast benchmark: the morning forecast of many fields on this machine.

    .venv/bin/python -m bench.forecast [--fields 1000] [--jobs 2] [--model-dir DIR]

Builds `--fields` fields (maize, tomato, cabbage and spring rice in turn, on the Delta's soils)
with simulated 15-minute readings (forecasting.weather: 20 weather realisations shared among
the fields, each field with its own soil-moisture and water-level series), then times
`forecasting.field_forecast.forecast_many` (ET0, water balance, AWD, pest rules, and the
soil-moisture model on every upland field in one batch) from the same inputs:
- (a) baseline: one process;
- (b) `--jobs` processes (joblib) for the per-field work;
and prints fields/s, the ratio (b)/(a), and where the time of (a) goes (per-stage timings on a
sample). The target of the forecasting issue: 1,000 fields in under a minute on 2 cores.
Reading the readings from InfluxDB is not included (`ruong forecast run` does it, one query
per field). Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import weather
from forecasting.advice import irrigation_advice, pest_advice
from forecasting.crops import load_crops
from forecasting.field_forecast import forecast_many, model_inputs, prepare
from forecasting.field_readings import Planting, Site
from forecasting.soils import load_soils

NOW = pd.Timestamp("2026-04-10 06:00", tz=weather.TIME_ZONE)
CROPS = ("maize", "tomato", "cabbage", "rice_spring")
SOILS = ("silty_clay_loam", "silt_loam", "clay", "sandy_loam")
REALISATIONS = 20
HISTORY_DAYS = 45  # long enough for rice's degree-days since transplanting


def build_fields(n: int, seed: int = 7) -> list[tuple[Planting, pd.DataFrame]]:
    """`n` fields with 15-min readings over the `HISTORY_DAYS` days before NOW."""
    crops, soils = load_crops(), load_soils()
    rng = np.random.default_rng(seed)
    start = (NOW - pd.Timedelta(days=HISTORY_DAYS)).date()
    bases = []
    for k in range(REALISATIONS):
        days = weather.generate_daily(start, HISTORY_DAYS + 1, seed=seed + k)
        frame = weather.sensor_series(days, freq="15min", seed=seed + k)
        bases.append(frame[frame.index <= NOW])
    fields = []
    for i in range(n):
        crop = crops[CROPS[i % len(CROPS)]]
        soil = soils[SOILS[(i // len(CROPS)) % len(SOILS)]]
        planted = NOW.date() - dt.timedelta(days=int(rng.integers(20, 40)))
        readings = bases[i % REALISATIONS].copy()
        steps = len(readings)
        if crop.key.startswith("rice"):
            # a falling perched water table, re-flooded when it reaches -15 cm
            level = 0.05 - np.cumsum(np.full(steps, 0.0012)) % 0.2
            readings["water_level"] = level + rng.normal(0, 0.003, steps)
        else:
            drift = np.cumsum(rng.normal(-0.002, 0.02, steps))
            theta = soil.theta_fc * 100 - 3 + drift
            readings["soil_vwc"] = np.clip(theta, soil.theta_wp * 100, soil.theta_fc * 100 + 5)
        fields.append((Planting(f"f{i:04d}", crop, soil, planted, 1000.0), readings))
    return fields


def stage_times(fields: list[tuple[Planting, pd.DataFrame]], site: Site, model) -> dict:
    """Mean seconds per field of each stage, on a sample of the fields."""
    from forecasting.features import features

    sample = fields[: min(len(fields), 40)]
    totals = {
        "prepare (ET0 + balance/AWD + pests)": 0.0,
        "  of which pest rules": 0.0,
        "  of which irrigation": 0.0,
        "features": 0.0,
    }
    rows = []
    for planting, readings in sample:
        t0 = time.perf_counter()
        prepared = prepare(planting, readings, site, NOW)
        t1 = time.perf_counter()
        totals["prepare (ET0 + balance/AWD + pests)"] += t1 - t0
        if planting.is_rice:
            pest_advice(prepared)
            totals["  of which pest rules"] += time.perf_counter() - t1
        else:
            irrigation_advice(prepared)
            totals["  of which irrigation"] += time.perf_counter() - t1
        t2 = time.perf_counter()
        inputs = model_inputs(prepared)
        if inputs is not None:
            rows.append(features(*inputs, planting.water_balance_field(), NOW))
        totals["features"] += time.perf_counter() - t2
    out = {k: v / len(sample) for k, v in totals.items()}
    if rows:
        batch = pd.concat(rows * (1000 // len(rows) + 1), ignore_index=True).iloc[:1000]
        t0 = time.perf_counter()
        model.predict(batch)
        out["model.predict, 1,000 rows (s per batch)"] = time.perf_counter() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--model-dir", help="saved soil-moisture models (default: train one)")
    args = parser.parse_args()

    from ruong.forecast_job import load_model

    site = Site(weather.LATITUDE, weather.LONGITUDE, weather.ELEVATION, weather.TIME_ZONE)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(Path(args.model_dir or tmp))  # as `ruong forecast run` does
    print(f"model {model.version} ready in {time.perf_counter() - t0:.1f} s (not counted)")
    t0 = time.perf_counter()
    fields = build_fields(args.fields)
    rows = sum(len(r) for _, r in fields)
    print(
        f"{args.fields} fields, {rows:,} readings rows built in "
        f"{time.perf_counter() - t0:.1f} s (not counted)"
    )

    runs = {}
    for jobs in (1, args.jobs):
        t0 = time.perf_counter()
        out = forecast_many(fields, site, NOW, model, n_jobs=jobs)
        runs[jobs] = time.perf_counter() - t0
        errors = [o for o in out if isinstance(o, str)]
        advice = sum(len(o) for o in out if not isinstance(o, str))
        print(
            f"{'(a) 1 process ' if jobs == 1 else f'(b) {jobs} processes'}: "
            f"{runs[jobs]:6.1f} s  {args.fields / runs[jobs]:7.1f} fields/s  "
            f"{advice} advice rows, {len(errors)} fields failed"
        )
    print(f"ratio (b)/(a) speed: {runs[1] / runs[args.jobs]:.2f}x")
    target = "met" if min(runs.values()) < 60 else "NOT met"
    print(
        f"target 1,000 fields < 60 s: {target} (best {min(runs.values()) * 1000 / args.fields:.1f}"
        " s per 1,000 fields)"
    )
    print("per field, serial (mean of a sample):")
    for name, seconds in stage_times(fields, site, model).items():
        print(f"  {name:<42} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
