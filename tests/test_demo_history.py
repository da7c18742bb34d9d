"""The demo's past and its live nodes are one simulated field each: the history is what the
node's own simulation (firmware/sim_field.py) reported, with the field's crop and soil, and
the live node goes on from the state the history ended in."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backend.firmware_src import import_firmware
from backend.registry import NodeInfo, Registry
from backend.store.sqlite import SqliteStore
from forecasting.crops import load_crops
from forecasting.water_balance import depletion_fraction
from ruong.demo_history import HISTORY_DAYS, TYPICAL_ET0_MM, seed_history

FARM = "demo"
# mid-October: summer rice (transplanted mid-July) on the first field, maize and tomato beside
NOW = pd.Timestamp("2026-10-15 09:00", tz="Asia/Ho_Chi_Minh")
NOISE = 0.5  # sim_field's soil-probe noise amplitude, %


@pytest.fixture
def world(tmp_path: Path):
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    nodes: list[NodeInfo] = [registry.provision(FARM, f"ruong-{i}", "coap") for i in (1, 2, 3)]
    store = SqliteStore(tmp_path / "store.db")
    yield registry, store, nodes
    store.close()
    registry.close()


def readings(store: SqliteStore, field: str) -> list[dict]:
    return [
        {**row.fields, "t_s": row.time_ms // 1000}
        for row in store.rows("readings", where={"field": field})
    ]


def test_history_is_the_live_fields_past(world) -> None:
    registry, store, nodes = world
    seeded = seed_history(registry, store, nodes, NOW)
    assert len(seeded.lines) == 3
    kinds = {field: sim["kind"] for field, sim in seeded.sims.items()}
    assert kinds == {"ruong-1": "paddy", "ruong-2": "upland", "ruong-3": "upland"}
    sim_field = import_firmware("sim_field")
    for info in nodes:
        rows = readings(store, info.field)
        if seeded.sims[info.field]["kind"] == "paddy":  # its season so far, every 15 min
            since_planting = (NOW.timestamp() - seeded.sims[info.field]["planted_s"]) / 900
            assert abs(len(rows) - since_planting) <= 1
        else:
            assert len(rows) == HISTORY_DAYS * 96  # every 15 min
        assert rows[-1]["t_s"] < NOW.timestamp() <= rows[-1]["t_s"] + 900
        sim = seeded.sims[info.field]
        assert sim["state"]["t_s"] == rows[-1]["t_s"]
        live = sim_field.Field(info.field, seeded.seeds[info.field], sim)
        first = live.sample(rows[-1]["t_s"] + 900)  # the live node's next sample
        assert first["soil_vwc"] == pytest.approx(rows[-1]["soil_vwc"], abs=2 * NOISE + 0.3)
        if sim["kind"] == "upland":
            assert all("water_level" not in r for r in rows)
            assert "water_level" not in first
            assert sim["theta_wp"] - NOISE <= min(r["soil_vwc"] for r in rows)
            assert max(r["soil_vwc"] for r in rows) <= sim["theta_fc"] + NOISE
        else:
            assert all(-0.3 <= r["water_level"] <= 0.11 for r in rows)  # the bund spills at +10 cm
            assert first["water_level"] == pytest.approx(rows[-1]["water_level"], abs=0.01)


def test_the_history_uses_the_fields_crop_and_soil(world) -> None:
    registry, store, nodes = world
    seeded = seed_history(registry, store, nodes, NOW)
    plantings = {p.field: p for p in registry.plantings(FARM)}
    upland = seeded.sims["ruong-2"]
    assert upland["theta_fc"] == pytest.approx(33.5) and upland["theta_wp"] == pytest.approx(20.5)
    crop = load_crops()[plantings["ruong-2"].crop]
    assert upland["planted_s"] == int(
        pd.Timestamp(plantings["ruong-2"].planted).tz_localize(NOW.tzinfo).timestamp()
    )
    assert crop.name_en in seeded.lines[1]
    # p as the irrigation advice adjusts it (FAO-56 Table 22 footnote), zr as the balance
    adjusted = depletion_fraction(crop.p, crop.kc_mid * TYPICAL_ET0_MM)
    assert upland["p"] == pytest.approx(float(adjusted), abs=1e-3) and upland["zr_m"] == crop.zr_min
    e1, e2, e3, e4 = crop.stage_ends
    assert upland["kc"] == [
        [e1, crop.kc_ini],
        [e2, crop.kc_mid],
        [e3, crop.kc_mid],
        [e4, crop.kc_end],
    ]
    assert seeded.sims["ruong-1"]["kc"][1][1] == pytest.approx(1.2)  # rice Kc_mid


def test_a_second_demo_run_keeps_the_history_and_still_hands_on_the_state(world) -> None:
    registry, store, nodes = world
    seed_history(registry, store, nodes, NOW)
    written = len(readings(store, "ruong-2"))
    later = NOW + pd.Timedelta(hours=5)
    again = seed_history(registry, store, nodes, later, step_s=300)
    assert again.lines == []
    assert len(readings(store, "ruong-2")) == written  # the past is written once
    assert set(again.sims) == {n.field for n in nodes}
    for sim in again.sims.values():
        assert later.timestamp() - 300 <= sim["state"]["t_s"] < later.timestamp()
        assert sim["state"]["bucket_mm"] == 0  # no phantom rain in the first live reading


def test_the_live_farmer_can_be_left_to_the_demo(world) -> None:
    registry, store, nodes = world
    seeded = seed_history(registry, store, nodes, NOW, auto_farmer=False)
    assert all(sim["auto_farmer"] is False for sim in seeded.sims.values())
