"""`ruong demo`'s past: plantings and two weeks of simulated readings, so the forecasts have
something to work on the moment the demo starts.

The live nodes (real firmware on MicroPython) only report from now on, and the irrigation
advice, the ET0 and the pest rules need days of readings. For each demo field this module
picks a crop that is in season today in Ninh Bình (from the crops' usual planting month),
plants it, and writes `HISTORY_DAYS` days of readings before now (a paddy: its whole season
so far, for the season report's water regime).

One truth per field: the past is simulated by the same `firmware/sim_field.py` `Field` the
live node's host HAL reads (loaded on CPython), with the field's real crop (its FAO-56 Kc
curve and root depth) and soil (field capacity and wilting point), from the planting day on.
Rice is a paddy (a water level under AWD), any other crop an upland root zone (a depletion,
no water level). The points are what the node would have reported, tagged like its readings;
the field's water state at the end is handed to the live node (`SeededHistory.sims`, which
`ruong.sim.start_node` takes as `sim`), so its first reading goes on from the last one here.
A later demo run finds the planting, leaves the history alone and re-simulates the state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from backend.firmware_src import import_firmware
from backend.registry import NodeInfo, Registry
from backend.store import Point, Store
from forecasting.crops import Crop, load_crops
from forecasting.soils import Soil, load_soils
from forecasting.varieties import load_varieties
from forecasting.water_balance import Field as BalanceField
from forecasting.water_balance import depletion_fraction
from ruong.forecast_job import planting_of

HISTORY_DAYS = 14
DEMO_SOIL = "silty_clay_loam"  # the Delta's alluvium (FAO-56 Table 19, forecasting/data)
DEMO_AREA_M2 = 1500.0  # a typical Red River Delta plot (a few sào of 360 m2)
# Delta rice varieties go from transplanting to harvest in about 100-120 days (crops.csv:
# spring rice harvested ~June, summer rice ~October); FAO-56 Table 11's rows run to 150
# days, which would have the demo show a rice field in November.
DELTA_RICE_DAYS = 110
# a Delta day's reference ET0 (mm/day) for the simulated farmer's p: about 2.5 in winter, 4
# in summer (FAO-56 ET0 of the generated Ninh Bình weather, forecasting/weather.py)
TYPICAL_ET0_MM = 3.0
AWAY_DAYS = 8  # the first demo field's farmer stopped watering this long ago (days)
MAX_STEP_S = 900  # the history's sampling step at most (site s): a node's normal interval
# The node's rain gauge: the firmware's default rain_mm_per_tip (firmware/config.py), the
# BOM's tipping bucket (0.011 in); the live node's HAL tips its simulated field by it too.
RAIN_MM_PER_TIP = 0.2794
# What a node reports of its field (health quantities aside); a paddy adds water_level.
QUANTITIES = ("soil_vwc", "soil_temp", "air_temp", "air_rh", "air_pressure", "rain", "leaf_wet")


@dataclass(frozen=True)
class SeededHistory:
    """What `seed_history` did. lines: one console line per field planted; sims: field ->
    the `sim` of its live node (`ruong.sim.start_node(..., sim=...)`), with the water state
    at the end of the simulated past; seeds: field -> the simulation seed the node must run
    with (start_node's `seed`), the one the past was simulated with."""

    lines: list[str]
    sims: dict[str, dict[str, Any]]
    seeds: dict[str, int]

    def __iter__(self) -> Iterator[str]:
        """The console lines, as seed_history returned them before it returned the sims."""
        return iter(self.lines)


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


def field_sim(
    crop: Crop, soil: Soil, planted: dt.date, tz: dt.tzinfo, auto_farmer: bool = True
) -> dict[str, Any]:
    """The `sim` of a field (firmware/sim_field.py `Field`) growing `crop` on `soil` since
    `planted` (local day `tz`), without a state: rice a paddy, other crops upland.

    kc: the FAO-56 Kc curve (eq. 66, Fig. 25) through the stage ends, as forecasting.crops
    `kc_curve` draws it; zr_m: the root depth the water balance uses
    (`forecasting.water_balance.Field.root_depth`); theta_fc, theta_wp in % (Table 19).
    """
    e1, e2, e3, e4 = crop.stage_ends
    kc = [[e1, crop.kc_ini], [e2, crop.kc_mid], [e3, crop.kc_mid], [e4, crop.kc_end]]
    sim: dict[str, Any] = {
        "kind": "paddy" if crop.key.startswith("rice") else "upland",
        "planted_s": int(pd.Timestamp(planted).tz_localize(tz).timestamp()),
        "kc": kc,
        "auto_farmer": auto_farmer,
        "tip_mm": RAIN_MM_PER_TIP,
    }
    if sim["kind"] == "upland":
        zr = BalanceField(crop=crop, soil=soil, planting_date=planted).root_depth(np.array([1]))
        sim.update(
            theta_fc=round(100.0 * soil.theta_fc, 2),
            theta_wp=round(100.0 * soil.theta_wp, 2),
            zr_m=float(zr[0]),
            # FAO-56 Table 22 footnote, as the irrigation advice adjusts it (water_balance
            # depletion_fraction): for the crop's mid-season ETc at a typical ET0
            p=round(float(np.asarray(depletion_fraction(crop.p, crop.kc_mid * TYPICAL_ET0_MM))), 3),
        )
    return sim


def _sim_field() -> ModuleType:
    return import_firmware("sim_field")


def start_field(name: str, seed: int, sim: dict[str, Any]) -> Any:
    """The field at its planting day's start: a paddy flooded to the re-flood level, an
    upland root zone at field capacity (watered at sowing)."""
    reflood_m = import_firmware("sim_water").REFLOOD_M  # +5 cm, IRRI safe AWD
    water = {"level_m": reflood_m} if sim["kind"] == "paddy" else {"dr_mm": 0.0}
    return _sim_field().Field(name, seed, dict(sim, state={"t_s": sim["planted_s"], **water}))


def simulate(
    info: NodeInfo,
    seed: int,
    sim: dict[str, Any],
    end_s: int,
    step_s: int,
    write: bool,
    away_s: float = 0.0,
) -> tuple[list[Point], dict[str, Any]]:
    """Run `info`'s field from its planting day to before `end_s` (Unix s); return the
    readings of the last `HISTORY_DAYS` days (a paddy: since planting) every `step_s` (when
    `write`) and the `sim`
    with the state after the last of them. away_s: the simulated farmer stopped watering
    that long before `end_s` (s)."""
    field = start_field(info.field, seed, sim)
    left_s = int(end_s - away_s) if away_s > 0 else None
    if left_s is not None and left_s <= end_s - HISTORY_DAYS * 86400 and sim["kind"] != "paddy":
        field.advance(left_s)
        field.auto = False  # waters by the book until he left
    # a paddy's whole season so far: its water regime is the season report's (issue 17)
    window_s = end_s - sim["planted_s"] if sim["kind"] == "paddy" else HISTORY_DAYS * 86400
    first_s = max(sim["planted_s"] + step_s, end_s - window_s)
    times = range(-(-first_s // step_s) * step_s, end_s, step_s)  # on the step's multiples
    if not times:  # planted within the last step: no past to report
        return [], dict(sim, state=field.state())
    field.advance(times[0] - step_s)
    field.bucket_mm = 0.0  # the gauge is emptied when the node is installed
    tags = {"farm": info.farm, "field": info.field, "node": info.node}
    names = (*QUANTITIES, "water_level") if sim["kind"] == "paddy" else QUANTITIES
    points = []
    if write:
        for t_s in times:
            if left_s is not None and t_s >= left_s and field.auto:
                field.advance(left_s)
                field.auto = False  # waters by the book until he left
            values = field.sample(t_s)
            points.append(Point("readings", tags, {q: float(values[q]) for q in names}, t_s * 1000))
    else:
        if left_s is not None and field.auto and left_s > times[0]:
            field.advance(left_s)
            field.auto = False
        field.advance(times[-1])
        field.bucket_mm = 0.0
    return points, dict(sim, state=field.state())


def seed_history(
    registry: Registry,
    store: Store,
    nodes: Sequence[NodeInfo],
    now: pd.Timestamp,
    step_s: float = MAX_STEP_S,
    auto_farmer: bool = True,
) -> SeededHistory:
    """Plant the demo fields that have no planting yet and write their history; give every
    field the `sim` its live node starts from.

    nodes[i] is simulated with seed i + 1, as ruong/demo.py starts its nodes (`seeds`).
    now: tz-aware, the site's time; step_s: the nodes' interval in site seconds (the history
    samples every min(step_s, 15 min)); auto_farmer: whether the live nodes' simulated farmer
    waters by the book (the past one always did). Each field's crop is the one the forecasts
    use (`ruong.forecast_job.planting_of`: a rice variety's season included).
    """
    tz = now.tzinfo
    if tz is None:
        raise ValueError("now must be tz-aware (the site's time zone)")
    end_s = int(now.timestamp())
    step = max(1, min(int(step_s), MAX_STEP_S))
    planted_fields = {p.field for p in registry.plantings(nodes[0].farm)} if nodes else set()
    todo = [n for n in nodes if n.field not in planted_fields]
    for info, (field, crop, planted) in zip(
        todo, demo_plantings([n.field for n in todo], now.date()), strict=True
    ):
        registry.plant(info.farm, field, crop.key, planted, DEMO_SOIL, DEMO_AREA_M2)
    plantings = {p.field: p for p in registry.plantings(nodes[0].farm)} if nodes else {}
    crops, soils, varieties = load_crops(), load_soils(), load_varieties()
    result = SeededHistory([], {}, {})
    for i, info in enumerate(nodes):
        planting = planting_of(plantings[info.field], crops, soils, varieties)
        sim = field_sim(planting.crop, planting.soil, planting.planted, tz)
        new = info in todo
        # the first field's farmer has been away: it is drying out when the demo starts, so a
        # new user sees its advice change (irrigate, or re-flood a paddy) within minutes
        away = AWAY_DAYS * 86400.0 if i == 0 else 0.0
        points, sim = simulate(info, i + 1, sim, end_s, step, write=new, away_s=away)
        if new:
            store.write(points)
            result.lines.append(
                f"field {info.field}: {planting.crop.name_vi} / {planting.crop.name_en}, "
                f"planted {planting.planted}, {len(points)} readings of simulated history "
                f"({sim['kind']})"
            )
        sim["auto_farmer"] = auto_farmer
        result.sims[info.field] = sim
        result.seeds[info.field] = i + 1
    return result
