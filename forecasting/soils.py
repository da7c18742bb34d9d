"""Soils: field capacity and wilting point per texture, for the FAO-56 water balance.

Source: Allen et al. (1998) FAO-56, Table 19 (typical soil water characteristics), midpoints
of its ranges; the values live in `forecasting/data/soils.csv` with a `source` per row.
Place in the data path: `forecasting.water_balance` takes a :class:`Soil` for TAW (eq. 82)
and to turn a soil-moisture reading into a depletion (eq. 86).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from forecasting.crops import cited_csv_rows


class SoilDataError(ValueError):
    """A soils file has a bad or missing value; the message names the file, line and value."""


@dataclass(frozen=True)
class Soil:
    """A soil texture's water-holding limits.

    theta_fc: volumetric water content at field capacity (m3 m-3).
    theta_wp: volumetric water content at the permanent wilting point (m3 m-3).
    source: citation of the values ("FAO-56 Table 19: ...").
    """

    texture: str
    name_vi: str
    theta_fc: float
    theta_wp: float
    source: str

    @property
    def available_water(self) -> float:
        """theta_fc - theta_wp (m3 m-3): available water per unit soil volume."""
        return self.theta_fc - self.theta_wp


def default_soils_path() -> Path:
    """Path of the packaged `forecasting/data/soils.csv`."""
    return Path(str(resources.files("forecasting") / "data" / "soils.csv"))


def load_soils(path: str | Path | None = None) -> dict[str, Soil]:
    """All soil textures of a soils CSV (default: the packaged one), keyed by texture.

    Columns: texture, name_vi, theta_fc, theta_wp (m3 m-3), source, note. Raises
    SoilDataError naming the file and line of a value that is not a number, outside 0-0.6,
    with theta_wp >= theta_fc, duplicated or uncited.
    """
    path = default_soils_path() if path is None else Path(path)
    soils: dict[str, Soil] = {}
    for line, row in cited_csv_rows(path, SoilDataError):
        texture = (row.get("texture") or "").strip()
        where = f"{path.name} line {line} ({texture})"
        if not texture:
            raise SoilDataError(f"{where}: no texture")
        if texture in soils:
            raise SoilDataError(f"{where}: duplicate texture")
        source = (row.get("source") or "").strip()
        if not source:
            raise SoilDataError(f"{where}: no source cited")
        theta = {}
        for name in ("theta_fc", "theta_wp"):
            raw = (row.get(name) or "").strip()
            try:
                theta[name] = float(raw)
            except ValueError:
                raise SoilDataError(f"{where}: {name} {raw!r} is not a number") from None
            if not 0.0 < theta[name] < 0.6:
                raise SoilDataError(f"{where}: {name} {theta[name]} outside 0-0.6 m3/m3")
        if theta["theta_wp"] >= theta["theta_fc"]:
            raise SoilDataError(f"{where}: theta_wp must be below theta_fc")
        note = (row.get("note") or "").strip()
        soils[texture] = Soil(
            texture=texture,
            name_vi=(row.get("name_vi") or "").strip(),
            theta_fc=theta["theta_fc"],
            theta_wp=theta["theta_wp"],
            source=source + (f": {note}" if note else ""),
        )
    return soils


def get_soil(texture: str, path: str | Path | None = None) -> Soil:
    """One soil by texture ("clay", "silty_clay", "silty_clay_loam", "silt_loam", ...)."""
    soils = load_soils(path)
    try:
        return soils[texture]
    except KeyError:
        raise KeyError(f"unknown soil texture {texture!r}; known: {sorted(soils)}") from None
