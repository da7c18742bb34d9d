"""The power budget: checked against a case worked on paper, monotone in what should make it
monotone, and honest about what it cannot compute."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hardware import power
from hardware.power import (
    Board,
    NodeConstants,
    PowerError,
    Profiles,
    Sensor,
    Transport,
    estimate,
    load_profiles,
)

FIRMWARE_HAL = Path(__file__).resolve().parents[2] / "firmware" / "hal_esp32.py"


@pytest.fixture
def paper() -> Profiles:
    """A made-up node simple enough to compute by hand (see test_matches_the_hand_calculation)."""
    return Profiles(
        boards={"b": Board("b", "", sleep_ma=0.01, active_ma=50.0, radios=("wifi",))},
        sensors={"s": Sensor("s", "", active_ma=10.0, measure_s=0.5, static_ua=5.0)},
        transports={"t": Transport("t", "", "wifi", radio_on_s=2.0, radio_ma=100.0, sleep_ua=0)},
        node=NodeConstants(
            sensor_settle_s=0.5,
            boot_s=1.0,
            ldo_quiescent_ua=5.0,
            battery_nominal_v=3.7,
            usable_fraction=0.8,
            self_discharge_pct_per_month=3.0,
            panel_derate=0.8,
            charger_efficiency=0.85,
            peak_sun_hours=(3.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 4.0, 4.0, 3.0, 3.0),
        ),
    )


def test_matches_the_hand_calculation(paper: Profiles) -> None:
    """Worked on paper, interval 600 s, battery 1000 mAh, panel 1 W:

    sensing window = settle 0.5 + reading 0.5              = 1.0 s
    awake          = boot 1.0 + sensing 1.0 + radio 2.0      = 4.0 s
    boot     50 mA x 1.0 s                                   =  50    mA*s
    sensing  (50 + 10) mA x 1.0 s                            =  60    mA*s
    radio    (50 + 100) mA x 2.0 s                           = 300    mA*s
    sleep    0.01 mA x (600 - 4) s                           =   5.96 mA*s
    static   (5 uA LDO + 5 uA sensor) x 600 s                =   6    mA*s
    per cycle                                                = 421.96 mA*s
    per day  421.96 x (86400 / 600 = 144 cycles) / 3600      =  16.8784 mAh/day
    average  16.8784 / 24                                    =   0.703267 mA
    self-discharge 1000 x 3 % / 30.44 d                      =   0.985545 mAh/day
    life without sun  (1000 x 0.8) / (16.8784 + 0.985545)   =  44.7829 days
    worst month Feb (2.0 h): 1 W x 2.0 h x 0.8 x 0.85 / 3.7 V = 367.568 mAh/day
    net in Feb  367.568 - 16.8784 - 0.985545                 = 349.704 mAh/day
    """
    e = estimate("b", ["s"], "t", interval_s=600, battery_mah=1000, panel_w=1.0, profiles=paper)
    assert e.awake_s == pytest.approx(4.0)
    assert e.daily_breakdown_mah["boot"] == pytest.approx(50 * 144 / 3600)
    assert e.daily_breakdown_mah["sleep"] == pytest.approx(5.96 * 144 / 3600)
    assert e.daily_mah == pytest.approx(16.8784, rel=1e-6)
    assert e.avg_current_ma == pytest.approx(0.703267, rel=1e-5)
    assert e.self_discharge_mah_per_day == pytest.approx(0.985545, rel=1e-5)
    assert e.usable_mah == pytest.approx(800)
    assert e.life_days_no_sun == pytest.approx(44.7829, rel=1e-5)
    assert e.worst_month == 2
    assert e.harvest_mah_per_day[1] == pytest.approx(367.568, rel=1e-5)
    assert e.net_mah_per_day[1] == pytest.approx(349.704, rel=1e-5)
    assert e.energy_neutral


def test_the_duty_cycles_fast_hours_match_the_hand_calculation(paper: Profiles) -> None:
    """The same node, 6 h/day at the fast interval of 600 / 3 = 200 s:

    cycles   18 h x 3600 / 600 = 108, plus 6 h x 3600 / 200 = 108      = 216 reports/day
    fast cycle  boot 50 + sensing 60 + radio 300 + sleep 0.01 x (200 - 4) = 1.96
                + static 10 uA x 200 s = 2                             = 413.96 mA*s
    per day  (108 x 421.96 + 108 x 413.96) / 3600                      = 25.0776 mAh/day
    """
    e = estimate("b", ["s"], "t", 600, 1000, 1.0, paper, fast_hours_per_day=6)
    assert e.fast_interval_s == 200
    assert e.reports_per_day == pytest.approx(216)
    assert e.daily_mah == pytest.approx(25.0776, rel=1e-6)
    assert e.daily_breakdown_mah["radio"] == pytest.approx(300 * 216 / 3600)
    # the whole day fast is the same as a 200 s interval; no fast hours, the plain budget
    whole = estimate("b", ["s"], "t", 600, 1000, 1.0, paper, fast_hours_per_day=24)
    assert whole.daily_mah == pytest.approx(
        estimate("b", ["s"], "t", 200, profiles=paper).daily_mah
    )
    plain = estimate("b", ["s"], "t", 600, 1000, 1.0, paper, fast_interval_s=5)
    assert plain.daily_mah == pytest.approx(16.8784, rel=1e-6)


def test_rain_tip_wakes_match_the_hand_calculation(paper: Profiles) -> None:
    """2.794 mm/day at 0.2794 mm/tip = 10 tips, each a boot: 50 mA x 1.0 s = 50 mA*s;
    10 x 50 / 3600 = 0.138889 mAh/day on top of the 16.8784 of the plain budget."""
    e = estimate("b", ["s"], "t", 600, 1000, 1.0, paper, rain_mm_per_day=2.794)
    assert e.daily_breakdown_mah["rain_wakes"] == pytest.approx(0.138889, rel=1e-5)
    assert e.daily_mah == pytest.approx(16.8784 + 0.138889, rel=1e-6)
    assert estimate("b", ["s"], "t", 600, profiles=paper).daily_breakdown_mah["rain_wakes"] == 0


def test_more_fast_hours_cost_more() -> None:
    daily = [estimate(fast_hours_per_day=h).daily_mah for h in (0, 3, 6, 12, 24)]
    assert daily == sorted(daily) and len(set(daily)) == len(daily)


def test_a_small_panel_is_not_energy_neutral(paper: Profiles) -> None:
    """Feb harvest at 0.04 W: 0.04 x 2 x 0.8 x 0.85 / 3.7 x 1000 = 14.70 mAh/day < 17.86."""
    e = estimate("b", ["s"], "t", 600, 1000, panel_w=0.04, profiles=paper)
    assert e.net_mah_per_day[1] == pytest.approx(14.7027 - 16.8784 - 0.985545, rel=1e-4)
    assert not e.energy_neutral
    assert not estimate("b", ["s"], "t", 600, 1000, panel_w=0, profiles=paper).energy_neutral


def test_a_longer_interval_lasts_longer() -> None:
    lives = [estimate(interval_s=s).life_days_no_sun for s in (300, 600, 900, 1800, 3600)]
    assert lives == sorted(lives) and len(set(lives)) == len(lives)
    currents = [estimate(interval_s=s).avg_current_ma for s in (300, 900, 3600)]
    assert currents[0] > currents[1] > currents[2]


def test_more_battery_lasts_longer_and_more_sensors_cost_more() -> None:
    assert estimate(battery_mah=2600).life_days_no_sun < estimate(battery_mah=5200).life_days_no_sun
    base = estimate()
    more = estimate(sensors=(*power.DEFAULT_SENSORS, "ds18b20"))
    assert more.daily_mah > base.daily_mah


def test_the_bare_module_sleeps_far_below_the_devkit() -> None:
    """DevKitC's USB bridge + LED (~4 mA) dominate; the bare module is ~10x better."""
    devkit = estimate("esp32-devkitc")
    bare = estimate("esp32-wroom")
    assert devkit.avg_current_ma > 5 * bare.avg_current_ma
    assert devkit.daily_breakdown_mah["sleep"] > devkit.daily_breakdown_mah["radio"]


def test_default_paddy_node_lists_its_assumptions() -> None:
    e = estimate()
    assert e.board == "esp32-devkitc" and e.transport == "wifi-coap" and e.interval_s == 900
    assert e.worst_month == 2  # February: the drizzle season in the Red River delta
    text = "\n".join(e.assumptions)
    for needle in ("esp32-devkitc", "jsn-sr04t", "wifi-coap", "peak sun hours", "HT7833"):
        assert needle in text


def test_impossible_requests_are_refused() -> None:
    with pytest.raises(PowerError, match="unknown board"):
        estimate("esp8266")
    with pytest.raises(PowerError, match="no nbiot radio"):
        estimate("esp32-devkitc", transport="nbiot-coap")
    with pytest.raises(PowerError, match="not longer than"):
        estimate(interval_s=3)
    with pytest.raises(PowerError):
        estimate(battery_mah=0)
    with pytest.raises(PowerError, match="rain_mm_per_day must be >= 0"):
        estimate(rain_mm_per_day=-1)
    with pytest.raises(PowerError, match="not within 0..24"):
        estimate(fast_hours_per_day=25)
    with pytest.raises(PowerError, match="fast interval 3 s is not longer"):
        estimate(fast_hours_per_day=1, fast_interval_s=3)
    assert estimate("lilygo-t-sim7080g", transport="nbiot-coap").daily_mah > 0


def test_the_profiles_settle_time_is_the_firmwares() -> None:
    """power_profiles.toml's sensor_settle_s mirrors hal_esp32.SENSOR_SETTLE_MS."""
    match = re.search(r"SENSOR_SETTLE_MS = const\((\d+)\)", FIRMWARE_HAL.read_text())
    assert match, "hal_esp32.SENSOR_SETTLE_MS not found"
    assert load_profiles().node.sensor_settle_s == int(match.group(1)) / 1000


def test_main_prints_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert power.main([]) == 0
    out = capsys.readouterr().out
    assert "average current" in out and "battery life, no sun" in out
    assert "bare module (esp32-wroom)" in out
    assert "Assumptions:" in out and "NASA POWER" in out
    assert power.main(["--fast-hours", "6"]) == 0
    out = capsys.readouterr().out
    assert "one report every 900 s (15 min), 6 h/day every 300 s" in out
    assert "144 reports/day" in out
    assert power.main(["--rain-mm", "20"]) == 0
    assert "rain: 20 mm/day at 0.2794 mm/tip" in capsys.readouterr().out
    assert power.main(["--board", "nope"]) == 2
    assert "unknown board" in capsys.readouterr().err
