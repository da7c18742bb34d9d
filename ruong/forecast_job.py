"""`ruong forecast run`: read each planted field's readings, forecast, write `forecasts`.

I/O at the edges of `forecasting.field_forecast` (pure): the registry gives the plantings
and the farmer's records (irrigation, drainage, spraying), the store gives the last
`HISTORY_DAYS` days of `readings`, the weather source (`[weather] url`, ruong/weather_feed.py)
the forecast, and every Advice becomes one point of the `forecasts` measurement (tags farm,
field, kind, model; time = when the forecast was made) with its level, its words (a message
of the catalogue, rendered when read) and its numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd

from backend.config import Settings
from backend.records import farm_records
from backend.registry import PlantingInfo, Registry, RegistryError
from backend.store import Store
from backend.store.base import FieldValue, Point, Row
from forecasting.advice import HISTORY_DAYS, Advice, FarmRecord, WeatherAhead
from forecasting.crops import Crop, load_crops
from forecasting.field_forecast import FieldInputs, SoilMoistureModel, forecast_many
from forecasting.field_readings import Planting, Site
from forecasting.soils import Soil, load_soils
from forecasting.varieties import Variety, crop_for, load_varieties
from forecasting.weather_forecast import WeatherOutlook

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
    info: PlantingInfo,
    crops: dict[str, Crop] | None = None,
    soils: dict[str, Soil] | None = None,
    varieties: dict[str, Variety] | None = None,
) -> Planting:
    """The registry's planting with its crop and soil looked up; RegistryError if unknown.

    A rice planting with a variety gets the variety's season: FAO-56 Table 11's stages scaled
    to its duration in the season of the planting date (`forecasting.varieties.crop_for`), so
    the AWD calendar, the flowering window and the pest rules follow its real stage dates.
    crops, soils, varieties: the libraries (default: read from forecasting/data); pass them
    when looking up many plantings, so the files are read once.
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
    crop = crops[info.crop]
    if info.variety is not None:
        try:
            crop = crop_for(info.variety, info.planted, crops, varieties)
        except ValueError as exc:  # an unknown variety, a date in neither rice season
            raise RegistryError(f"field {info.field}: {exc}") from None
    return Planting(info.field, crop, soils[info.soil], info.planted, info.area_m2)


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
    numbers. A detected event (kind `event`) is written at the time it happened: one point
    per event, the same point again when a later run sees it again."""
    fields: dict[str, FieldValue] = {
        "msg": json.dumps(advice.text.as_json(), ensure_ascii=False, separators=(",", ":")),
        **advice.fields,
    }
    if advice.level is not None:
        fields["level"] = advice.level
    tags = {"farm": farm, "field": field, "kind": advice.kind, "model": advice.model}
    at = advice.fields.get("at_ms") if advice.kind == "event" else None
    return Point("forecasts", tags, fields, at if isinstance(at, int) else time_ms)


def load_model(model_dir: str | Path, outlook: str = "no-rain") -> SoilMoistureModel:
    """The newest saved soil-moisture model trained for the outlook `run` gives it, trained
    (and saved) first if there is none: "no-rain" (recent ET0, no rain: no weather source)
    or "forecast" (an imperfect weather forecast, `[weather] url`; forecasting.outlook)."""
    from forecasting.outlook import NO_RAIN_OUTLOOK, OutlookError
    from forecasting.persist import load_or_train

    error = NO_RAIN_OUTLOOK if outlook == "no-rain" else OutlookError()
    return load_or_train(Path(model_dir), error)


def farmer_records(
    registry: Registry, farm: str, since: pd.Timestamp
) -> dict[str, list[FarmRecord]]:
    """What the farmers of `farm` recorded doing since `since`, by field name."""
    by_field = farm_records(registry.engine, farm, since.to_pydatetime())
    return {
        field: [FarmRecord(r.kind, pd.Timestamp(r.time), r.amount_mm) for r in records]
        for field, records in by_field.items()
    }


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
    weather: WeatherAhead | None = None,
    fields: set[str] | None = None,
    keep: Callable[[str, Advice], bool] | None = None,
) -> list[FieldResult]:
    """Forecast every planted field of the farm (or only `field`, or only `fields`) and
    write the results. weather: the site's forecast (None: no source configured); keep:
    which (field, advice) to write (default all; `ruong forecast watch` writes what changed)."""
    plantings = [
        p
        for p in registry.plantings(settings.farm)
        if field in (None, p.field) and (fields is None or p.field in fields)
    ]
    if field is not None and not plantings:
        raise RegistryError(
            f"field {field!r} of farm {settings.farm} has no planting: "
            f"run `ruong field plant --field {field} --crop ... --planted ...` first"
        )
    at = pd.Timestamp(now or dt.datetime.now(dt.UTC))
    if at.tz is None:  # a wall-clock time given on the command line is the farm's
        at = at.tz_localize(settings.timezone)
    crops, soils, varieties = load_crops(), load_soils(), load_varieties()
    records = farmer_records(registry, settings.farm, at - pd.Timedelta(days=HISTORY_DAYS + 1))
    inputs = []
    for info in plantings:
        planting = planting_of(info, crops, soils, varieties)
        rows = store.rows(
            "readings",
            where={"farm": info.farm, "field": info.field},
            since_ms=_since_ms(planting, at),
        )
        extra = FieldInputs(records.get(info.field, []), weather)
        inputs.append((planting, readings_frame(rows), extra))
    outcomes = forecast_many(inputs, site_of(settings), at, model, n_jobs=n_jobs)
    time_ms = int(at.timestamp() * 1000)
    points: list[Point] = []
    results: list[FieldResult] = []
    for info, outcome in zip(plantings, outcomes, strict=True):
        if isinstance(outcome, str):
            log.warning("field %s: no forecast: %s", info.field, outcome)
            results.append(FieldResult(info, [], outcome))
            continue
        points.extend(
            advice_point(info.farm, info.field, a, time_ms)
            for a in outcome
            if keep is None or keep(info.field, a)
        )
        results.append(FieldResult(info, outcome))
    if points:
        store.write(points)
    log.info("wrote %d forecasts for %d fields", len(points), len(results))
    return results


def weather_ahead(outlook: WeatherOutlook, now_ms: int) -> WeatherAhead:
    """A feed's outlook as the advice takes it: the hours from now on, and per local day the
    rain and ET0 still to come (today: only its remaining hours, the rain that fell already
    is in the readings)."""
    if not outlook.ok:
        return WeatherAhead(None, None, outlook.source, outlook.error)
    hourly = outlook.hourly[["et0", "rain"]]
    index = cast(pd.DatetimeIndex, hourly.index)  # parse_open_meteo's: tz-aware hours
    now = pd.Timestamp(now_ms, unit="ms", tz="UTC").tz_convert(index.tz)
    daily = outlook.daily()[["rain", "et0"]].copy()
    rest = hourly.loc[index >= now.floor("h")]
    today = pd.Timestamp(now.date())
    left = rest.loc[cast(pd.DatetimeIndex, rest.index).tz_localize(None).normalize() == today]
    if len(left) and left.notna().all(axis=None):
        daily.loc[today, ["rain", "et0"]] = left[["rain", "et0"]].sum().to_numpy()
    return WeatherAhead(daily.sort_index(), rest, outlook.source)


def weather_source(settings: Settings) -> Callable[[int], WeatherAhead | None]:
    """The site's forecast at site time `now_ms` (Unix ms) from `[weather] url`; None for
    every call when no source is configured. A failing source gives a `WeatherAhead` with
    its error (the advice falls back to no rain and says so)."""
    from ruong.weather_feed import WeatherFeed

    feed = WeatherFeed.from_settings(settings)
    if feed is None:
        return lambda now_ms: None

    def ahead(now_ms: int) -> WeatherAhead:
        outlook = feed.outlook(settings.latitude, settings.longitude, settings.timezone, now_ms)
        return weather_ahead(outlook, now_ms)

    return ahead


def outlook_of(weather: WeatherAhead | None) -> str:
    """The soil-moisture model's outlook for this weather: "forecast" with a forecast,
    "no-rain" without (`load_model`)."""
    return "forecast" if weather is not None and weather.hourly is not None else "no-rain"
