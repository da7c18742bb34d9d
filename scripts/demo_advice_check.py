"""Did any advice of a demo run contradict the reading it was computed from?

    .venv/bin/python scripts/demo_advice_check.py ruong-data/demo.toml

Reads every `forecasts` point of kind irrigation or awd from the demo's store (an embedded
SQLite store survives the demo; a demo's influxd must still run) and the reading of its
`reading_ms`, and counts the contradictions the advice issue (16) rules out: "no irrigation
needed" (level 0) while the reading's depletion (FAO-56 eq. 86 with the field's soil and
root depth) is past the advice's RAW; "let it dry" while the paddy's water is at or below
-15 cm; AWD advice on an upland field. Prints one line per field and exits 1 on any.
"""

from __future__ import annotations

import sys

import numpy as np

from backend.config import load_settings
from backend.registry import Registry
from backend.store import open_store
from forecasting.water_balance import depletion_from_theta
from ruong.forecast_job import planting_of


def main(config: str) -> int:
    settings = load_settings(config)
    bad = 0
    with Registry(settings.registry_url) as registry, open_store(settings.store) as store:
        for info in registry.plantings(settings.farm):
            planting = planting_of(info)
            where = {"farm": info.farm, "field": info.field}
            readings = {r.time_ms: r.fields for r in store.rows("readings", where, since_ms=0)}
            advice = [
                r
                for r in store.rows("forecasts", where, since_ms=0)
                if r.tags.get("kind") in ("irrigation", "awd") and "reading_ms" in r.fields
            ]
            field_ = planting.water_balance_field()
            checked = wrong = 0
            for point in advice:
                reading = readings.get(int(point.fields["reading_ms"]))
                if reading is None:
                    continue
                checked += 1
                level = point.fields.get("level")
                if point.tags["kind"] == "awd":
                    wrong += not planting.is_rice
                    low = float(reading.get("water_level", np.nan)) <= -0.15
                    wrong += bool(level == 0 and low and point.fields.get("phase") == "awd")
                    continue
                day = planting.day(np.datetime64(point.time_ms, "ms").astype(object).date())
                zr = float(field_.root_depth(np.array([max(day, 1)]))[0])
                theta = float(reading.get("soil_vwc", np.nan)) / 100.0
                dr = float(depletion_from_theta(theta, field_.soil.theta_fc, zr))
                wrong += bool(level == 0 and dr > float(point.fields.get("raw_mm", np.inf)) + 0.1)
            bad += wrong
            print(f"{info.field} ({info.crop}): {len(advice)} advice points, {checked} with "
                  f"their reading checked, {wrong} contradicting it")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
