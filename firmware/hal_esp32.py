"""ESP32 board HAL on `machine`: ADC1 pins, I2C(0), a 1-Wire bus, an ultrasonic ranger, the
rain gauge's reed switch, RTC memory and deep sleep. Only imported when sys.platform is
"esp32" (it compiles everywhere; `machine` exists only on a board).

Rain tips are counted two ways, both into RTC memory (which survives deep sleep, not power
loss): while awake, a falling-edge interrupt through drivers.debounce; while asleep, the
reed switch is an ext0 wake source, and `boot()` counts the tip and goes back to sleep
without a sampling cycle (booting takes far longer than any contact bounce).
"""

import struct
import time

import board_pins
import drivers
from compat import const
from hal import HAL

try:
    import machine
    import onewire
except ImportError:  # not a board: the module still compiles and imports for type checks
    machine = None  # type: ignore[assignment]
    onewire = None  # type: ignore[assignment]

# Pins come from hardware/pins/<board>.csv through the generated board_pins module
# (python -m hardware.pinmap), checked there: analog inputs on ADC1 only (ADC2 is unusable
# while Wi-Fi is on), the rain switch on an RTC GPIO (ext0 wake), no strapping-pin inputs.
PINS = board_pins.PINS
# The switched sensor rail (hardware/wiring.md) is off in deep sleep; after switching it on,
# wait for the slowest sensor to settle (typical, measure yours). hardware/power_profiles.toml
# uses the same figure.
SENSOR_SETTLE_MS = const(500)
RTC_MAGIC = 0x52554F4E  # "RUON": RTC memory holds our counter, not leftovers
_RTC_FORMAT = "<III"  # magic, rain pulses, next cycle due (Unix s)


class Esp32HAL(HAL):
    name = "esp32"

    def __init__(self, settings, wlan=None, pins=PINS):
        self.pins = pins
        self.wlan = wlan
        self.power = None
        if "sensor_power" in pins:  # P-MOSFET gate: low = sensors on
            self.power = machine.Pin(pins["sensor_power"], machine.Pin.OUT, value=0)
            time.sleep_ms(SENSOR_SETTLE_MS)
        self.adcs = {}
        for channel in ("soil", "leaf", "battery"):
            adc = machine.ADC(machine.Pin(pins[channel]))
            adc.atten(machine.ADC.ATTN_11DB)  # full scale ~2.45 V
            self.adcs[channel] = adc
        self.i2c = machine.I2C(0, scl=machine.Pin(pins["scl"]), sda=machine.Pin(pins["sda"]))
        self.ow = onewire.OneWire(machine.Pin(pins["onewire"]))
        self.trig = machine.Pin(pins["level_trig"], machine.Pin.OUT, value=0)
        self.echo = machine.Pin(pins["level_echo"], machine.Pin.IN)
        self.rain_pin = machine.Pin(pins["rain"], machine.Pin.IN, machine.Pin.PULL_UP)
        self.rtc = machine.RTC()
        self.rain = [self._rtc_load()[0], None]  # drivers.debounce state: [count, last ms]
        self.rain_pin.irq(self._on_tip, machine.Pin.IRQ_FALLING)

    # -- RTC memory: survives deep sleep ------------------------------------------------------
    def _rtc_load(self):
        raw = self.rtc.memory()
        if len(raw) == struct.calcsize(_RTC_FORMAT):
            magic, pulses, due_s = struct.unpack(_RTC_FORMAT, raw)
            if magic == RTC_MAGIC:
                return pulses, due_s
        return 0, 0

    def _rtc_store(self, pulses, due_s):
        self.rtc.memory(struct.pack(_RTC_FORMAT, RTC_MAGIC, pulses, due_s))

    def _on_tip(self, pin):
        if drivers.debounce(self.rain, time.ticks_ms()):
            self._rtc_store(self.rain[0], self._rtc_load()[1])

    def boot(self):
        """Call first thing after a reset: True when this wake was only a rain tip (it has
        been counted and the board has gone back to sleep, so this never returns True)."""
        if machine.reset_cause() != machine.DEEPSLEEP_RESET:
            return False
        if machine.wake_reason() != machine.EXT0_WAKE:
            return False
        pulses, due_s = self._rtc_load()
        self._rtc_store(pulses + 1, due_s)
        remaining_s = due_s - self.time_s()
        if remaining_s <= 0:
            return False  # the cycle is due anyway
        while not self.rain_pin.value():
            time.sleep_ms(5)  # wait until the bucket has swung past the switch
        self.sleep_s(remaining_s)
        return True

    # -- primitives -----------------------------------------------------------------------
    def adc_raw(self, channel):
        return self.adcs[channel].read()

    def adc_uv(self, channel):
        return self.adcs[channel].read_uv()

    def i2c_writeto(self, addr, data):
        self.i2c.writeto(addr, data)

    def i2c_readfrom(self, addr, n):
        return self.i2c.readfrom(addr, n)

    def i2c_readfrom_mem(self, addr, reg, n):
        return self.i2c.readfrom_mem(addr, reg, n)

    def ow_reset(self):
        return bool(self.ow.reset())

    def ow_write(self, data):
        self.ow.write(data)

    def ow_read(self, n):
        buf = bytearray(n)
        self.ow.readinto(buf)
        return bytes(buf)

    def echo_us(self, channel):
        self.trig.value(1)
        time.sleep_us(10)  # JSN-SR04T: >= 10 us trigger pulse
        self.trig.value(0)
        return machine.time_pulse_us(self.echo, 1, 40000)  # 40 ms: ~6.8 m round trip

    def pulses_take(self, channel):
        state = machine.disable_irq()
        try:
            count = self.rain[0]
            self.rain[0] = 0
            self._rtc_store(0, self._rtc_load()[1])
        finally:
            machine.enable_irq(state)
        return count

    def pulses_peek(self, channel):
        return self.rain[0]

    def rssi(self):
        if self.wlan is None or not self.wlan.isconnected():
            return None
        return int(self.wlan.status("rssi"))

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def sleep_s(self, seconds):
        """Deep sleep until the next cycle, waking early (ext0) on a rain tip."""
        import esp32

        self._rtc_store(self.rain[0], self.time_s() + int(seconds))
        if self.power is not None:
            self.power.value(1)  # sensors off; the gate pull-up keeps them off while asleep
        esp32.wake_on_ext0(self.rain_pin, esp32.WAKEUP_ALL_LOW)
        machine.deepsleep(int(seconds * 1000))
