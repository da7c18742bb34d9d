"""One simulated field per node: its kind (paddy or upland) and its water are state, the
same on MicroPython and CPython, carried from the demo's past into the live node exactly, and
the farmer's pump (and the simulated farmer) act on it."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from firmware_helpers import reports, write_config

DAY = 86400
HOUR = 3600
JAN_2026 = 1767225600  # 2026-01-01T00:00:00Z, the dry season
JUL_2026 = 1782864000  # 2026-07-01T00:00:00Z, the monsoon
RICE_KC = [[30, 1.05], [60, 1.2], [90, 1.2], [120, 0.9]]  # FAO-56 Table 11/12 shape
MAIZE_KC = [[20, 0.3], [55, 1.2], [95, 1.2], [125, 0.6]]


def paddy(**extra: Any) -> dict[str, Any]:
    return {"kind": "paddy", "planted_s": JAN_2026 - 40 * DAY, "kc": RICE_KC, **extra}


def upland(**extra: Any) -> dict[str, Any]:
    sim = {"kind": "upland", "planted_s": JAN_2026 - 40 * DAY, "kc": MAIZE_KC}
    return {**sim, "theta_fc": 33.5, "theta_wp": 20.5, "zr_m": 0.5, "p": 0.55, **extra}


def run(field: Any, start: int, days: float, step: int = 900) -> list[dict]:
    return [field.sample(t) for t in range(start, start + int(days * DAY), step)]


@pytest.mark.micropython
@pytest.mark.parametrize("sim", [paddy(), upland()], ids=["paddy", "upland"])
def test_micropython_and_cpython_simulate_the_same_field(fw, mp, sim: dict) -> None:
    times = list(range(JUL_2026, JUL_2026 + 4 * DAY, 1800))
    script = (
        "import sim_field, json\n"
        f"f = sim_field.Field('ruong-2', 9, json.loads({json.dumps(sim)!r}))\n"
        f"for t in {times!r}:\n"
        "    v = f.sample(t)\n"
        "    print(json.dumps([[k, repr(v[k])] for k in sorted(v)]))\n"
        "print(json.dumps(f.state()))\n"
    )
    lines = mp.run(script).stdout.splitlines()
    field = fw("sim_field").Field("ruong-2", 9, sim)
    for t, line in zip(times, lines[:-1], strict=True):
        got = {k: float(text) for k, text in json.loads(line)}
        assert got == pytest.approx(field.sample(t), abs=1e-9)
    end, state = json.loads(lines[-1]), field.state()
    assert end.keys() == state.keys()
    for key, value in state.items():
        assert end[key] == (value if value is None else pytest.approx(value, rel=1e-12)), key


def test_an_upland_field_reports_no_water_level_and_a_paddy_does(fw) -> None:
    sim_field = fw("sim_field")
    assert all("water_level" not in s for s in run(sim_field.Field("ngo", 1, upland()), 0, 1))
    assert all("water_level" in s for s in run(sim_field.Field("lua", 1, paddy()), 0, 1))
    assert "water_level" in sim_field.Field("lua", 1).sample(JAN_2026)  # no sim: a paddy


@pytest.mark.parametrize("sim", [paddy(), upland(), paddy(auto_farmer=False)])
def test_a_carried_state_continues_exactly(fw, sim: dict) -> None:
    """Two days in one Field, or one day, state() through JSON (the node's config) and a new
    Field from it: the second day reads the same."""
    sim_field = fw("sim_field")
    whole = run(sim_field.Field("ruong-3", 4, sim), JUL_2026, 2)
    first = sim_field.Field("ruong-3", 4, sim)
    run(first, JUL_2026, 1)
    carried = json.loads(json.dumps(dict(sim, state=first.state())))
    second = run(sim_field.Field("ruong-3", 4, carried), JUL_2026 + DAY, 1)
    assert second == whole[len(whole) // 2 :]
    assert sum(s["rain"] for s in second) > 0  # the monsoon: the rain gauge carried too


def test_the_pump_raises_the_paddy_and_refills_the_root_zone(fw) -> None:
    sim_field = fw("sim_field")
    dry = {"level_m": -0.12, "t_s": JAN_2026}
    field = sim_field.Field("lua", 2, paddy(state=dry, auto_farmer=False))
    field.irrigate(30, JAN_2026)  # 24 mm fill the soil's pores to the surface, 6 mm pond
    assert field.state()["level_m"] == pytest.approx(0.006)
    field.irrigate(500)
    assert field.state()["level_m"] == 0.10  # the bund spills the rest

    root = sim_field.Field("ngo", 2, upland(state={"dr_mm": 40.0, "t_s": JAN_2026}))
    root.irrigate(25, JAN_2026)
    assert root.state()["dr_mm"] == pytest.approx(15.0)
    root.irrigate(50)
    assert root.state()["dr_mm"] == 0  # at field capacity; the rest drains away


def test_left_alone_a_paddy_dries_past_awd_and_an_upland_field_past_raw(fw) -> None:
    sim_field = fw("sim_field")
    for name in ("lua-1", "lua-2", "lua-3"):
        sim = paddy(state={"level_m": 0.0, "t_s": JAN_2026}, auto_farmer=False)
        levels = [s["water_level"] for s in run(sim_field.Field(name, 1, sim), JAN_2026, 10)]
        assert min(levels) < -0.15, name  # ETc + percolation beat the dry season's rain
    for name in ("ngo-1", "ngo-2", "ngo-3"):
        # mid-season maize (Kc 1.2), roots 0.3 m: RAW = 0.55 x 39 mm = 21 mm
        sim = upland(state={"dr_mm": 0.0, "t_s": JAN_2026}, auto_farmer=False, zr_m=0.3)
        field = sim_field.Field(name, 1, dict(sim, planted_s=JAN_2026 - 60 * DAY))
        depletion = []
        for t in range(JAN_2026, JAN_2026 + 45 * DAY, 3 * HOUR):  # the dry season
            field.sample(t)
            depletion.append(field.state()["dr_mm"])
        assert max(depletion) > field.raw, name


def test_the_simulated_farmer_refloods_after_awd_and_irrigates_after_raw(fw) -> None:
    sim_field = fw("sim_field")
    field = sim_field.Field("lua-1", 1, paddy(state={"level_m": 0.0, "t_s": JAN_2026}))
    levels = [s["water_level"] for s in run(field, JAN_2026, 40)]
    assert min(levels) > -0.15 - 0.05  # re-flooded within hours of -15 cm
    refloods = sum(1 for a, b in itertools.pairwise(levels) if b - a > 0.1)
    assert refloods >= 2
    root = sim_field.Field("ngo-1", 1, upland(state={"dr_mm": 0.0, "t_s": JAN_2026}))
    most = 0.0
    for t in range(JAN_2026, JAN_2026 + 60 * DAY, 3 * HOUR):
        root.sample(t)
        most = max(most, root.state()["dr_mm"])
    assert root.raw < most < root.raw + 8  # past RAW for less than a day of ETc


@pytest.mark.parametrize("auto", [True, False])
def test_upland_soil_moisture_stays_between_wilting_point_and_saturation(fw, auto) -> None:
    sim_field = fw("sim_field")
    field = sim_field.Field("ngo", 5, upland(auto_farmer=auto, state={"dr_mm": 0.0}))
    vwc = [s["soil_vwc"] for s in run(field, JAN_2026, 120, step=3 * HOUR)]
    noise = 0.5  # the probe's noise, sim_field.Field.sample
    assert 20.5 - noise <= min(vwc) and max(vwc) <= 33.5 + noise
    assert max(vwc) - min(vwc) > 5  # it does dry and wet again


# --- the host HAL: the node's kind, the farmer's pump file, the demo's clock ---------------


def host_hal(fw, tmp_path: Path, **settings: Any) -> Any:
    cfg = {"field": "ruong-1", "seed": 1, "state_dir": str(tmp_path), "rain_mm_per_tip": 0.2}
    return fw("hal_host").HostHAL({**cfg, **settings})


def test_the_host_hal_gives_the_pumped_water_to_the_field(fw, tmp_path: Path) -> None:
    sim = paddy(state={"level_m": -0.1, "t_s": JAN_2026}, auto_farmer=False)
    hal = host_hal(fw, tmp_path, sim=sim, sim_start=JAN_2026, sim_step_s=60, interval_s=1)
    hal.time_s()
    before = hal.field.state()["level_m"]
    (tmp_path / "sim_irrigate").write_text("50\n")
    hal.sim_s += 60
    hal.time_s()
    assert not (tmp_path / "sim_irrigate").exists()
    # 20 mm fill the pores up to the surface (porosity 0.2), 30 mm stand on it
    assert hal.field.state()["level_m"] == pytest.approx(0.03, abs=0.002)
    assert before < -0.09
    assert hal.carried()["sim"]["state"] == hal.field.state()  # a soft restart goes on


def test_the_host_hal_of_an_upland_node_has_no_echo(fw, tmp_path: Path) -> None:
    hal = host_hal(fw, tmp_path, kind="upland", sim=upland())
    assert hal.echo_us("level") == -1  # like a ranger that is not there
    assert "water_level" not in hal._now()
    paddy_hal = host_hal(fw, tmp_path, sim=upland(kind="paddy"))  # the node's kind wins
    assert paddy_hal.echo_us("level") > 0


def test_the_host_hal_runs_on_the_demo_clock(fw, tmp_path: Path) -> None:
    hal_module = fw("hal")
    real = hal_module.unix_time_s()
    clock = {"speed": 360, "start": JUL_2026, "origin": real - 10}
    t_s = host_hal(fw, tmp_path, clock=clock).time_s()
    assert JUL_2026 + 3600 <= t_s <= JUL_2026 + 3600 + 360 * 5  # 10 real s = 1 site hour


def test_make_sensors_leaves_the_ranger_off_an_upland_node(fw) -> None:
    app, drivers = fw("app"), fw("drivers")
    names = [n for names, _ in app.make_sensors(drivers, None, "upland") for n in names]
    assert "water_level" not in names and "soil_vwc" in names
    assert "water_level" in [n for ns, _ in app.make_sensors(drivers) for n in ns]


# --- the real firmware on MicroPython -------------------------------------------------------


@pytest.mark.micropython
def test_an_upland_node_reports_no_water_level(mp, udp_peer, tmp_path: Path) -> None:
    from test_main import gateway_like

    peer = udp_peer(gateway_like)
    config = write_config(
        tmp_path,
        gateway=f"coap://127.0.0.1:{peer.port}",
        cycles=2,
        kind="upland",
        sim=upland(),
        host_drivers=True,
        sim_start=JAN_2026,
        sim_step_s=900,
    )
    proc = mp.main(config, heap="96k")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    lines = reports(proc.stdout)
    assert len(lines) == 2
    for line in lines:
        assert "water_level" not in line["values"] and "water_level" not in line["flags"]
        assert 20 <= line["values"]["soil_vwc"] <= 34


@pytest.mark.micropython
def test_a_node_of_no_known_kind_is_refused(mp, tmp_path: Path) -> None:
    proc = mp.main(write_config(tmp_path, kind="orchard"))
    assert proc.returncode == 2 and "'kind'" in proc.stderr
    assert not os.path.exists(tmp_path / "state" / "outbox")
