"""Sensor drivers: datasheet vectors and failure flags on CPython with a fake bus, then the
same drivers on the real MicroPython through the raw-level host HAL (simulated field).
A missing or failing sensor yields no value and a flag, never a made-up number."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from firmware_helpers import lookup_for, node_info, reports, write_config

from backend.quantities import HEALTH, QUANTITIES
from gateway.uplink import decode_uplink

DRIVER_HEAP = "96k"  # raw-level host simulation + drivers: see firmware/README.md "RAM"
CFG = {
    "soil_cal": [2600, 5.0, 1400, 45.0],
    "rain_mm_per_tip": 0.2,
    "level_mount_m": 0.6,
    "battery_divider": 2.0,
}


class FakeBus:
    """A HAL whose primitives return canned raw data (or raise) - pure driver logic."""

    def __init__(self, **raw: object) -> None:
        self.raw = raw
        self.written: list[tuple[int, bytes]] = []

    def _get(self, key: str) -> object:
        value = self.raw[key]
        if isinstance(value, Exception):
            raise value
        return value

    def adc_raw(self, channel: str) -> int:
        return self._get(channel)

    def adc_uv(self, channel: str) -> int:
        return self._get(channel)

    def i2c_writeto(self, addr: int, data: bytes) -> None:
        self.written.append((addr, bytes(data)))
        if isinstance(self.raw.get("i2c"), Exception):
            raise self.raw["i2c"]

    def i2c_readfrom(self, addr: int, n: int) -> bytes:
        return self._get("i2c")

    def ow_reset(self) -> bool:
        return self._get("presence")

    def ow_write(self, data: bytes) -> None:
        pass

    def ow_read(self, n: int) -> bytes:
        return b"\xff" if n == 1 else self._get("scratchpad")

    def echo_us(self, channel: str) -> int:
        return self._get("echo")

    def pulses_take(self, channel: str) -> int:
        return self._get("tips")

    def rssi(self) -> int | None:
        return self.raw.get("rssi")

    def sleep_ms(self, ms: int) -> None:
        pass


def read(fw, driver: str, **raw: object) -> tuple[dict, dict]:
    drivers = fw("drivers")
    bus, out, flags = FakeBus(**raw), {}, {}
    try:
        getattr(drivers, driver)(bus, CFG, out, flags)
    except drivers.SensorError as exc:
        flags["error"] = exc.args[0]
    return out, flags


def test_crc8_datasheet_vectors(fw) -> None:
    drivers = fw("drivers")
    assert drivers.crc8(b"\xbe\xef") == 0x92  # Sensirion SHT3x datasheet s4.12
    assert drivers.crc8(bytes.fromhex("021cb801000000"), True) == 0xA2  # Maxim AN27


def test_sht3x_words_and_crc(fw) -> None:
    # 0x6666 -> -45 + 175 * 0.4 = 25 Cel; 0x8000 -> 50.0 %RH
    good = bytes.fromhex("6666") + bytes([fw("drivers").crc8(b"\x66\x66")])
    good += b"\x80\x00" + bytes([fw("drivers").crc8(b"\x80\x00")])
    out, flags = read(fw, "sht3x", i2c=good)
    assert out == {"air_temp": 25.0, "air_rh": 50.0} and flags == {}
    bad = good[:5] + bytes([good[5] ^ 1])
    assert read(fw, "sht3x", i2c=bad) == ({}, {"error": "crc"})


def test_ds18b20_scratchpad(fw) -> None:
    drivers = fw("drivers")

    def pad(raw: int) -> bytes:
        body = bytes([raw & 0xFF, raw >> 8 & 0xFF, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10])
        return body + bytes([drivers.crc8(body, True)])

    # datasheet Table 1: 0x0191 = +25.0625 Cel, 0xFF5E = -10.125 Cel
    assert read(fw, "ds18b20", presence=True, scratchpad=pad(0x0191))[0] == {"soil_temp": 25.0625}
    assert read(fw, "ds18b20", presence=True, scratchpad=pad(0xFF5E))[0] == {"soil_temp": -10.125}
    corrupted = pad(0x0191)[:3] + b"\x00" + pad(0x0191)[4:]
    assert read(fw, "ds18b20", presence=True, scratchpad=corrupted) == ({}, {"error": "crc"})
    assert read(fw, "ds18b20", presence=False) == ({}, {"error": "absent"})
    assert read(fw, "ds18b20", presence=True, scratchpad=pad(0x0550))[1] == {
        "error": "power_on_value"
    }


def test_bme280_datasheet_example(fw) -> None:
    bme = fw("bme280")
    cal = [27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000]
    cal += [75, 362, 0, 313, 50, 30]
    tf = bme.t_fine(cal, 519888)
    assert tf == 128422 and bme.temperature_c(tf) == 25.08  # BMP280 datasheet s3.12
    pressure = bme.pressure_q24_8(cal, tf, 415148) / 256
    assert pressure == pytest.approx(100653.27, abs=0.05)
    # the double-precision formulas (datasheet s8.1), written independently
    v1 = tf / 2 - 64000
    v2 = v1 * v1 * cal[8] / 32768 + v1 * cal[7] * 2
    v2 = v2 / 4 + cal[6] * 65536
    v1 = (cal[5] * v1 * v1 / 524288 + cal[4] * v1) / 524288
    v1 = (1 + v1 / 32768) * cal[3]
    p = (1048576 - 415148 - v2 / 4096) * 6250 / v1
    p += (cal[11] * p * p / 2147483648 + p * cal[10] / 32768 + cal[9]) / 16
    assert pressure == pytest.approx(p, abs=0.1)


def test_bme280_calibration_registers_round_trip(fw) -> None:
    bme, wire = fw("bme280"), fw("sim_wire")
    cal = list(wire.BME_CAL + wire.BME_CAL_H)
    regs = wire.bme280_registers(cal, 28.4, 100870, 83.0)
    assert bme.parse_calibration(regs[0x88], regs[0xA1], regs[0xE1]) == cal
    bus, out = FakeBus(), {}
    bus.i2c_readfrom_mem = lambda addr, reg, n: regs[reg][:n]
    bme.read(bus, CFG, out, {}, names=("air_pressure", "air_temp", "air_rh"))
    assert out["air_temp"] == pytest.approx(28.4, abs=0.011)
    assert out["air_pressure"] == pytest.approx(100870, abs=0.2)
    assert out["air_rh"] == pytest.approx(83.0, abs=0.11)


@pytest.mark.parametrize(
    ("raw", "vwc", "flag"),
    [
        (2600, 5.0, None),
        (1400, 45.0, None),
        (2000, 25.0, None),
        (2700, 1.7, "extrapolated"),
        (3500, 0.0, "extrapolated"),
        (1000, 58.3, "extrapolated"),
        (50, None, "open"),
        (4095, None, "open"),
    ],
)
def test_soil_two_point_calibration(fw, raw: int, vwc: float | None, flag: str | None) -> None:
    out, flags = read(fw, "soil_moisture", soil=raw)
    assert out.get("soil_vwc") == vwc
    assert (flags.get("soil_vwc") or flags.get("error")) == flag


def test_adc_sensors_rain_level_rssi(fw) -> None:
    assert read(fw, "leaf_wetness", leaf=625000)[0] == {"leaf_wet": 0.5}
    assert read(fw, "leaf_wetness", leaf=0)[1] == {"error": "open"}
    assert read(fw, "battery", battery=1950000)[0] == {"battery": 3.9}
    assert read(fw, "rain", tips=7)[0] == {"rain": 1.4}
    # 20 Cel: c = 343.42 m/s; 0.7 m away from a 0.6 m mount -> 0.1 m below the surface
    echo = round(0.7 * 2 / 343.42 * 1e6)
    assert read(fw, "water_level", echo=echo)[0]["water_level"] == pytest.approx(-0.1, abs=1e-3)
    assert read(fw, "water_level", echo=-1)[1] == {"error": "no_echo"}
    assert read(fw, "rssi", rssi=None)[1] == {"error": "no_link"}


def test_debounce_counts_tips_not_bounces(fw) -> None:
    drivers = fw("drivers")
    state = [0, None]
    for t in (1000, 1003, 1010, 2500, 2502, 9000):
        drivers.debounce(state, t)
    assert state[0] == 3
    drivers.debounce(state, 10)  # clock restarted (deep sleep): counts
    assert state[0] == 4


def test_read_all_turns_failures_into_flags(fw) -> None:
    drivers, senml = fw("drivers"), fw("senml")
    bus = FakeBus(i2c=OSError(19), presence=False, soil=2000, battery=9000000)
    sensors = [
        (("air_temp", "air_rh"), drivers.sht3x),
        (("soil_temp",), drivers.ds18b20),
        (("soil_vwc",), drivers.soil_moisture),
        (("battery",), drivers.battery),
    ]
    values, flags = drivers.read_all(bus, CFG, sensors, senml.QUANTITIES)
    assert values == {"soil_vwc": 25.0}
    assert flags == {
        "air_temp": "bus_error:19",
        "air_rh": "bus_error:19",
        "soil_temp": "absent",
        "battery": "out_of_range",
    }


# --- the same drivers on MicroPython, fed at the raw level by the simulated field ---------

# Modules are imported the way the node imports them (app.load_modules: largest first, with a
# collection between): compiling from source in an already-fragmented heap is what fails.
HOST_SCRIPT = """
import json, app
m = app.load_modules("coap", host_drivers=True)
cfg = json.loads(%r)
h = m["hal_host"].HostHAL(cfg)
truth = m["sim_field"].Field(cfg['field'], cfg['seed']).sample(h.time_s())
sensors = app.make_sensors(m["drivers"], m["bme280"])
values, flags = m["drivers"].read_all(h, cfg, sensors, m["senml"].QUANTITIES)
print(json.dumps([values, flags, truth]))
"""


def host_read(mp, tmp_path: Path, faults: dict) -> tuple[dict, dict, dict]:
    cfg = dict(
        CFG,
        field="ruong-1",
        seed=3,
        state_dir=str(tmp_path),
        faults=faults,
        sim_start=1782900000,
        sim_step_s=900,
    )
    out = mp.run(HOST_SCRIPT % json.dumps(cfg), heap=DRIVER_HEAP).stdout
    return tuple(json.loads(out.splitlines()[-1]))


@pytest.mark.micropython
def test_micropython_drivers_read_the_simulated_field(mp, tmp_path: Path) -> None:
    values, flags, truth = host_read(mp, tmp_path, {})
    assert flags == {} and set(values) == (set(QUANTITIES) - HEALTH)
    tolerance = {
        "soil_vwc": 0.1,
        "soil_temp": 0.07,
        "air_temp": 0.01,
        "air_rh": 0.1,
        "air_pressure": 0.2,
        "leaf_wet": 0.01,
        "water_level": 0.002,
        "battery": 0.002,
        "rain": 1e-9,
        "rssi": 0,
    }
    for name, value in values.items():
        assert math.isclose(value, truth[name], abs_tol=tolerance[name] + 1e-9), name


@pytest.mark.micropython
@pytest.mark.parametrize(
    ("faults", "flagged"),
    [
        ({"sht3x": "crc"}, {"air_temp": "crc", "air_rh": "crc"}),
        ({"sht3x": "absent"}, {"air_temp": "bus_error:19", "air_rh": "bus_error:19"}),
        ({"bme280": "oserror"}, {"air_pressure": "bus_error:110"}),
        ({"ds18b20": "crc"}, {"soil_temp": "crc"}),
        ({"ds18b20": "absent"}, {"soil_temp": "absent"}),
        (
            {"soil": "open", "leaf": "open", "level": "no_echo"},
            {"soil_vwc": "open", "leaf_wet": "open", "water_level": "no_echo"},
        ),
    ],
)
def test_micropython_failing_sensor_gives_flag_not_value(
    mp, tmp_path: Path, faults: dict, flagged: dict
) -> None:
    values, flags, _truth = host_read(mp, tmp_path, faults)
    assert flags == flagged
    assert set(values) == (set(QUANTITIES) - HEALTH) - set(flagged)


@pytest.mark.micropython
def test_report_line_and_uplink_carry_flags_and_no_value(mp, udp_peer, tmp_path: Path) -> None:
    from test_main import gateway_like

    peer = udp_peer(gateway_like)
    config = write_config(
        tmp_path,
        gateway=f"coap://127.0.0.1:{peer.port}",
        cycles=1,
        host_drivers=True,
        faults={"ds18b20": "crc"},
    )
    proc = mp.main(config, heap=DRIVER_HEAP)
    assert proc.returncode == 0, proc.stderr
    (report,) = reports(proc.stdout)
    assert report["flags"] == {"soil_temp": "crc"} and "soil_temp" not in report["values"]
    uplink = decode_uplink(peer.received[0].payload, lookup_for(node_info()), report["t"])
    sample = uplink.samples[report["t"] * 1000]
    assert "soil_temp" not in sample
    # the health count travels with the sample; nothing was dropped, so no `dropped`
    assert sample["faults"] == 1 and "dropped" not in sample
