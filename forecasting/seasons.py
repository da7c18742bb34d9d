"""Simulated seasons: the training and test data of the soil-moisture forecaster.

Place in the data path: `forecasting.model.train` and `forecasting.backtest.backtest` draw
season descriptions with :func:`seasons_for`, and :func:`season_data` simulates each one
(`forecasting.soil_sim`), makes its weather outlooks (`forecasting.outlook`) and cuts it into
feature rows (`forecasting.features`) and targets, one per origin. `ruong forecast run`
forecasts from real readings and needs this only when it has no model yet to load.

Training data
-------------
Simulated seasons (`forecasting.soil_sim`): maize, cabbage and tomato on the five soils of
`forecasting/data/soils.csv`, planted in their usual month (vụ đông) or in spring (Feb-Apr),
in calendar years 2001-2020 (:data:`TRAIN_YEARS`), each with its own weather, farmer and probe
seed. Origins every `origin_step_h` hours from the second day of the season to 4 days before
its end.

Held-out data
-------------
The backtest's seasons are drawn the same way from another branch of numpy's SeedSequence
(branch 1; training uses branch 0, and the backtest checks the seeds are disjoint) in later
calendar years (2031-2040, :data:`TEST_YEARS`) than any training season. The backtest
scores every origin twice, with the farmer's irrigation records given to the features
(`SeasonData.x_records`) and without them (`SeasonData.x_no_records`, NaN), so the two
scores differ only by the records; training uses `SeasonData.x`, with the records of the
half of the seasons that log them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from forecasting.crops import get_crop, load_crops
from forecasting.features import (
    FEATURES,
    HORIZONS_H,
    OUTLOOK_H,
    PAST_H,
    VWC_WINDOW_H,
    feature_core,
)
from forecasting.outlook import OutlookError, outlook
from forecasting.soil_sim import simulate
from forecasting.soils import load_soils
from forecasting.water_balance import Field

UPLAND_CROPS: tuple[str, ...] = ("maize", "cabbage", "tomato")
TRAIN_YEARS = (2001, 2020)
TEST_YEARS = (2031, 2040)


@dataclass(frozen=True)
class Season:
    """One simulated season: crop and soil keys, planting date, simulation seed, and whether
    the field logs its irrigation (else the irrigation feature is NaN)."""

    crop: str
    soil: str
    planted: dt.date
    seed: int
    irrigation_logged: bool

    def field(self) -> Field:
        crop = get_crop(self.crop)
        soil = load_soils()[self.soil]
        return Field(crop=crop, soil=soil, planting_date=self.planted)


def seasons_for(n: int, seed: int, years: tuple[int, int], branch: int) -> list[Season]:
    """`n` season descriptions drawn with `seed` on SeedSequence branch `branch` (training 0,
    backtest 1): crops cycle through :data:`UPLAND_CROPS`, soils through the soils file, each
    planted in a random year of `years` in its usual month or in spring (Feb-Apr)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(branch,)))
    crops = load_crops()
    soils = sorted(load_soils())
    out = []
    for i in range(n):
        crop = crops[UPLAND_CROPS[i % len(UPLAND_CROPS)]]
        soil = soils[(i // len(UPLAND_CROPS) + i) % len(soils)]
        month = crop.plant_month if rng.random() < 0.5 else int(rng.integers(2, 5))
        year = int(rng.integers(years[0], years[1] + 1))
        day = int(rng.integers(1, 29))
        out.append(
            Season(
                crop=crop.key,
                soil=soil,
                planted=dt.date(year, month, day),
                seed=int(rng.integers(0, 2**31 - 1)),
                irrigation_logged=bool(rng.random() < 0.5),
            )
        )
    return out


@dataclass
class SeasonData:
    """One simulated season cut at its origins (see :func:`season_data`).

    x is the feature rows as the season logs its irrigation (`Season.irrigation_logged`:
    training); x_records and x_no_records are the same rows with the farmer's irrigation
    records given to every season or to none (the backtest scores both on the same origins).
    """

    season: Season
    field: Field
    sim: pd.DataFrame  # `forecasting.soil_sim.simulate`'s hourly frame
    origins: np.ndarray  # row numbers
    x: pd.DataFrame  # one feature row per origin
    y: np.ndarray  # (n, len(HORIZONS_H)) reading(t0 + h) - vwc_last (%)
    rain_f: np.ndarray  # (n, OUTLOOK_H) the outlook's hourly rain (mm)
    et0_f: np.ndarray  # (n, OUTLOOK_H) the outlook's hourly ET0 (mm)
    x_records: pd.DataFrame  # x with the irrigation records given
    x_no_records: pd.DataFrame  # x with irrigation unknown (NaN)
    irrigation_past: np.ndarray  # (n, PAST_H) irrigation applied in each hour before (mm)

    def irrigation_since_reading(self) -> np.ndarray:
        """Irrigation (mm) applied from the last reading up to each origin, as the records
        say: what a reading older than its origin has not seen yet (0 when the reading is
        the origin's own; NaN without a reading in the 24 h before)."""
        age = self.x["vwc_age_h"].to_numpy(float)
        since = np.where(np.isfinite(age), PAST_H - np.nan_to_num(age), PAST_H).astype(int)
        hours = np.arange(PAST_H)[None, :]
        applied = np.where(hours >= since[:, None], self.irrigation_past, 0.0).sum(axis=1)
        return np.where(np.isfinite(age), applied, np.nan)


def _windows(values: np.ndarray, before: int, origins: np.ndarray, width: int) -> np.ndarray:
    """values[o - before : o - before + width] for each origin o, NaN before the series."""
    padded = np.concatenate([np.full(before, np.nan), values, np.full(width, np.nan)])
    return padded[origins[:, None] + np.arange(width)[None, :]]


def season_data(season: Season, origin_step_h: int, error: OutlookError) -> SeasonData:
    """Simulate `season` and build its feature rows and targets at origins every
    `origin_step_h` hours, with outlooks of `error` (outlook seed: branch 7 of the season's):
    the rows as the season logs its irrigation, and with the records given and not given."""
    field_ = season.field()
    sim = simulate(field_, seed=season.seed)
    n = len(sim)
    origins = np.arange(24, n - OUTLOOK_H - 24, origin_step_h)
    vwc = sim["soil_vwc"].to_numpy(float)
    rain = sim["rain"].to_numpy(float)
    et0 = sim["et0"].to_numpy(float)
    irrigation = sim["irrigation"].to_numpy(float)
    rng = np.random.default_rng(np.random.SeedSequence(season.seed, spawn_key=(7,)))
    rain_f, et0_f = outlook(rain, et0, origins, rng, error)
    irrigation_past = _windows(irrigation, PAST_H, origins, PAST_H)
    local = cast(pd.DatetimeIndex, sim.index).tz_localize(None)  # simulate's: tz-aware, hourly
    vwc_window = _windows(vwc, VWC_WINDOW_H, origins, VWC_WINDOW_H + 1)
    rain_past = _windows(rain, PAST_H, origins, PAST_H)
    et0_past = _windows(et0, PAST_H, origins, PAST_H)

    def rows(irrigation_known: np.ndarray) -> pd.DataFrame:
        core = feature_core(
            vwc_window,
            rain_past,
            et0_past,
            irrigation_known,
            et0_f,
            rain_f,
            field_,
            sim["day"].to_numpy()[origins],
            np.asarray(local.hour)[origins],
        )
        return pd.DataFrame(core, columns=list(FEATURES))

    x_records = rows(irrigation_past)
    x_no_records = rows(np.full_like(irrigation_past, np.nan))
    x = x_records if season.irrigation_logged else x_no_records
    future = np.stack([vwc[origins + h] for h in HORIZONS_H], axis=1)
    y = future - x["vwc_last"].to_numpy()[:, None]
    return SeasonData(
        season, field_, sim, origins, x, y, rain_f, et0_f, x_records, x_no_records, irrigation_past
    )
