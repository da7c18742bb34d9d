"""Red River Delta rice varieties: their growth durations in each season, and the FAO-56 rice
crop with its stages scaled to them.

Place in the data path: `ruong field plant --variety V` and the forecast job turn a planting's
variety and date into the :class:`~forecasting.crops.Crop` the water balance, the AWD advice
and the pest rules run on (:func:`crop_for`). The durations live in
`forecasting/data/rice_varieties.csv`, one cited value per row (the seed companies' variety
sheets); the stage proportions are FAO-56 Table 11's rice row in `forecasting/data/crops.csv`.

Why scale: FAO-56 (chapter 6, "Length of growth stages") prefers local observation to
Table 11, whose rice rows run 150 and 180 days; Delta varieties run 100-140. The variety's
duration in the season (the mid-point of its sheet's range) rescales the four stages in
Table 11's proportions (`Crop.scaled_to`).

What the durations count: a Vietnamese variety sheet's "thời gian sinh trưởng" runs from sowing
(gieo) to harvest ripeness; for transplanted rice it includes the seedlings' days in the
nursery. Day 1 of a variety's season is therefore its sowing day. Given a transplanting day
instead, the harvest and stage dates come out one nursery age late (roughly 10-25 days in the
Delta, by sowing method and season); the varieties file does not hold nursery ages, so this
module does not subtract one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from forecasting.crops import Crop, cited_csv_rows, load_crops

SEASONS = ("spring", "summer")
# season -> the crops.csv row whose FAO-56 parameters a variety's crop starts from
SEASON_CROPS = {"spring": "rice_spring", "summer": "rice_summer"}
# The Red River Delta's two rice seasons by month of sowing or transplanting: vụ xuân
# (spring) Jan-Apr, vụ mùa (summer) May-Sep; Oct-Dec is vụ đông (winter upland crops). Sources:
# Ninh Bình's cropping calendar as in crops.csv (plant_month rows: spring ~Feb, summer ~July);
# Vinaseed's Khang dân đột biến sheet for the Delta (as a cooperative, htxhoatien1.vn, reproduces
# it): "trà Xuân muộn gieo 25/1-10/2", "vụ Mùa gieo trong tháng 6" (sowing), transplanted at
# 3-4.5 leaves in spring and 12-15 days old in summer. December sowings of the early spring
# crop (trà xuân sớm) fall outside: plant them with --crop rice_spring.
SEASON_MONTHS = {"spring": range(1, 5), "summer": range(5, 10)}
COUNTED_FROM = ("sowing", "transplanting")
_DAYS = tuple(f"{s}_{bound}_days" for s in SEASONS for bound in ("min", "max"))
_TEXT = ("name_vi", "name_en", "counted_from")
_REQUIRED = (*_TEXT, *_DAYS)
# the range a duration must be in to be believed (days); Delta varieties run 90-160
_PLAUSIBLE_DAYS = (60, 200)


class VarietyDataError(ValueError):
    """A varieties file has a bad or missing value; the message names the file, line and value."""


@dataclass(frozen=True)
class Variety:
    """One rice variety's growth durations in the Delta's seasons.

    durations: season ("spring", "summer") -> (shortest, longest) growth duration (days), as
    the variety sheet gives it for the North.
    counted_from: what the durations count from: "sowing" (the Vietnamese sheets' convention)
    or "transplanting".
    sources: parameter -> citation (the sheet it was read from, and the row's note).
    """

    key: str
    name_vi: str
    name_en: str
    durations: dict[str, tuple[int, int]]
    counted_from: str
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def season_days(self, season: str) -> int:
        """The variety's duration in `season` (days): the mid-point of its sheet's range,
        a half day rounded up (TBR225 in spring: 120-125 -> 123)."""
        try:
            low, high = self.durations[season]
        except KeyError:
            raise ValueError(f"unknown season {season!r}; known: {list(SEASONS)}") from None
        return (low + high + 1) // 2


def default_varieties_path() -> Path:
    """Path of the packaged `forecasting/data/rice_varieties.csv`."""
    return Path(str(resources.files("forecasting") / "data" / "rice_varieties.csv"))


def load_varieties(path: str | Path | None = None) -> dict[str, Variety]:
    """All varieties of a varieties CSV (default: the packaged one), keyed by variety id.

    The file has columns variety, parameter, value, source, note: one value per row with its
    citation. Raises VarietyDataError naming the file and line of a value that is not a whole
    number of days, implausible, duplicated or uncited, a range whose minimum exceeds its
    maximum, and the variety missing a parameter.
    """
    path = default_varieties_path() if path is None else Path(path)
    values: dict[str, dict[str, str | int]] = {}
    sources: dict[str, dict[str, str]] = {}
    for line, row in cited_csv_rows(path, VarietyDataError):
        where = f"{path.name} line {line}"
        missing_cols = {"variety", "parameter", "value", "source"} - set(row)
        if missing_cols:
            raise VarietyDataError(f"{where}: missing columns {sorted(missing_cols)}")
        key, name, raw = row["variety"].strip(), row["parameter"].strip(), row["value"].strip()
        where = f"{where} ({key}, {name})"
        if not (row.get("source") or "").strip():
            raise VarietyDataError(f"{where}: no source cited")
        if name in values.get(key, {}):
            raise VarietyDataError(f"{where}: duplicate value")
        values.setdefault(key, {})[name] = _value(where, name, raw)
        note = (row.get("note") or "").strip()
        sources.setdefault(key, {})[name] = row["source"].strip() + (f": {note}" if note else "")
    return {key: _variety(path, key, params, sources[key]) for key, params in values.items()}


def _value(where: str, name: str, raw: str) -> str | int:
    if name in _DAYS:
        try:
            days = int(raw)
        except ValueError:
            raise VarietyDataError(f"{where}: {raw!r} is not a whole number of days") from None
        low, high = _PLAUSIBLE_DAYS
        if not low <= days <= high:
            raise VarietyDataError(f"{where}: {days} days outside plausible range {low}-{high}")
        return days
    if name == "counted_from" and raw not in COUNTED_FROM:
        raise VarietyDataError(f"{where}: {raw!r} is not one of {list(COUNTED_FROM)}")
    if name in _TEXT:
        return raw
    raise VarietyDataError(f"{where}: unknown parameter (known: {sorted(_REQUIRED)})")


def _variety(
    path: Path, key: str, params: dict[str, str | int], sources: dict[str, str]
) -> Variety:
    missing = [name for name in _REQUIRED if name not in params]
    if missing:
        raise VarietyDataError(f"{path.name}: variety {key!r} lacks {missing}")
    durations = {}
    for season in SEASONS:
        low, high = int(params[f"{season}_min_days"]), int(params[f"{season}_max_days"])
        if low > high:
            raise VarietyDataError(f"{path.name}: variety {key!r} has {season} {low} > {high} days")
        durations[season] = (low, high)
    return Variety(
        key=key,
        name_vi=str(params["name_vi"]),
        name_en=str(params["name_en"]),
        durations=durations,
        counted_from=str(params["counted_from"]),
        sources=sources,
    )


def season_of(planted: dt.date) -> str:
    """The Delta rice season ("spring" = vụ xuân, "summer" = vụ mùa) of a field sown or
    transplanted on `planted`: January-April is spring, May-September summer
    (:data:`SEASON_MONTHS`). October-December is the winter upland season (vụ đông), in which
    the Delta grows no rice: ValueError naming the date."""
    for season, months in SEASON_MONTHS.items():
        if planted.month in months:
            return season
    raise ValueError(
        f"{planted.isoformat()} is in neither Delta rice season: spring (vụ xuân) is sown or "
        "transplanted January-April, summer (vụ mùa) May-September"
    )


def crop_for(
    variety_key: str,
    planted: dt.date,
    crops: dict[str, Crop] | None = None,
    varieties: dict[str, Variety] | None = None,
) -> Crop:
    """The rice crop of `variety_key` planted on `planted`: rice_spring or rice_summer
    (by :func:`season_of`) with its FAO-56 Table 11 stages scaled to the variety's duration
    in that season (:meth:`Variety.season_days`; `Crop.scaled_to` keeps Table 11's
    proportions, each stage within a day, and the total exact).

    The key stays rice_spring/rice_summer (code tests `key.startswith("rice")`); the names
    carry the variety ("Lúa vụ xuân · TBR225"). crops, varieties: the libraries (default: read
    from forecasting/data); pass them when looking up many plantings. Raises ValueError for an
    unknown variety (naming the known ones) and for a date outside both seasons.
    """
    varieties = load_varieties() if varieties is None else varieties
    try:
        variety = varieties[variety_key]
    except KeyError:
        raise ValueError(
            f"unknown rice variety {variety_key!r} (known: {', '.join(sorted(varieties))})"
        ) from None
    season = season_of(planted)
    crops = load_crops() if crops is None else crops
    base = crops[SEASON_CROPS[season]]
    days = variety.season_days(season)
    scaled = base.scaled_to(days)
    sheet = variety.sources.get(f"{season}_min_days", "variety sheet")
    why = f"FAO-56 Table 11 rice stages scaled to {variety.name_vi}'s {days} d ({sheet})"
    return dataclasses.replace(
        scaled,
        name_vi=f"{base.name_vi} · {variety.name_vi}",
        name_en=f"{base.name_en} · {variety.name_en}",
        sources={**base.sources, **{name: why for name in ("l_ini", "l_dev", "l_mid", "l_late")}},
    )
