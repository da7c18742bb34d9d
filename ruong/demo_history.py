"""`ruong demo`'s past: plantings and two weeks of simulated readings, so the forecasts have
something to work on the moment the demo starts.

The live nodes (real firmware on MicroPython) only report from now on, and the irrigation
advice, the ET0 and the pest rules need days of readings. For each demo field this module
picks a crop that is in season today in Ninh Bình (from the crops' usual planting month),
plants it, and writes `HISTORY_DAYS` days of hourly readings before now: upland fields from
`forecasting.soil_sim` (weather, soil water, the probe) and rice fields from
`forecasting.weather` plus a paddy water level that dries down and is re-flooded as under
safe AWD. Every point carries the field's node tag, like real readings, and is written once
(a later demo run finds the planting and leaves the history alone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from backend.registry import NodeInfo, Registry
from backend.store import Point, Store
from forecasting import soil_sim, weather
from forecasting.crops import Crop, load_crops
from forecasting.soils import load_soils
from forecasting.water_balance import Field

HISTORY_DAYS = 14
DEMO_SOIL = "silty_clay_loam"  # the Delta's alluvium (FAO-56 Table 19, forecasting/data)
DEMO_AREA_M2 = 1500.0  # a typical Red River Delta plot (a few sào of 360 m2)
# Delta rice varieties go from transplanting to harvest in about 100-120 days (crops.csv:
# spring rice harvested ~June, summer rice ~October); FAO-56 Table 11's rows run to 150
# days, which would have the demo show a rice field in November.
DELTA_RICE_DAYS = 110
QUANTITIES = ("soil_vwc", "air_temp", "air_rh", "leaf_wet", "rain", "water_level")


def in_season(crop: Crop, today: dt.date) -> dt.date | None:
    """The 15th of the crop's usual planting month that puts `today` inside its season,
    at least three weeks in and ten days before harvest; None when it is out of season."""
    season = crop.season_days
    if crop.key.startswith("rice"):
        season = min(season, DELTA_RICE_DAYS)
    for year in (today.year, today.year - 1):
        planted = dt.date(year, crop.plant_month, 15)
        day = (today - planted).days + 1
        if 21 <= day <= season - 10:
            return planted
    return None


def demo_plantings(fields: Sequence[str], today: dt.date) -> list[tuple[str, Crop, dt.date]]:
    """A crop in season for each field, rice first when it is rice season (the first field
    is the paddy), then the upland crops in turn."""
    crops = load_crops()
    ready = [(c, p) for c in crops.values() if (p := in_season(c, today)) is not None]
    ready.sort(key=lambda cp: (not cp[0].key.startswith("rice"), cp[0].key))
    if not ready:
        raise ValueError(f"no crop of forecasting/data/crops.csv is in season on {today}")
    return [(f, *ready[i % len(ready)]) for i, f in enumerate(fields)]


def _paddy(planted: dt.date, end: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Hourly weather and a safe-AWD water level (m) for a rice field up to `end`."""
    days = (end.date() - planted).days + 1
    daily = weather.generate_daily(planted, days, seed=seed)
    frame = weather.sensor_series(daily, freq="1h", seed=seed)
    # ponded at +5 cm, drying 1.5 cm a day to -15 cm, then re-flooded: IRRI safe AWD
    hours = np.arange(len(frame))
    frame["water_level"] = 0.05 - (hours * 0.015 / 24.0) % 0.20
    return frame


def _upland(crop: Crop, planted: dt.date, end: pd.Timestamp, seed: int) -> pd.DataFrame:
    field = Field(crop=crop, soil=load_soils()[DEMO_SOIL], planting_date=planted)
    return soil_sim.simulate(field, seed=seed, days=(end.date() - planted).days + 1)


def history_points(
    info: NodeInfo, crop: Crop, planted: dt.date, end: pd.Timestamp, seed: int
) -> list[Point]:
    """`HISTORY_DAYS` days of hourly readings of `info`'s field before `end` (tz-aware)."""
    if crop.key.startswith("rice"):
        frame = _paddy(planted, end, seed)
    else:
        frame = _upland(crop, planted, end, seed)
    start = end - pd.Timedelta(days=HISTORY_DAYS)
    frame = frame.loc[(frame.index >= start) & (frame.index < end)]
    tags = {"farm": info.farm, "field": info.field, "node": info.node}
    points = []
    for time, row in frame[[q for q in QUANTITIES if q in frame.columns]].iterrows():
        # labels typed Hashable by pandas-stubs: the columns are quantity names, the index times
        values = {cast(str, k): round(float(v), 4) for k, v in row.items() if np.isfinite(v)}
        if values:
            ms = int(cast(pd.Timestamp, time).value // 1_000_000)
            points.append(Point("readings", tags, values, ms))
    return points


def seed_history(
    registry: Registry, store: Store, nodes: Sequence[NodeInfo], now: pd.Timestamp
) -> list[str]:
    """Plant the demo fields that have no planting yet and write their history.

    Returns one line per field planted, for the demo's console.
    """
    planted_fields = {p.field for p in registry.plantings(nodes[0].farm)} if nodes else set()
    todo = [n for n in nodes if n.field not in planted_fields]
    lines = []
    for i, (info, (field, crop, planted)) in enumerate(
        zip(todo, demo_plantings([n.field for n in todo], now.date()), strict=True)
    ):
        registry.plant(info.farm, field, crop.key, planted, DEMO_SOIL, DEMO_AREA_M2)
        points = history_points(info, crop, planted, now, seed=100 + i)
        store.write(points)
        lines.append(
            f"field {field}: {crop.name_vi} / {crop.name_en}, planted {planted}, "
            f"{len(points)} hours of simulated history"
        )
    return lines
