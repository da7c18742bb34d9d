"""Crops: FAO-56 crop coefficients, stage lengths, root depth and p, and the daily Kc curve.

Source: Allen, R.G., Pereira, L.S., Raes, D., Smith, M. (1998). FAO Irrigation and Drainage
Paper 56 (FAO-56), chapter 6 (single crop coefficient) and chapter 8 (Table 22). Place in the
data path: the water balance (`forecasting.water_balance`) and the rice AWD advice
(`forecasting.awd`) take a :class:`Crop`; the values live in `forecasting/data/crops.csv`,
one value per row with the FAO-56 table (and the table's row) it comes from.

Equations used
--------------
- Kc curve: piecewise linear through the four stages, FAO-56 Fig. 25 and eq. 66,
  Kc_i = Kc_prev + [(i - sum(L_prev)) / L_stage] (Kc_next - Kc_prev), i the day of the season
  (day 1 = planting/transplanting).
- Climatic adjustment of Kc_mid (eq. 62) and Kc_end (eq. 65, only where Kc_end >= 0.45):
  Kc + [0.04 (u2 - 2) - 0.004 (RHmin - 45)] (h / 3) ** 0.3, with u2 limited to 1-6 m s-1,
  RHmin to 20-80 % and h to 0.1-10 m, the ranges FAO-56 gives for the equation.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

STAGES = ("initial", "development", "mid", "late")

# parameter -> (kind, lower, upper): the range a value must be in to be believed
_NUMERIC: dict[str, tuple[type, float, float]] = {
    "kc_ini": (float, 0.1, 1.4),
    "kc_mid": (float, 0.1, 1.4),
    "kc_end": (float, 0.1, 1.4),
    "h_max": (float, 0.05, 10.0),
    "l_ini": (int, 1, 400),
    "l_dev": (int, 1, 400),
    "l_mid": (int, 1, 700),
    "l_late": (int, 0, 400),
    "zr_min": (float, 0.05, 5.0),
    "zr_max": (float, 0.05, 5.0),
    "p": (float, 0.05, 0.95),
    "plant_month": (int, 1, 12),
}
_TEXT = ("name_en", "name_vi")
_REQUIRED = (*_NUMERIC, *_TEXT)


class CropDataError(ValueError):
    """A crop file has a bad or missing value; the message names the file, line and value."""


@dataclass(frozen=True)
class Crop:
    """One crop's FAO-56 parameters.

    kc_ini, kc_mid, kc_end: single crop coefficients (-), FAO-56 Table 12.
    l_ini, l_dev, l_mid, l_late: stage lengths (days), FAO-56 Table 11.
    zr_min, zr_max: range of maximum effective rooting depth (m), FAO-56 Table 22.
    p: soil water depletion fraction for no stress (-) at ETc ~5 mm/day, FAO-56 Table 22.
    h_max: mean maximum plant height (m), FAO-56 Table 12 (for eq. 62 and 65).
    plant_month: month usually planted/transplanted locally (1-12).
    sources: parameter -> citation ("FAO-56 Table 12: Rice").
    """

    key: str
    name_en: str
    name_vi: str
    kc_ini: float
    kc_mid: float
    kc_end: float
    l_ini: int
    l_dev: int
    l_mid: int
    l_late: int
    zr_min: float
    zr_max: float
    p: float
    h_max: float
    plant_month: int
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def season_days(self) -> int:
        """Length of the growing season (days): L_ini + L_dev + L_mid + L_late."""
        return self.l_ini + self.l_dev + self.l_mid + self.l_late

    @property
    def stage_ends(self) -> tuple[int, int, int, int]:
        """Last day (1-based day of season) of each stage."""
        ends = np.cumsum([self.l_ini, self.l_dev, self.l_mid, self.l_late])
        return (int(ends[0]), int(ends[1]), int(ends[2]), int(ends[3]))

    def scaled_to(self, season_days: int) -> Crop:
        """The same crop with its stage lengths scaled to a local season length (days).

        FAO-56 (chapter 6, "Length of growth stages") prefers local observation to Table 11;
        a local variety's total length (e.g. 115 days transplant-to-harvest) rescales the
        four stages in Table 11's proportions, rounding so that the total is exact.
        """
        if season_days < 4:
            raise ValueError(f"season_days must be at least 4, got {season_days}")
        lengths = np.array([self.l_ini, self.l_dev, self.l_mid, self.l_late], dtype=float)
        ends = np.rint(np.cumsum(lengths) * season_days / lengths.sum()).astype(int)
        new = np.diff(np.concatenate([[0], ends]))
        return dataclasses.replace(
            self, l_ini=int(new[0]), l_dev=int(new[1]), l_mid=int(new[2]), l_late=int(new[3])
        )

    def adjusted(self, u2: float, rh_min: float, h: float | None = None) -> Crop:
        """Kc_mid and Kc_end adjusted to the local climate, FAO-56 eq. 62 and 65.

        u2: mean daily wind speed at 2 m over the stage (m s-1); rh_min: mean daily minimum
        relative humidity over the stage (%); h: mean plant height (m), default h_max.
        Kc_end is adjusted only when its table value is >= 0.45 (eq. 65 notes).
        """
        height = self.h_max if h is None else h
        kc_mid = float(adjust_kc_for_climate(self.kc_mid, u2, rh_min, height))
        kc_end = self.kc_end
        if kc_end >= 0.45:
            kc_end = float(adjust_kc_for_climate(kc_end, u2, rh_min, height))
        return dataclasses.replace(self, kc_mid=kc_mid, kc_end=kc_end)


def adjust_kc_for_climate(kc_table: float, u2: float, rh_min: float, h: float) -> float:
    """Kc_mid (eq. 62) or Kc_end (eq. 65) adjusted from FAO-56 Table 12's standard climate.

    kc_table: the Table 12 value (-), for RHmin = 45 % and u2 = 2 m s-1.
    u2: mean daily wind speed at 2 m (m s-1), limited to 1-6.
    rh_min: mean daily minimum relative humidity (%), limited to 20-80.
    h: mean plant height (m), limited to 0.1-10.
    """
    u2 = float(np.clip(u2, 1.0, 6.0))
    rh_min = float(np.clip(rh_min, 20.0, 80.0))
    h = float(np.clip(h, 0.1, 10.0))
    return kc_table + (0.04 * (u2 - 2.0) - 0.004 * (rh_min - 45.0)) * (h / 3.0) ** 0.3


def kc_curve(crop: Crop, day: Iterable[int] | np.ndarray | int) -> np.ndarray:
    """Daily Kc (-) for day(s) of the season, FAO-56 eq. 66 / Fig. 25.

    day: day number i within the growing season, 1 = planting (or transplanting) day,
    `crop.season_days` = last day. Days outside 1..season_days give NaN.
    Initial stage: Kc_ini; development: linear Kc_ini -> Kc_mid; mid-season: Kc_mid;
    late season: linear Kc_mid -> Kc_end, reaching Kc_end on the last day.
    """
    i = np.atleast_1d(np.asarray(day, dtype=float))
    e1, e2, e3, e4 = crop.stage_ends
    # eq. 66 in each stage; np.interp is exactly that piecewise-linear rule.
    kc = np.interp(i, [e1, e2, e3, e4], [crop.kc_ini, crop.kc_mid, crop.kc_mid, crop.kc_end])
    return np.where((i >= 1) & (i <= e4), kc, np.nan)


def stage_of_day(crop: Crop, day: int) -> str:
    """The FAO-56 stage ('initial', 'development', 'mid', 'late') of day `day` (1-based).

    Raises ValueError outside the season.
    """
    ends = crop.stage_ends
    if not 1 <= day <= ends[-1]:
        raise ValueError(f"day {day} is outside {crop.key}'s season 1..{ends[-1]}")
    return STAGES[int(np.searchsorted(ends, day))]


def default_crops_path() -> Path:
    """Path of the packaged `forecasting/data/crops.csv`."""
    return Path(str(resources.files("forecasting") / "data" / "crops.csv"))


def cited_csv_rows(
    path: Path, error: type[ValueError] = ValueError
) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a CSV whose `#` lines are comments.

    Raises `error` naming the file and line of a row whose field count differs from the
    header's (a stray or missing comma would shift every later value into the wrong column).
    """
    with path.open(encoding="utf-8", newline="") as fh:
        numbered = [(n, line) for n, line in enumerate(fh, start=1) if not line.startswith("#")]
    numbered = [(n, line) for n, line in numbered if line.strip()]
    reader = csv.DictReader(line for _, line in numbered)
    for (number, _), row in zip(numbered[1:], reader, strict=True):
        expected = len(reader.fieldnames or [])
        extra = row.pop(None, None)
        fields = expected + len(extra or []) - sum(v is None for v in row.values())
        if fields != expected:
            raise error(f"{path.name} line {number}: {fields} fields, the header has {expected}")
        yield number, row


def load_crops(path: str | Path | None = None) -> dict[str, Crop]:
    """All crops of a crops CSV (default: the packaged one), keyed by crop id.

    The file has columns crop, parameter, value, source, note: one value per row, so that
    each value carries its own citation. Raises CropDataError naming the file and line of a
    value that is not a number, out of its plausible range, duplicated or uncited, and the
    crop missing a parameter.
    """
    path = default_crops_path() if path is None else Path(path)
    values: dict[str, dict[str, object]] = {}
    sources: dict[str, dict[str, str]] = {}
    for line, row in cited_csv_rows(path, CropDataError):
        where = f"{path.name} line {line}"
        missing_cols = {"crop", "parameter", "value", "source"} - set(row)
        if missing_cols:
            raise CropDataError(f"{where}: missing columns {sorted(missing_cols)}")
        crop, name, raw = row["crop"].strip(), row["parameter"].strip(), row["value"].strip()
        where = f"{where} ({crop}, {name})"
        if not (row.get("source") or "").strip():
            raise CropDataError(f"{where}: no source cited")
        if name in values.get(crop, {}):
            raise CropDataError(f"{where}: duplicate value")
        if name in _NUMERIC:
            kind, low, high = _NUMERIC[name]
            try:
                number = kind(raw) if kind is int else float(raw)
            except ValueError:
                raise CropDataError(f"{where}: {raw!r} is not a {kind.__name__}") from None
            if not low <= number <= high:
                raise CropDataError(f"{where}: {number} outside plausible range {low}-{high}")
            value: object = number
        elif name in _TEXT:
            value = raw
        else:
            raise CropDataError(f"{where}: unknown parameter (known: {sorted(_REQUIRED)})")
        values.setdefault(crop, {})[name] = value
        note = (row.get("note") or "").strip()
        sources.setdefault(crop, {})[name] = row["source"].strip() + (f": {note}" if note else "")
    crops = {}
    for key, params in values.items():
        missing = [name for name in _REQUIRED if name not in params]
        if missing:
            raise CropDataError(f"{path.name}: crop {key!r} lacks {missing}")
        if params["zr_min"] > params["zr_max"]:  # type: ignore[operator]
            raise CropDataError(f"{path.name}: crop {key!r} has zr_min > zr_max")
        crops[key] = Crop(key=key, sources=sources[key], **params)  # type: ignore[arg-type]
    return crops


def get_crop(key: str, path: str | Path | None = None) -> Crop:
    """One crop by id ("rice_spring", "rice_summer", "maize", "cabbage", "tomato")."""
    crops = load_crops(path)
    try:
        return crops[key]
    except KeyError:
        raise KeyError(f"unknown crop {key!r}; known: {sorted(crops)}") from None
