"""Hardware abstraction: the sensors, the clock and the battery, behind one small interface.

`HostHAL` (MicroPython unix port, CPython tests, `ruong sim`) reads a simulated field;
`ESP32HAL` is the board. Both give `time_s()` (Unix seconds, int) and `read()`
({quantity name: value} in vocabulary units, see senml.QUANTITIES). Drivers for the real
sensors plug into ESP32HAL; nothing above this module knows which board it runs on.
"""

import sys
import time

# MicroPython ports whose epoch is 2000-01-01 report time.time() 946684800 s short of Unix time.
EPOCH_2000_OFFSET_S = 946684800


def unix_time_s():
    """Unix seconds (int), whatever the port's epoch."""
    now = int(time.time())
    if time.gmtime(0)[0] == 2000:
        now += EPOCH_2000_OFFSET_S
    return now


class HAL:
    """Interface every board implements."""

    name = "abstract"

    def time_s(self):
        """Current time, Unix seconds (int)."""
        return unix_time_s()

    def read(self):
        """One reading of every sensor present: {name: value} (units in senml.QUANTITIES)."""
        raise NotImplementedError

    def sleep_s(self, seconds):
        """Wait `seconds` between cycles (deep sleep on the board, later)."""
        time.sleep(seconds)


class HostHAL(HAL):
    """The host (unix port / CPython): readings from a deterministic simulated field."""

    name = "host"

    def __init__(self, field, seed, clock=None):
        import sim_field  # only the host needs the simulator; keeps it off the board

        self.field = sim_field.Field(field, seed)
        self.clock = clock or unix_time_s

    def time_s(self):
        return self.clock()

    def read(self, t_s=None):
        """Simulated readings at `t_s` (Unix seconds; default now)."""
        return self.field.sample(self.time_s() if t_s is None else t_s)


class ESP32HAL(HAL):
    """The ESP32 board. Sensor drivers (soil probe, SHT/BME, rain gauge, water level) come in
    a later issue; today it reports what the bare board measures: battery and Wi-Fi RSSI.
    """

    name = "esp32"
    BATTERY_PIN = 35  # ADC1, behind a 1:2 divider on the reference board (hardware/)
    DIVIDER = 2.0

    def __init__(self, wlan=None):
        import machine

        self.adc = machine.ADC(machine.Pin(self.BATTERY_PIN))
        self.adc.atten(machine.ADC.ATTN_11DB)
        self.wlan = wlan

    def read(self):
        values = {"battery": round(self.adc.read_uv() * self.DIVIDER / 1e6, 3)}
        if self.wlan is not None:
            values["rssi"] = int(self.wlan.status("rssi"))
        return values


def for_this_board(field, seed):
    """The HAL for the running platform: ESP32HAL on the board, HostHAL elsewhere."""
    if sys.platform == "esp32":
        return ESP32HAL()
    return HostHAL(field, seed)
