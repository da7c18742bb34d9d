"""Sensor drivers: raw HAL primitives (ADC counts / uV, I2C bytes, 1-Wire bytes, echo time,
pulse counts) -> vocabulary quantities (senml.QUANTITIES units).

A driver is a function `driver(hal, cfg, out, flags)` (cfg: the node settings) that puts
its values in `out` or raises SensorError(reason) (an OSError from a bus counts too);
`read_all` turns every failure into a status flag and leaves the quantity out: a missing or
failing sensor never produces a made-up number. Functions, not classes: each class costs
~0.7 kB of a 64 kB heap. Board-independent:
the same code runs on the ESP32 (hal_esp32) and on the host (hal_host, simulated field).
"""

from compat import const

_OPEN_LOW = const(100)  # ADC counts: a disconnected / shorted probe sits at a rail
_OPEN_HIGH = const(3995)


class SensorError(Exception):
    """A sensor that answered wrongly or not at all; args[0] is the short reason flag."""


def crc8(data, maxim=False):
    """CRC-8 of `data`. SHT3x: poly 0x31, init 0xFF, MSB first (Sensirion datasheet 4.12);
    maxim=True for the DS18B20: x^8+x^5+x^4+1, init 0, LSB first (reflected 0x8C, AN27)."""
    crc = 0 if maxim else 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            if maxim:
                crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
            else:
                crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def debounce(state, t_ms, gap_ms=50):
    """Count a switch closure at `t_ms` (ms) into state = [count, last counted ms or None],
    ignoring edges closer than `gap_ms` to the last counted one: a tipping bucket's reed
    switch bounces for a few ms, real tips are >= 0.5 s apart. A negative gap (the clock
    restarted after deep sleep) counts. True when the edge counted."""
    last = state[1]
    if last is not None and 0 <= t_ms - last < gap_ms:
        return False
    state[0] += 1
    state[1] = t_ms
    return True


def vwc(cal, raw):
    """Capacitive soil probe: (VWC %, in_span) for an ADC reading in counts.

    cal = [dry counts, dry %, wet counts, wet %], the node's two-point calibration; the probe
    reads fewer counts the wetter the soil. Linear through the two points, clamped to
    0..100 %; in_span is False when raw lies outside the calibrated span (extrapolated).
    """
    if raw < _OPEN_LOW or raw > _OPEN_HIGH:
        raise SensorError("open")
    dry_raw, dry_vwc, wet_raw, wet_vwc = cal
    value = dry_vwc + (raw - dry_raw) * (wet_vwc - dry_vwc) / (wet_raw - dry_raw)
    in_span = min(dry_raw, wet_raw) <= raw <= max(dry_raw, wet_raw)
    return min(100.0, max(0.0, value)), in_span


def soil_moisture(hal, cfg, out, flags):
    value, in_span = vwc(cfg["soil_cal"], hal.adc_raw("soil"))
    out["soil_vwc"] = round(value, 1)
    if not in_span:
        flags["soil_vwc"] = "extrapolated"


def leaf_wetness(hal, cfg, out, flags):
    """Dielectric leaf-wetness sensor: 250 mV dry (0) .. 1000 mV wet (1)."""
    uv = hal.adc_uv("leaf")
    if uv < 50000:  # below 50 mV: no sensor on the input
        raise SensorError("open")
    out["leaf_wet"] = round(min(1.0, max(0.0, (uv - 250000) / 750000)), 2)


def battery(hal, cfg, out, flags):
    """Battery voltage through a resistor divider: V = ADC uV * ratio / 1e6."""
    out["battery"] = round(hal.adc_uv("battery") * cfg["battery_divider"] / 1e6, 3)


def rain(hal, cfg, out, flags):
    """Tipping bucket: debounced tips since the previous sample x mm per tip (0.2 mm)."""
    out["rain"] = round(hal.pulses_take("rain") * cfg["rain_mm_per_tip"], 2)


def water_level(hal, cfg, out, flags):
    """Ultrasonic ranger (JSN-SR04T) looking down the AWD tube from `level_mount_m` above
    the soil surface: level = mount - distance, negative when the water is below the
    surface. Distance = echo round trip x speed of sound / 2, c = 331.3 + 0.606 T m/s."""
    echo_us = hal.echo_us("level")
    if echo_us <= 0:  # machine.time_pulse_us: -1 / -2 on timeout
        raise SensorError("no_echo")
    air_c = out.get("air_temp", 20.0)  # read before this driver; c changes 1 % per 17 K
    distance_m = echo_us * 1e-6 * (331.3 + 0.606 * air_c) / 2
    if distance_m < 0.2:  # the transducer's blind zone
        raise SensorError("too_close")
    out["water_level"] = round(cfg["level_mount_m"] - distance_m, 3)


def rssi(hal, cfg, out, flags):
    value = hal.rssi()
    if value is None:
        raise SensorError("no_link")
    out["rssi"] = value


def sht3x(hal, cfg, out, flags):
    """Sensirion SHT3x at 0x44: single shot, high repeatability, no clock stretching
    (0x2400); T and RH words each followed by their CRC-8 (datasheet 4.4-4.13)."""
    hal.i2c_writeto(0x44, b"\x24\x00")
    hal.sleep_ms(16)  # max measurement duration, high repeatability
    data = hal.i2c_readfrom(0x44, 6)
    if len(data) != 6 or crc8(data[0:2]) != data[2] or crc8(data[3:5]) != data[5]:
        raise SensorError("crc")
    out["air_temp"] = round(-45 + 175 * (data[0] << 8 | data[1]) / 65535, 2)
    out["air_rh"] = round(100 * (data[3] << 8 | data[4]) / 65535, 1)


def ds18b20(hal, cfg, out, flags):
    """Maxim DS18B20, alone on its 1-Wire bus (Skip ROM): Convert T (0x44), poll until
    done, Read Scratchpad (0xBE), check its CRC-8; 1/16 Cel per LSB."""
    if not hal.ow_reset():
        raise SensorError("absent")
    hal.ow_write(b"\xcc\x44")
    for _ in range(80):  # 12-bit conversion: 750 ms max
        if hal.ow_read(1)[0]:
            break
        hal.sleep_ms(10)
    else:
        raise SensorError("timeout")
    if not hal.ow_reset():
        raise SensorError("absent")
    hal.ow_write(b"\xcc\xbe")
    pad = hal.ow_read(9)
    if crc8(pad[:8], True) != pad[8] or pad == b"\xff" * 9:
        raise SensorError("crc")
    raw = pad[1] << 8 | pad[0]
    if raw == 0x0550:  # 85 Cel: the power-on value, the conversion never ran
        raise SensorError("power_on_value")
    out["soil_temp"] = (raw - 0x10000 if raw & 0x8000 else raw) / 16


def read_all(hal, cfg, sensors, limits):
    """Read every sensor: ({name: value}, {name: flag}). `sensors` is [(names, driver)];
    `limits` is senml.QUANTITIES: a value outside the vocabulary's range is flagged
    "out_of_range" and not kept."""
    out = {}  # type: dict
    flags = {}  # type: dict
    for names, driver in sensors:
        try:
            driver(hal, cfg, out, flags)
        except SensorError as exc:
            for name in names:
                flags[name] = exc.args[0]
        except OSError as exc:  # the bus itself failed: no ACK on I2C, ENODEV, ETIMEDOUT
            for name in names:
                flags[name] = "bus_error:%d" % (exc.args[0] if exc.args else -1)
    for name, _unit, low, high in limits:
        if name in out and not low <= out[name] <= high:
            del out[name]
            flags[name] = "out_of_range"
    return out, flags
