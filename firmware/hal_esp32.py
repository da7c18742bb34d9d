"""ESP32 board HAL on `machine`: ADC1 pins, I2C(0), a 1-Wire bus, an ultrasonic ranger, the
rain gauge's reed switch, RTC memory and deep sleep. Only imported when sys.platform is
"esp32" (it compiles everywhere; `machine` exists only on a board).

Rain tips are counted two ways, both into RTC memory (which survives deep sleep, not power
loss): while awake, a falling-edge interrupt through drivers.debounce; while asleep, the
reed switch is a deep-sleep wake source (ext0, or GPIO wake on the C3), and `rain_wake()`,
which main.py calls before anything else is imported, counts the tip and goes back to sleep
without a sampling cycle (booting takes far longer than any contact bounce).
"""

import struct
import time

import board_pins
import drivers
from compat import const, random_uint
from hal import HAL, unix_time_s

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
_RTC_FORMAT = "<IIII"  # magic, rain pulses, next cycle due (Unix s), last NTP sync (Unix s)
# machine.wake_reason() returns ESP-IDF's esp_sleep_source_t (esp_sleep.h); `machine` names
# EXT0 (2) but not the deep-sleep GPIO wake the C3 uses for the rain switch
GPIO_WAKE = const(7)


def rtc_load(rtc):
    """(rain pulses, next cycle due Unix s, last NTP sync Unix s) from RTC memory; zeros when
    it holds something else (first boot, power loss, an older firmware's layout)."""
    raw = rtc.memory()
    if len(raw) == struct.calcsize(_RTC_FORMAT):
        magic, pulses, due_s, synced_s = struct.unpack(_RTC_FORMAT, raw)
        if magic == RTC_MAGIC:
            return pulses, due_s, synced_s
    return 0, 0, 0


def rtc_store(rtc, pulses, due_s, synced_s=None):
    if synced_s is None:
        synced_s = rtc_load(rtc)[2]
    rtc.memory(struct.pack(_RTC_FORMAT, RTC_MAGIC, pulses, due_s, synced_s))


def deep_sleep(rain_pin, seconds):
    """Deep sleep `seconds`, waking early on a rain tip: ext0 on the classic ESP32; deep-sleep
    GPIO wake on chips without ext0 (the C3: GPIO0-5 only, which the pin map checks).
    MicroPython builds each function only where the chip has it. Does not return."""
    import esp32

    if hasattr(esp32, "wake_on_ext0"):
        esp32.wake_on_ext0(rain_pin, esp32.WAKEUP_ALL_LOW)
    else:
        esp32.wake_on_gpio((rain_pin,), esp32.WAKEUP_ALL_LOW)
    machine.deepsleep(int(seconds * 1000))


def rain_wake(pins=PINS):
    """First thing after a reset (main.py, before the rest of the firmware is imported): when
    a rain tip woke the board before its next cycle is due, count the tip into RTC memory and
    deep-sleep again until then, with no sensors powered and no radio. Returns False when a
    cycle should run: any other start, or a tip once the cycle is due (then counted too)."""
    if machine.reset_cause() != machine.DEEPSLEEP_RESET:
        return False
    if machine.wake_reason() not in (machine.EXT0_WAKE, GPIO_WAKE):
        return False
    rtc = machine.RTC()
    pulses, due_s, synced_s = rtc_load(rtc)
    rtc_store(rtc, pulses + 1, due_s, synced_s)
    remaining_s = due_s - unix_time_s()
    if remaining_s <= 0:
        return False  # the cycle is due anyway
    rain_pin = machine.Pin(pins["rain"], machine.Pin.IN, machine.Pin.PULL_UP)
    while not rain_pin.value():
        time.sleep_ms(5)  # wait until the bucket has swung past the switch
    deep_sleep(rain_pin, remaining_s)
    return True  # only where deepsleep returns (not a board)


# Wi-Fi connect: wait up to WIFI_TRY_MS for one association + DHCP (~2 s typical,
# hardware/power_profiles.toml), then back off WIFI_BASE_MS x 2**n x (1 + jitter in [0, 1]),
# at most WIFI_CAP_MS, until the config's wifi_budget_s is spent.
WIFI_TRY_MS = const(6000)
WIFI_BASE_MS = const(500)
WIFI_CAP_MS = const(8000)
WIFI_POLL_MS = const(100)
# Clock: set from NTP when the RTC is unset (year before CLOCK_VALID_YEAR) or the last sync is
# NTP_RESYNC_S old; the deep-sleep RTC runs on the internal RC oscillator, which drifts by
# seconds per hour (ESP32 datasheet: 150 kHz RC, +-5 %), so hourly keeps sample times close.
NTP_RESYNC_S = const(3600)
CLOCK_VALID_YEAR = const(2025)

WATCHDOG_MARGIN_S = 60  # boot, sensors (DS18B20 0.75 s, rail settle 0.5 s), NTP, flash writes


def watchdog_s(settings):
    """Hardware watchdog timeout (s): the Wi-Fi budget plus the longest single uplink plus a
    margin, so a healthy cycle never trips it between feeds. Longest CoAP uplink (RFC 7252
    MAX_TRANSMIT_WAIT-like): ACK_TIMEOUT x 1.5 x (2**(MAX_RETRANSMIT+1) - 1), plus the wait for
    a separate response; an MQTT PUBACK wait (ack x (resends+1)) is shorter."""
    ack_s = max(settings["ack_timeout_s"], 1.0)
    uplink_s = ack_s * 1.5 * ((1 << (settings["max_retransmit"] + 1)) - 1)
    uplink_s += settings["response_timeout_s"]
    return int(settings["wifi"][2] + uplink_s + WATCHDOG_MARGIN_S) + 1


def delay_ms(attempt, base_ms, spread, fraction, cap_ms=0):
    """Exponential backoff with jitter, pure (the caller supplies the random fraction):
    base_ms * 2**attempt * (1 + spread * fraction), at most cap_ms (0 = no cap), int ms.

    attempt: 0 for the first wait; spread: the jitter width (1.0: up to twice the base);
    fraction: a random number in [0, 1]. coap.py keeps RFC 7252 s4.2's own schedule (random
    factor 1..1.5 drawn once, then doubled, no cap) inline: importing a shared module from
    coap cost the 64 kB-heap tests their margin.
    """
    wait = int(base_ms * (1 << attempt) * (1.0 + spread * fraction))
    if cap_ms and wait > cap_ms:
        return cap_ms
    return wait


def random_fraction():
    """A random number in [0, 1] from the OS / hardware RNG."""
    return random_uint(2) / 65535


def wifi_connect(wlan, ssid, password, budget_ms, clock=time):
    """Connect `wlan` (network.WLAN(STA_IF), active) within `budget_ms`; True when connected.

    Each attempt waits up to WIFI_TRY_MS for the link, then the next starts after an
    exponential, jittered backoff (delay_ms); no attempt starts whose wait would
    overrun the budget, so a dead AP costs at most `budget_ms` of radio time per cycle.
    `clock`: ticks_ms / ticks_diff / sleep_ms (time; a fake in tests)."""
    if wlan.isconnected():
        return True
    start = clock.ticks_ms()
    attempt = 0
    while True:
        tried = clock.ticks_ms()
        wlan.connect(ssid, password)
        while clock.ticks_diff(clock.ticks_ms(), tried) < WIFI_TRY_MS:
            if wlan.isconnected():
                return True
            left_ms = budget_ms - clock.ticks_diff(clock.ticks_ms(), start)
            if left_ms <= 0:
                wlan.disconnect()
                return False
            clock.sleep_ms(min(WIFI_POLL_MS, left_ms))
        wlan.disconnect()  # stop the driver's own retries: the radio draws ~100 mA
        wait_ms = delay_ms(attempt, WIFI_BASE_MS, 1.0, random_fraction(), WIFI_CAP_MS)
        if clock.ticks_diff(clock.ticks_ms(), start) + wait_ms >= budget_ms:
            return False  # the next attempt would not fit: offline this cycle
        clock.sleep_ms(wait_ms)
        attempt += 1


class Esp32HAL(HAL):
    name = "esp32"
    sleep_resets = True

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
        self.rain = [rtc_load(self.rtc)[0], None]  # drivers.debounce state: [count, last ms]
        self.rain_pin.irq(self._on_tip, machine.Pin.IRQ_FALLING)
        self.settings = settings
        self.wdt = None  # started by the first watchdog_feed (app.run), not by selftest

    # -- rain gauge: a tip while awake, counted into RTC memory ---------------------------------
    def _on_tip(self, pin):
        if drivers.debounce(self.rain, time.ticks_ms()):
            rtc_store(self.rtc, self.rain[0], rtc_load(self.rtc)[1])

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
            rtc_store(self.rtc, 0, rtc_load(self.rtc)[1])
        finally:
            machine.enable_irq(state)
        return count

    def pulses_peek(self, channel):
        return self.rain[0]

    def rssi(self):
        """The associated AP's RSSI (dBm) from the WLAN, None without a link."""
        if self.wlan is None or not self.wlan.isconnected():
            return None
        return int(self.wlan.status("rssi"))

    # -- network, clock, watchdog ---------------------------------------------------------
    def network_up(self):
        """Wi-Fi (config wifi_ssid) within wifi_budget_s, then the clock from NTP if due.
        Without a wifi_ssid the network is someone else's (boot.py, a modem): up."""
        ssid, password, budget_s = self.settings["wifi"]
        if not ssid:
            return True
        if self.wlan is None:
            import network

            self.wlan = network.WLAN(network.STA_IF)
            self.wlan.active(True)
        if not wifi_connect(self.wlan, ssid, password, int(budget_s * 1000)):
            self.wlan.active(False)  # radio off until the next cycle
            return False
        self.watchdog_feed()
        self.sync_clock()
        return True

    def sync_clock(self):
        """Set the RTC from NTP when it is unset or the last sync is NTP_RESYNC_S old;
        False when NTP did not answer (the sample keeps the RTC's time)."""
        now_s = self.time_s()
        synced_s = rtc_load(self.rtc)[2]
        if time.gmtime()[0] >= CLOCK_VALID_YEAR and 0 <= now_s - synced_s < NTP_RESYNC_S:
            return True
        import ntptime

        try:
            ntptime.settime()  # UTC; one UDP exchange, 1 s timeout
        except OSError:  # no answer / DNS failure: try again next cycle
            return False
        pulses, due_s, _synced_s = rtc_load(self.rtc)
        rtc_store(self.rtc, pulses, due_s, self.time_s())
        return True

    def watchdog_feed(self):
        """Start the hardware watchdog on the first call (a wake from deep sleep is a reset,
        so once per boot), then feed it; the REPL tools never call this and run unwatched."""
        if self.wdt is None:
            self.wdt = machine.WDT(timeout=int(watchdog_s(self.settings) * 1000))
        self.wdt.feed()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def sleep_s(self, seconds):
        """Deep sleep until the next cycle, waking early on a rain tip (`deep_sleep`)."""
        rtc_store(self.rtc, self.rain[0], self.time_s() + int(seconds))
        if self.power is not None:
            self.power.value(1)  # sensors off; the gate pull-up keeps them off while asleep
        deep_sleep(self.rain_pin, seconds)
