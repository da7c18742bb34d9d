"""The demo's farmer (ruong/demo_farmer.py): some site hours after the advice says to
irrigate or re-flood, he pumps water into the node's simulated field (`sim_irrigate`, read by
firmware/hal_host.py) and records it, once; the narrator tells each change of advice."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from backend.clock import Clock
from backend.i18n import Message
from backend.records import records
from backend.registry import Registry
from backend.store import open_store
from dashboard.data import ForecastView
from forecasting.advice import Advice
from ruong.demo_farmer import DELAY_S, DemoFarmer, Narrator
from ruong.forecast_job import advice_point

TZ = dt.timezone(dt.timedelta(hours=7))


def _reflood(time_ms: int) -> ForecastView:
    values = {"action": "irrigate", "apply_mm": 80.0, "level": 3}
    return ForecastView("f", "lua-1", "awd", "irri-safe-awd", 3, None, time_ms, values=values)


def test_the_farmer_pumps_and_records_once_after_the_delay(tmp_path: Path) -> None:
    with Registry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        registry.provision("f", "lua-1", "coap")
        field_id = registry.add_field("f", "lua-1", "Khánh Thiện", None)
        node_dir = tmp_path / "node"
        node_dir.mkdir()
        start = time.time()
        clock = Clock(360.0, start, start)  # an hour of the season every 10 real s
        farmer = DemoFarmer(
            registry.engine, clock, {"lua-1": field_id}, {"lua-1": node_dir}, None, TZ
        )
        views = {("f", "lua-1"): [_reflood(clock.now_ms())]}
        assert farmer.step(views) == []  # planned: he goes DELAY_S later
        assert not (node_dir / "sim_irrigate").exists()
        later = Clock(360.0, start + DELAY_S + 1, time.time())
        farmer.clock = later
        lines = farmer.step(views)
        assert len(lines) == 1 and "pumped 80 mm" in lines[0]
        assert (node_dir / "sim_irrigate").read_text().strip() == "80"
        (done,) = records(registry.engine, field_id)
        assert done.kind == "irrigation" and done.amount_mm == 80.0
        assert abs(done.time.timestamp() - later.now_s()) < 5  # at the site's time
        # the advice still says re-flood (the sensor has not seen the water yet): no second go
        assert farmer.step(views) == [] and farmer.step(views) == []
        assert len(records(registry.engine, field_id)) == 1 and farmer.records == 1


def test_the_narrator_tells_a_change_once_with_its_reading(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    clock = Clock()
    now_ms = clock.now_ms()

    amount = Message("irrigation.amount", {"mm": 25, "m3": 37.5})

    def write(level: int, msgid: str, reading_ms: int, at_ms: int) -> None:
        text = Message(msgid, {"days": 7, "amount": amount})
        advice = Advice("irrigation", "fao56-ch8", level, text, {"reading_ms": reading_ms})
        store.write([advice_point("f", "ngo-1", advice, at_ms)])

    narrator = Narrator(store, clock, TZ)
    write(0, "irrigation.none", now_ms - 120_000, now_ms - 60_000)
    _, lines = narrator.step()
    assert (
        len(lines) == 1
        and "ngo-1 irrigation level 0" in lines[0]
        and "from the reading at" in lines[0]
    )
    write(0, "irrigation.none", now_ms - 30_000, now_ms - 20_000)  # the same words again
    assert narrator.step()[1] == []
    write(3, "irrigation.today", now_ms - 10_000, now_ms - 5_000)
    _, lines = narrator.step()
    assert len(lines) == 1 and "level 3" in lines[0]
    store.close()
