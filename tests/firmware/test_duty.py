"""Duty cycle (firmware/duty.py), the board's backoff and Wi-Fi connect
loop and watchdog timeout, on the real MicroPython unix port."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from firmware_helpers import reports, write_config

pytestmark = pytest.mark.micropython

BASE = {
    "node": "n0a1b2c3d",
    "key": "00" * 32,
    "transport": "coap",
    "gateway": "coap://127.0.0.1:5683",
    "field": "ruong-1",
    "interval_s": 900,
    "cycles": 0,
    "state_dir": "/tmp/unused",
}

DUTY_SCRIPT = """
import json, config, duty
cases = json.loads(%r)
out = []
for extra, values, state in cases:
    cfg = dict(json.loads(%r))
    cfg.update(extra)
    settings = config.parse_config(cfg)
    out.append(list(duty.next_interval_s(settings, values, state)) + [state])
print(json.dumps(out))
"""


def choose(mp, cases: list) -> list:
    """[(config overrides, values, state)] -> [[seconds, why, state after]] on MicroPython."""
    out = mp.run(DUTY_SCRIPT % (json.dumps(cases), json.dumps(BASE))).stdout
    return json.loads(out.splitlines()[-1])


CALM = {"battery": 3.9, "rain": 0.0, "soil_vwc": 40.0, "water_level": 0.03}


def calm(**change: float) -> dict:
    return dict(CALM, **change)


def test_each_rule_with_the_defaults(mp) -> None:
    cases = [
        ({}, calm(), {}),
        ({}, calm(rain=0.3), {}),
        ({}, calm(soil_vwc=26.9), {}),  # within 2 % of 25 %
        ({}, calm(soil_vwc=23.1), {}),
        ({}, calm(soil_vwc=27.5), {}),  # not near
        ({}, calm(water_level=-0.12), {}),  # within 3 cm of -0.15 m
        ({}, calm(water_level=-0.179), {}),
        ({}, calm(water_level=-0.10), {}),
        ({}, calm(battery=3.45), {}),
        ({}, calm(battery=3.45, rain=5.0), {}),  # the battery wins over rain
        ({}, calm(battery=3.2, rain=5.0), {}),
        ({}, {}, {}),  # every sensor failed: normal
    ]
    got = [(s, why) for s, why, _ in choose(mp, cases)]
    assert got == [
        (900, "normal"),
        (300, "rain"),
        (300, "soil_vwc"),
        (300, "soil_vwc"),
        (900, "normal"),
        (300, "water_level"),
        (300, "water_level"),
        (900, "normal"),
        (1800, "battery_low"),
        (1800, "battery_low"),
        (3600, "battery_critical"),
        (900, "normal"),
    ]


def test_by_default_no_two_samples_share_a_second(mp) -> None:
    # samples are stamped in whole seconds: the fast interval's default floor is 1 s, unless
    # the configured interval is itself shorter (tests) or the floor is set explicitly
    cases = [
        ({"interval_s": 1.5}, calm(rain=1.0), {}),
        ({"interval_s": 0.3}, calm(rain=1.0), {}),
        ({"interval_s": 1.5, "interval_min_s": 0.2}, calm(rain=1.0), {}),
    ]
    got = [(s, why) for s, why, _ in choose(mp, cases)]
    assert got == [(1.0, "rain"), (0.3, "rain"), (0.5, "rain")]


def test_a_missing_battery_reading_uses_the_last_one(mp) -> None:
    values = calm(rain=1.0)
    del values["battery"]
    (seconds, why, state), (_, _, kept) = choose(
        mp, [({}, values, {"battery": 3.4}), ({}, calm(battery=3.8), {"battery": 3.4})]
    )
    assert (seconds, why) == (1800, "battery_low")
    assert state == {"battery": 3.4} and kept == {"battery": 3.8}


def test_configured_thresholds_and_intervals(mp) -> None:
    tuned = {
        "interval_fast_s": 120,
        "interval_low_s": 2400,
        "interval_critical_s": 7200,
        "interval_max_s": 7200,
        "battery_low_v": 3.6,
        "battery_critical_v": 3.4,
        "soil_vwc_alert": 30.0,
        "soil_vwc_near": 1.0,
        "water_level_alert_m": -0.2,
        "water_level_near_m": 0.01,
    }
    cases = [
        (tuned, calm(rain=0.2), {}),
        (tuned, calm(soil_vwc=30.9), {}),
        (tuned, calm(soil_vwc=28.5), {}),
        (tuned, calm(water_level=-0.205), {}),
        (tuned, calm(water_level=-0.15), {}),
        (tuned, calm(battery=3.55), {}),
        (tuned, calm(battery=3.39), {}),
    ]
    got = [(s, why) for s, why, _ in choose(mp, cases)]
    assert got == [
        (120, "rain"),
        (120, "soil_vwc"),
        (900, "normal"),
        (120, "water_level"),
        (900, "normal"),
        (2400, "battery_low"),
        (7200, "battery_critical"),
    ]


def test_bounds_clamp_the_chosen_interval(mp) -> None:
    bounded = {"interval_fast_s": 10, "interval_min_s": 60, "interval_max_s": 1200}
    cases = [
        (bounded, calm(rain=1.0), {}),  # 10 s -> min 60 s
        (bounded, calm(battery=3.4), {}),  # 1800 s -> max 1200 s
        (bounded, calm(battery=3.0), {}),  # 3600 s -> max 1200 s
        (bounded, calm(), {}),
    ]
    got = [(s, why) for s, why, _ in choose(mp, cases)]
    assert got == [(60, "rain"), (1200, "battery_low"), (1200, "battery_critical"), (900, "normal")]


@pytest.mark.parametrize(
    ("change", "bad_key"),
    [
        ({"interval_fast_s": 1000}, "interval_fast_s"),  # longer than interval_s
        ({"interval_low_s": 600}, "interval_low_s"),
        ({"interval_critical_s": 1000}, "interval_critical_s"),  # shorter than low (1800)
        ({"interval_min_s": 1000}, "interval_min_s"),
        ({"interval_max_s": 600}, "interval_max_s"),
        ({"battery_critical_v": 3.6}, "battery_critical_v"),  # above battery_low_v
        ({"battery_low_v": "3.5"}, "battery_low_v"),
        ({"soil_vwc_near": -1}, "soil_vwc_near"),
        ({"water_level_near_m": True}, "water_level_near_m"),
        ({"wifi_ssid": 5}, "wifi_ssid"),
        ({"wifi_budget_s": 0}, "wifi_budget_s"),
    ],
)
def test_bad_duty_config_exits_2_naming_the_key(
    mp, tmp_path: Path, change: dict, bad_key: str
) -> None:
    proc = mp.main(write_config(tmp_path, interval_s=900, **change))
    assert proc.returncode == 2
    assert f"'{bad_key}'" in proc.stderr
    assert proc.stdout == ""


def test_report_line_shows_the_next_interval_and_why(mp, tmp_path: Path) -> None:
    from ruong.services import free_port

    # simulated field at fixed times: a normal cycle and one near the AWD re-flood level
    config = write_config(
        tmp_path,
        gateway=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        ack_timeout_s=0.02,
        max_retransmit=0,
        interval_s=6,
        cycles=1,
        soil_vwc_alert=0.0,  # keep the soil rule out of the way
        water_level_alert_m=-0.15,
        water_level_near_m=0.5,  # every paddy level counts as near
    )
    near = reports(mp.main(config).stdout)
    assert [(r["next_s"], r["why"]) for r in near] == [(2.0, "water_level")]
    config = write_config(
        tmp_path,
        gateway=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        ack_timeout_s=0.02,
        max_retransmit=0,
        interval_s=0.2,
        cycles=2,
        battery_low_v=4.5,  # the simulated battery (3.6..4.2 V) is always "low"
        battery_critical_v=3.0,
    )
    low = reports(mp.main(config).stdout)
    assert [(r["next_s"], r["why"]) for r in low] == [(0.4, "battery_low")] * 2


SIM_CLOCK_SCRIPT = """
import json, hal
print(json.dumps([hal.sim_advance_s(900, 900, 300), hal.sim_advance_s(900, 0.3, 0.1),
                  hal.sim_advance_s(900, 0, 0), hal.sim_advance_s(900, 900, 1800)]))
"""


def test_the_simulated_clock_follows_the_chosen_interval(mp) -> None:
    out = json.loads(mp.run(SIM_CLOCK_SCRIPT).stdout.splitlines()[-1])
    assert out == [300, 300, 900, 1800]


# hal_esp32 compiled from source on a 64-bit port: the board imports it as .mpy, where 64 kB
# is plenty; these scripts test its pure functions only
BOARD_SCRIPT_HEAP = "256k"

BACKOFF_SCRIPT = """
import json, hal_esp32
d = hal_esp32.delay_ms
print(json.dumps([
    [d(a, 500, 1.0, 0.0, 8000) for a in range(6)],
    [d(a, 500, 1.0, 1.0, 8000) for a in range(6)],
    [d(a, 2000, 0.5, 0.5) for a in range(5)],
    min(hal_esp32.random_fraction() for _ in range(200)) >= 0,
    max(hal_esp32.random_fraction() for _ in range(200)) <= 1,
]))
"""


def test_backoff_doubles_with_jitter_up_to_the_cap(mp) -> None:
    low, high, coap, lo_ok, hi_ok = json.loads(
        mp.run(BACKOFF_SCRIPT, heap=BOARD_SCRIPT_HEAP).stdout.splitlines()[-1]
    )
    assert low == [500, 1000, 2000, 4000, 8000, 8000]
    assert high == [1000, 2000, 4000, 8000, 8000, 8000]
    assert coap == [2500, 5000, 10000, 20000, 40000]  # RFC 7252: fixed factor, doubled
    assert lo_ok and hi_ok


WIFI_SCRIPT = """
import json, hal_esp32

class Clock:
    def __init__(self):
        self.now = 0
        self.slept = []
    def ticks_ms(self):
        return self.now
    def ticks_diff(self, a, b):
        return a - b
    def sleep_ms(self, ms):
        self.now += ms
        self.slept.append(ms)

class WLAN:
    def __init__(self, clock, up_after):  # up_after: connect() calls before it links
        self.clock = clock
        self.up_after = up_after
        self.calls = []
        self.linked_at = None
    def connect(self, ssid, password):
        self.calls.append(("connect", ssid, password, self.clock.now))
        if len(self.calls) // 2 + 1 >= self.up_after:
            self.linked_at = self.clock.now + 1500  # association + DHCP
    def disconnect(self):
        self.calls.append(("disconnect", self.clock.now))
        self.linked_at = None
    def isconnected(self):
        return self.linked_at is not None and self.clock.now >= self.linked_at

out = []
for up_after, budget in ((0, 20000), (3, 60000), (99, 20000), (99, 5000)):
    clock = Clock()
    wlan = WLAN(clock, up_after or 99)
    if up_after == 0:
        wlan.linked_at = 0  # already associated
    ok = hal_esp32.wifi_connect(wlan, "ruong", "pw", budget, clock)
    connects = [c[3] for c in wlan.calls if c[0] == "connect"]
    waits = [ms for ms in clock.slept if ms > hal_esp32.WIFI_POLL_MS]  # backoff >= 500 ms
    out.append([ok, clock.now, connects, waits])
print(json.dumps(out))
"""


def test_wifi_connect_backs_off_and_respects_the_budget(mp) -> None:
    already, third, dead, short = json.loads(
        mp.run(WIFI_SCRIPT, heap=BOARD_SCRIPT_HEAP).stdout.splitlines()[-1]
    )
    assert already == [True, 0, [], []]
    ok, elapsed, connects, waits = third
    assert ok and len(connects) == 3
    # 6 s per attempt, then 500..1000 ms, then 1000..2000 ms of jittered backoff
    assert 500 <= waits[0] <= 1000 and 1000 <= waits[1] <= 2000
    assert elapsed == connects[2] + 1500
    ok, elapsed, connects, waits = dead
    assert not ok and elapsed <= 20000  # a dead AP: given up inside the budget
    assert len(connects) == 3 and waits == sorted(waits)
    ok, elapsed, connects, waits = short
    assert not ok and elapsed <= 5000 and len(connects) == 1


WATCHDOG_SCRIPT = """
import json, config, hal_esp32
base = json.loads(%r)
out = [hal_esp32.watchdog_s(config.parse_config(base))]
base.update({"ack_timeout_s": 0.05, "max_retransmit": 1, "wifi_budget_s": 5})
out.append(hal_esp32.watchdog_s(config.parse_config(base)))
print(json.dumps(out))
"""


def test_watchdog_outlasts_the_worst_case_cycle(mp) -> None:
    default, tight = json.loads(
        mp.run(WATCHDOG_SCRIPT % json.dumps(BASE), heap=BOARD_SCRIPT_HEAP).stdout.splitlines()[-1]
    )
    # defaults: 20 s Wi-Fi + 2 s x 1.5 x 31 (CoAP, 4 retransmissions) + 30 s separate
    # response + 60 s margin
    assert default == 20 + 93 + 30 + 60 + 1
    assert tight == 5 + int(1.0 * 1.5 * 3) + 30 + 60 + 1
