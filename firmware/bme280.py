"""Bosch BME280 air pressure (and temperature / humidity) over I2C, forced mode.

Compensation: the integer formulas of the BME280 datasheet (BST-BME280-DS002, s4.2.3:
BME280_compensate_T_int32, BME280_compensate_P_int64, bme280_compensate_H_int32), written
with Python ints; the one division truncates as C's does.
"""

import struct

from compat import const
from drivers import SensorError

_CHIP_ID = const(0x60)
_REG_ID = const(0xD0)
_REG_CALIB_TP = const(0x88)  # 24 bytes: dig_T1..dig_P9
_REG_CALIB_H1 = const(0xA1)
_REG_CALIB_H = const(0xE1)  # 7 bytes: dig_H2..dig_H6
_REG_CTRL_HUM = const(0xF2)
_REG_CTRL_MEAS = const(0xF4)
_REG_STATUS = const(0xF3)
_REG_DATA = const(0xF7)  # 8 bytes: press, temp, hum


def parse_calibration(tp, h1, h):
    """Trimming parameters from the raw calibration registers (datasheet Table 16):
    [T1, T2, T3, P1, P2..P9, H1..H6]."""
    cal = list(struct.unpack("<HhhHhhhhhhhh", tp))
    h4 = h[3] << 4 | h[4] & 0x0F  # 12-bit signed, split across 0xE4 / 0xE5
    h5 = h[5] << 4 | h[4] >> 4
    cal += [h1[0], struct.unpack_from("<h", h)[0], h[2]]
    cal += [h4 - 0x1000 if h4 & 0x800 else h4, h5 - 0x1000 if h5 & 0x800 else h5]
    cal.append(h[6] - 256 if h[6] & 0x80 else h[6])
    return cal


def t_fine(cal, adc_t):
    t1, t2, t3 = cal[0], cal[1], cal[2]
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    return var1 + var2


def temperature_c(tf):
    """Temperature, Cel, from t_fine (datasheet: (t_fine * 5 + 128) >> 8 in 0.01 Cel)."""
    return ((tf * 5 + 128) >> 8) / 100


def pressure_q24_8(cal, tf, adc_p):
    """Pressure in Pa as unsigned Q24.8 (divide by 256), or 0 when undefined."""
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = cal[3:12]
    var1 = tf - 128000
    var2 = var1 * var1 * p6
    var2 += (var1 * p5) << 17
    var2 += p4 << 35
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        return 0  # avoid a division by zero
    p = 1048576 - adc_p
    p = ((p << 31) - var2) * 3125
    p = p // var1 if (p < 0) == (var1 < 0) else -(-p // var1)  # C division truncates
    var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (p7 << 4)


def humidity_q22_10(cal, tf, adc_h):
    """Relative humidity in %RH as unsigned Q22.10 (divide by 1024)."""
    h1, h2, h3, h4, h5, h6 = cal[12:18]
    x = tf - 76800
    v = (((adc_h << 14) - (h4 << 20) - (h5 * x)) + 16384) >> 15
    v *= ((((((x * h6) >> 10) * (((x * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14
    v -= ((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4
    v = max(0, min(v, 419430400))
    return v >> 12


_CAL = {}  # type: dict[int, list[int]]  # I2C address -> trimming parameters, read once per boot


def read(hal, cfg, out, flags, addr=0x76, names=("air_pressure",)):
    """Forced-mode read at `addr`; `names` says which quantities this node takes from it
    (the reference paddy node: air_pressure only, its SHT3x gives temperature and RH)."""
    cal = _CAL.get(addr)
    if cal is None:
        if hal.i2c_readfrom_mem(addr, _REG_ID, 1)[0] != _CHIP_ID:
            raise SensorError("wrong_chip")
        cal = parse_calibration(
            hal.i2c_readfrom_mem(addr, _REG_CALIB_TP, 24),
            hal.i2c_readfrom_mem(addr, _REG_CALIB_H1, 1),
            hal.i2c_readfrom_mem(addr, _REG_CALIB_H, 7),
        )
        _CAL[addr] = cal
    hal.i2c_writeto(addr, bytes((_REG_CTRL_HUM, 0x01)))  # osrs_h x1
    hal.i2c_writeto(addr, bytes((_REG_CTRL_MEAS, 0x25)))  # osrs_t x1, osrs_p x1, forced
    for _ in range(20):  # ~8 ms at x1 oversampling
        if not hal.i2c_readfrom_mem(addr, _REG_STATUS, 1)[0] & 0x08:
            break
        hal.sleep_ms(2)
    else:
        raise SensorError("timeout")
    d = hal.i2c_readfrom_mem(addr, _REG_DATA, 8)
    adc_p = d[0] << 12 | d[1] << 4 | d[2] >> 4
    adc_t = d[3] << 12 | d[4] << 4 | d[5] >> 4
    if adc_t == 0x80000 or adc_p == 0x80000:  # the "skipped" value: no measurement
        raise SensorError("no_data")
    tf = t_fine(cal, adc_t)
    if "air_pressure" in names:
        out["air_pressure"] = round(pressure_q24_8(cal, tf, adc_p) / 256, 1)
    if "air_temp" in names:
        out["air_temp"] = temperature_c(tf)
    if "air_rh" in names:
        out["air_rh"] = round(humidity_q22_10(cal, tf, d[6] << 8 | d[7]) / 1024, 1)
