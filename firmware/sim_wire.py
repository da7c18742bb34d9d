"""What the simulated sensors put on the wire: the inverse of each driver's conversion.

Used by hal_host only: BME280 calibration + ADC registers solved through the datasheet
compensation, an SHT3x measurement with its CRC-8 words, a DS18B20 scratchpad with its
Maxim CRC. Kept apart from hal_host so neither file is large to compile on a 64 kB heap.
"""

import struct

import drivers

# BME280 trimming values: T and P from the BMP280 datasheet's worked example, H typical
BME_CAL = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
BME_CAL_H = (75, 362, 0, 313, 50, 30)


def _solve(f, target, lo, hi):
    """Smallest integer x in [lo, hi] with f(x) >= target, for an increasing f."""
    while lo < hi:
        mid = (lo + hi) // 2
        if f(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def bme280_registers(cal, air_c, pressure_pa, rh_pct):
    """{register: bytes} of a BME280 that measured these values (inverse compensation)."""
    import bme280  # loaded only on nodes that have one

    tp = struct.pack("<HhhHhhhhhhhh", *cal[:12])
    h1, h2, h3, h4, h5, h6 = cal[12:]
    h = struct.pack("<hB", h2, h3) + bytes(
        ((h4 >> 4) & 0xFF, (h4 & 0x0F) | (h5 & 0x0F) << 4, (h5 >> 4) & 0xFF, h6 & 0xFF)
    )
    adc_t = _solve(lambda a: bme280.temperature_c(bme280.t_fine(cal, a)), air_c, 0, 0xFFFFF)
    tf = bme280.t_fine(cal, adc_t)
    # pressure falls as adc_P rises
    target = pressure_pa * 256
    adc_p = _solve(lambda a: -bme280.pressure_q24_8(cal, tf, a), -target, 0, 0xFFFFF)
    adc_h = _solve(lambda a: bme280.humidity_q22_10(cal, tf, a), rh_pct * 1024, 0, 0xFFFF)
    data = bytes(
        (adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0x0F) << 4)
        + (adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4)
        + (adc_h >> 8, adc_h & 0xFF)
    )
    return {0xD0: b"\x60", 0x88: tp, 0xA1: bytes((h1,)), 0xE1: h, 0xF3: b"\x00", 0xF7: data}


def ds18b20_scratchpad(temp_c):
    """The 9-byte scratchpad after a 12-bit conversion of `temp_c` (datasheet Figure 9)."""
    raw = round(temp_c * 16) & 0xFFFF
    pad = bytes((raw & 0xFF, raw >> 8, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10))
    return pad + bytes((drivers.crc8(pad, True),))


def sht3x_words(air_c, rh_pct):
    """The 6 bytes an SHT3x returns: T word, CRC, RH word, CRC (datasheet 4.13 inverted)."""
    out = bytearray()
    for word in (round((air_c + 45) * 65535 / 175), round(rh_pct * 65535 / 100)):
        pair = bytes((word >> 8, word & 0xFF))
        out += pair + bytes((drivers.crc8(pair),))
    return bytes(out)
