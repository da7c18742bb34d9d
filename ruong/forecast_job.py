"""`ruong forecast run`: read each planted field's readings, forecast, write `forecasts`.

I/O at the edges of `forecasting.field_forecast` (pure): the registry gives the plantings,
the store gives the last `HISTORY_DAYS` days of `readings`, and every Advice becomes one point
of the `forecasts` measurement (tags farm, field, kind, model; time = when the forecast was
made) with its level, its words (a message of the catalogue, rendered when read) and its
numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from backend.config import Settings
from backend.registry import PlantingInfo, Registry, RegistryError
from backend.store import Store
from backend.store.base import FieldValue, Point, Row
from forecasting.advice import HISTORY_DAYS, Advice
from forecasting.crops import Crop, load_crops
from forecasting.field_forecast import SoilMoistureModel, forecast_many
from forecasting.field_readings import Planting, Site
from forecasting.soils import Soil, load_soils

log = logging.getLogger("ruong.forecast")


@dataclass(frozen=True)
class FieldResult:
    """One field's outcome: its advice, or the error that stopped its forecast."""

    planting: PlantingInfo
    advice: list[Advice]
    error: str | None = None


def site_of(settings: Settings) -> Site:
    return Site(settings.latitude, settings.longitude, settings.elevation, settings.timezone)


def planting_of(
    info: PlantingInfo, crops: dict[str, Crop] | None = None, soils: dict[str, Soil] | None = None
) -> Planting:
    """The registry's planting with its crop and soil looked up; RegistryError if unknown.

    crops, soils: the libraries (default: read from forecasting/data); pass them when
    looking up many plantings, so the files are read once.
    """
    crops = load_crops() if crops is None else crops
    soils = load_soils() if soils is None else soils
    if info.crop not in crops:
        raise RegistryError(
            f"field {info.field}: unknown crop {info.crop!r} (known: {', '.join(sorted(crops))})"
        )
    if info.soil not in soils:
        raise RegistryError(
            f"field {info.field}: unknown soil {info.soil!r} (known: {', '.join(sorted(soils))})"
        )
    return Planting(info.field, crops[info.crop], soils[info.soil], info.planted, info.area_m2)


def readings_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """Store rows as a frame: UTC index of sample times, one numeric column per quantity.

    Several nodes on one field reporting at the same instant are averaged.
    """
    if not rows:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
    frame = pd.DataFrame(
        [{k: v for k, v in r.fields.items() if isinstance(v, int | float)} for r in rows],
        index=pd.to_datetime([r.time_ms for r in rows], unit="ms", utc=True),
    )
    return frame.astype(float).groupby(level=0).mean()


def advice_point(farm: str, field: str, advice: Advice, time_ms: int) -> Point:
    """The `forecasts` point of one piece of advice: its words as the message id and
    parameters (`msg`, JSON; rendered in the reader's language when shown), its level, its
    numbers."""
    fields: dict[str, FieldValue] = {
        "msg": json.dumps(advice.text.as_json(), ensure_ascii=False, separators=(",", ":")),
        **advice.fields,
    }
    if advice.level is not None:
        fields["level"] = advice.level
    tags = {"farm": farm, "field": field, "kind": advice.kind, "model": advice.model}
    return Point("forecasts", tags, fields, time_ms)


def load_model(model_dir: str | Path) -> SoilMoistureModel:
    """The newest saved soil-moisture model for the outlook `run` gives (no rain, recent ET0),
    trained (and saved) first if there is none."""
    from forecasting.outlook import NO_RAIN_OUTLOOK
    from forecasting.persist import load_or_train

    return load_or_train(Path(model_dir), NO_RAIN_OUTLOOK)


def _since_ms(planting: Planting, at: pd.Timestamp) -> int:
    """Where a field's readings are needed from: `HISTORY_DAYS` back, or for rice the whole
    season so far (the insects' degree-days count from transplanting)."""
    since = at - pd.Timedelta(days=HISTORY_DAYS + 1)
    if planting.is_rice:
        planted = pd.Timestamp(planting.planted).tz_localize(at.tz)
        since = min(since, max(planted, at - pd.Timedelta(days=planting.crop.season_days)))
    return int(since.timestamp() * 1000)


def run(
    settings: Settings,
    registry: Registry,
    store: Store,
    field: str | None = None,
    now: dt.datetime | None = None,
    model: SoilMoistureModel | None = None,
    n_jobs: int = 1,
) -> list[FieldResult]:
    """Forecast every planted field of the farm (or only `field`) and write the results."""
    plantings = [p for p in registry.plantings(settings.farm) if field in (None, p.field)]
    if field is not None and not plantings:
        raise RegistryError(
            f"field {field!r} of farm {settings.farm} has no planting: "
            f"run `ruong field plant --field {field} --crop ... --planted ...` first"
        )
    at = pd.Timestamp(now or dt.datetime.now(dt.UTC))
    if at.tz is None:  # a wall-clock time given on the command line is the farm's
        at = at.tz_localize(settings.timezone)
    crops, soils = load_crops(), load_soils()
    inputs = []
    for info in plantings:
        planting = planting_of(info, crops, soils)
        rows = store.rows(
            "readings",
            where={"farm": info.farm, "field": info.field},
            since_ms=_since_ms(planting, at),
        )
        inputs.append((planting, readings_frame(rows)))
    outcomes = forecast_many(inputs, site_of(settings), at, model, n_jobs=n_jobs)
    time_ms = int(at.timestamp() * 1000)
    points: list[Point] = []
    results: list[FieldResult] = []
    for info, outcome in zip(plantings, outcomes, strict=True):
        if isinstance(outcome, str):
            log.warning("field %s: no forecast: %s", info.field, outcome)
            results.append(FieldResult(info, [], outcome))
            continue
        points.extend(advice_point(info.farm, info.field, a, time_ms) for a in outcome)
        results.append(FieldResult(info, outcome))
    if points:
        store.write(points)
    log.info("wrote %d forecasts for %d fields", len(points), len(results))
    return results
