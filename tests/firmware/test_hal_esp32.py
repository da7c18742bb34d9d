"""hal_esp32's rain wake on the MicroPython unix port, with `machine`, `esp32` and `onewire`
replaced by small fakes (no board here): a tip that wakes the board from deep sleep is counted
into RTC memory and the board sleeps again until the cycle is due, on the classic ESP32 (ext0
wake) and on the ESP32-C3 (deep-sleep GPIO wake, which `machine.wake_reason()` reports as
ESP-IDF's ESP_SLEEP_WAKEUP_GPIO, 7, a value `machine` gives no name)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from firmware_helpers import FIRMWARE_DIR

pytestmark = pytest.mark.micropython

FAKE_MACHINE = """
DEEPSLEEP_RESET = 4
PWRON_RESET = 1
EXT0_WAKE = 2
PIN_WAKE = 2
TIMER_WAKE = 4
state = {"reset": DEEPSLEEP_RESET, "wake": EXT0_WAKE, "slept_ms": None, "armed": None}


class Slept(Exception):
    pass


def reset_cause():
    return state["reset"]


def wake_reason():
    return state["wake"]


def deepsleep(ms):
    state["slept_ms"] = ms
    raise Slept()


class Pin:
    IN = 1
    OUT = 2
    PULL_UP = 3
    IRQ_FALLING = 4

    def __init__(self, n, mode=None, pull=None, value=None):
        self.v = 1  # the reed switch is open: the bucket has swung past

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v

    def irq(self, handler, trigger):
        pass


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin):
        pass

    def atten(self, attenuation):
        pass


class I2C:
    def __init__(self, *args, **kwargs):
        pass


class RTC:
    mem = b""

    def memory(self, data=None):
        if data is None:
            return RTC.mem
        RTC.mem = bytes(data)
"""

FAKE_ESP32 = {
    "esp32": """
import machine
WAKEUP_ALL_LOW = 0


def wake_on_ext0(pin, level):
    machine.state["armed"] = "ext0"
""",
    "esp32c3": """
import machine
WAKEUP_ALL_LOW = 0


def wake_on_gpio(pins, level):
    machine.state["armed"] = "gpio"
""",
}

SCRIPT = """
import json, struct, sys
sys.path.insert(0, {fakes!r})
sys.path.insert(1, {firmware!r})
import machine, hal_esp32
due = hal_esp32.unix_time_s() + {due_in}
rtc = machine.RTC()
hal_esp32.rtc_store(rtc, 5, due, 1234)  # five tips so far, the last NTP sync at 1234
machine.state["reset"] = {reset}
machine.state["wake"] = {wake}
try:
    what = ["returned", hal_esp32.rain_wake()]
except machine.Slept:
    what = ["slept", machine.state["slept_ms"]]
pulses, due_after, synced = hal_esp32.rtc_load(rtc)
assert (due_after, synced) == (due, 1234), "rain_wake changed more than the count"
hal = hal_esp32.Esp32HAL({{}})  # the cycle that runs next reads the count from RTC memory
print(json.dumps([what, pulses, machine.state["armed"], hal.pulses_peek("rain")]))
"""


def rain_wake(
    mp, tmp_path: Path, chip: str, wake: int, reset: int = 4, due_in: int = 600
) -> tuple[list, int, str, int]:
    """hal_esp32.rain_wake() after the given reset and wake reason, the next cycle due in
    `due_in` s: (what it did, RTC pulse count, the wake it armed, the HAL's count after)."""
    fakes = tmp_path / chip
    fakes.mkdir()
    (fakes / "machine.py").write_text(FAKE_MACHINE)
    (fakes / "esp32.py").write_text(FAKE_ESP32[chip])
    (fakes / "onewire.py").write_text(
        "class OneWire:\n    def __init__(self, pin):\n        pass\n"
    )
    script = SCRIPT.format(
        fakes=str(fakes), firmware=str(FIRMWARE_DIR), reset=reset, wake=wake, due_in=due_in
    )
    proc = mp.run(script)
    what, pulses, armed, hal_count = json.loads(proc.stdout.splitlines()[-1])
    return what, pulses, armed, hal_count


@pytest.mark.parametrize(("chip", "wake", "armed"), [("esp32", 2, "ext0"), ("esp32c3", 7, "gpio")])
def test_a_rain_tip_wake_is_counted_and_the_board_sleeps_on(
    mp, tmp_path: Path, chip: str, wake: int, armed: str
) -> None:
    what, pulses, armed_wake, _ = rain_wake(mp, tmp_path, chip, wake)
    assert what[0] == "slept" and 595_000 <= what[1] <= 600_000, what  # until the cycle is due
    assert pulses == 6  # the tip that woke it
    assert armed_wake == armed  # and the rain switch is armed again for the next tip


def test_a_tip_when_the_cycle_is_due_is_counted_and_the_cycle_runs(mp, tmp_path: Path) -> None:
    what, pulses, armed, hal_count = rain_wake(mp, tmp_path, "esp32c3", 7, due_in=-5)
    assert what == ["returned", False] and armed is None
    assert pulses == 6 and hal_count == 6  # the cycle's rain reading includes it


@pytest.mark.parametrize(
    ("wake", "reset"), [(4, 4), (2, 1)], ids=["timer wake: the cycle is due", "power-on reset"]
)
def test_any_other_start_runs_a_cycle_and_counts_nothing(
    mp, tmp_path: Path, wake: int, reset: int
) -> None:
    what, pulses, armed, hal_count = rain_wake(mp, tmp_path, "esp32", wake, reset)
    assert what == ["returned", False] and armed is None
    assert pulses == 5 and hal_count == 5
