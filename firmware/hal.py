"""Hardware abstraction: the few primitives the drivers need, behind one small interface.

Channels are named ("soil", "leaf", "battery", "level", "rain"); each board maps names to
pins (hal_esp32.PINS, from board_pins.py, generated from hardware/pins/*.csv).
`hal_esp32.Esp32HAL` is the board (`machine`, RTC memory, deep sleep); `hal_host.HostHAL`
(unix port, `ruong sim`, tests) feeds the same primitives from a simulated field at the raw
level, so the drivers run for real.
Nothing above `drivers` knows which board it runs on.
"""

import sys
import time

# MicroPython ports whose epoch is 2000-01-01 (the ESP32) report time.time() 946684800 s
# short of Unix time.
EPOCH_2000_OFFSET_S = 946684800


def unix_time_s():
    """Unix seconds (int), whatever the port's epoch."""
    now = int(time.time())
    if time.gmtime(0)[0] == 2000:
        now += EPOCH_2000_OFFSET_S
    return now


class HAL:
    """Interface every board implements. Beyond the methods below, a board provides
    (kept out of this class so their stubs cost no RAM on a 64 kB heap):

    adc_raw(channel) -> int           ADC reading in counts (ESP32: 12-bit, 0..4095)
    adc_uv(channel) -> int            ADC reading in microvolts (board-calibrated)
    i2c_writeto(addr, data)           OSError when the device does not acknowledge
    i2c_readfrom(addr, n) -> bytes
    i2c_readfrom_mem(addr, reg, n) -> bytes
    ow_reset() -> bool                1-Wire reset; True when a device sent presence
    ow_write(data); ow_read(n) -> bytes
    echo_us(channel) -> int           ultrasonic round trip, us; < 0 on timeout
    pulses_take(channel) -> int       debounced pulses since the last call, then zeroed;
                                      survives deep sleep (RTC memory / a host file)
    pulses_peek(channel) -> int       the same count, not zeroed (`ruong node check`)
    """

    name = "abstract"
    sleep_resets = False  # sleep_s is a deep sleep, which ends in a reset (the board)

    def time_s(self):
        """Current time, Unix seconds (int)."""
        return unix_time_s()

    def rssi(self):
        """Radio signal strength in dBm, None without a link."""
        return

    def sleep_ms(self, ms):
        """Busy-wait-free short delay (a sensor conversion)."""
        time.sleep(ms / 1000)

    def sleep_s(self, seconds):
        """Wait `seconds` between cycles (deep sleep on the board)."""
        time.sleep(seconds)

    def network_up(self):
        """Bring the uplink network up within the cycle's budget; True when it is up. The
        board also sets its clock from NTP here when it is unset or due (hal_esp32). Host:
        always up."""
        return True

    def carried(self):
        """Settings a soft restart hands to the next HAL (app.main, after a config downlink):
        what a board keeps across its reset in the RTC. The board: nothing (its RTC runs on);
        the host's simulated clock: where it got to."""
        return {}

    def watchdog_feed(self):
        """Feed the hardware watchdog (board: machine.WDT, timeout hal_esp32.watchdog_s(settings),
        longer than any stretch between feeds: cycle start, Wi-Fi waits, each uplink); a
        no-op on the host."""
        return


def sim_advance_s(step_s, interval_s, seconds):
    """Simulated seconds a `seconds` sleep stands for: `step_s` per configured interval, so
    a duty-cycle interval half as long advances the simulated clock half as far (s)."""
    if not interval_s:
        return step_s
    return round(step_s * seconds / interval_s)


class FieldHAL(HAL):
    """Host shortcut around the drivers: the simulated field's values as they are, for
    `ruong sim` under -X heapsize=64k, where the raw-level HostHAL + drivers do not fit on the
    64-bit unix port (firmware/README.md, "RAM"). Same clock as HostHAL."""

    name = "field"

    def __init__(self, settings):
        import sim_field

        self.field = sim_field.Field(settings["field"], settings.get("seed", 0))
        self.step_s = settings.get("sim_step_s", 0)
        self.start_s = settings.get("sim_start") or unix_time_s()
        self.interval_s = settings.get("interval_s", 0)
        self.sim_s = 0  # simulated seconds since start_s

    def time_s(self):
        return self.start_s + self.sim_s if self.step_s else unix_time_s()

    def sleep_s(self, seconds):
        self.sim_s += sim_advance_s(self.step_s, self.interval_s, seconds)
        time.sleep(seconds)

    def carried(self):
        return {"sim_start": self.start_s + self.sim_s} if self.step_s else {}

    def read(self, t_s):
        """{name: value} at Unix second `t_s`, no flags (every simulated sensor works)."""
        return self.field.sample(t_s), {}


def for_this_board(settings):
    """The HAL for the running platform: Esp32HAL on the board; on the host HostHAL (raw
    primitives, real drivers) with `host_drivers`, else FieldHAL."""
    if sys.platform == "esp32":
        import hal_esp32

        return hal_esp32.Esp32HAL(settings)
    if not settings.get("host_drivers"):
        return FieldHAL(settings)
    import hal_host

    return hal_host.HostHAL(settings)
