"""Host HAL (unix port, `ruong sim`, tests): the simulated field seen through raw primitives.

Each cycle the field (sim_field) gives the physical truth; this module turns it into what the
wires would carry: soil-probe ADC counts (inverse of the node's calibration line), SHT3x words
with their CRC-8, BME280 calibration + ADC registers (solved through the datasheet
compensation), a DS18B20 scratchpad with its Maxim CRC, ultrasonic echo time, battery-divider
microvolts, and rain-gauge switch edges (with contact bounce) into a debounced counter kept in
`<state_dir>/pulses` so it survives a restart like RTC memory survives deep sleep.

A technician's calibration: while `<state_dir>/sim_probe` exists the soil probe is out of the
soil, held in what the file names: "air" | "water" | a count, then optionally a noise amplitude
in counts ("water 40"); the tests write it between `ruong node calibrate`'s prompts.

The farmer's pump: when `<state_dir>/sim_irrigate` exists (text: mm of water, "50") the
field gets that much water at the next sample and the file is removed (the demo's scripted
farmer writes it). `sim` (config) is the field's kind, crop, soil and carried water state
(sim_field.Field); `clock` (config, {speed, start, origin}) puts the node on the demo's
simulated clock: site time = start + (real time - origin) x speed (backend/clock.py).

`faults` (config) breaks a sensor on purpose: {"sht3x": "crc" | "absent" | "oserror",
"bme280": ..., "ds18b20": "crc" | "absent", "soil": "open", "leaf": "open", "level": "no_echo"}.
"""

import os
import time

import drivers
import sim_wire
from compat import join, path_exists, write_atomic
from hal import HAL, sim_advance_s, unix_time_s

ENODEV = 19
ETIMEDOUT = 110
SOIL_CAL = (2600, 5.0, 1400, 45.0)  # dry counts, dry %, wet counts, wet %
# The simulated soil probe out of the soil, in ADC counts (a capacitive v1.2 probe on an ESP32
# at 11 dB reads about this much in dry air and in water), for `ruong node calibrate`.
PROBE_COUNTS = {"air": 2750, "water": 1300}


class HostHAL(HAL):
    name = "host"

    def __init__(self, settings):
        import sim_field  # the simulator stays off the board

        sim = dict(settings.get("sim") or {})
        # the node's kind and rain gauge are the field's
        sim["kind"] = settings.get("kind", "paddy")
        self.tip_mm = sim["tip_mm"] = settings.get("rain_mm_per_tip", sim_field.TIP_MM)
        self.sim = sim
        self.field = sim_field.Field(settings["field"], settings.get("seed", 0), sim)
        clock = settings.get("clock")  # {speed, start: site Unix s, origin: real Unix s}
        self.clock = clock and (clock["speed"], clock["start"], clock["origin"])
        self.faults = settings.get("faults") or {}
        self.soil_cal = settings.get("soil_cal") or SOIL_CAL
        self.mount_m = settings.get("level_mount_m", 0.6)
        self.divider = settings.get("battery_divider", 2.0)
        self.step_s = settings.get("sim_step_s", 0)
        self.start_s = settings.get("sim_start") or unix_time_s()
        self.interval_s = settings.get("interval_s", 0)
        self.sim_s = 0  # simulated seconds since start_s
        self.pulse_path = join(settings["state_dir"], "pulses")
        self.probe_path = join(settings["state_dir"], "sim_probe")
        self.irrigate_path = join(settings["state_dir"], "sim_irrigate")
        self.truth_t = None
        self.truth = None
        self.regs = None
        self.ow_command = 0
        self.sht_pending = False

    # -- clock and the simulated truth ---------------------------------------------------
    def time_s(self):
        if self.step_s:
            t_s = self.start_s + self.sim_s
        elif self.clock:
            speed, start, origin = self.clock
            t_s = int(start + (unix_time_s() - origin) * speed)
        else:
            t_s = unix_time_s()
        if t_s != self.truth_t:
            self.truth_t = t_s
            self._irrigate(t_s)
            self.truth = self.field.sample(t_s)
            self.regs = None
            self._rain_edges(t_s, round(self.truth["rain"] / self.tip_mm))
        return t_s

    def _now(self):
        if self.truth is None:
            self.time_s()
        return self.truth

    def sleep_s(self, seconds):
        self.sim_s += sim_advance_s(self.step_s, self.interval_s, seconds)
        time.sleep(seconds)

    def _irrigate(self, t_s):
        """Water the farmer pumped in since the last sample (`sim_irrigate`), given now."""
        try:
            with open(self.irrigate_path) as f:
                mm = float(f.read().split()[0])
        except OSError:
            return
        os.remove(self.irrigate_path)
        self.field.irrigate(mm, t_s)

    def carried(self):
        # the field's water goes on from where it got to, not from the config's state
        self.sim["state"] = self.field.state()
        carried = {"sim": self.sim}
        if self.step_s:
            carried["sim_start"] = self.start_s + self.sim_s
        return carried

    def sleep_ms(self, ms):
        pass  # conversion delays: the simulated sensor is ready at once

    def _fault(self, device):
        return self.faults.get(device)

    # -- ADC, echo, radio ----------------------------------------------------------------
    def _probe_counts(self):
        """Soil-probe counts while a technician holds it in air or water, else None."""
        try:
            with open(self.probe_path) as f:
                words = f.read().split()
        except OSError:
            return None
        counts = PROBE_COUNTS[words[0]] if words[0] in PROBE_COUNTS else int(words[0])
        if len(words) > 1:
            import random

            amplitude = int(words[1])
            counts += random.randint(-amplitude, amplitude)
        return counts

    def adc_raw(self, channel):
        if channel == "soil" and self._fault("soil") != "open":
            held = self._probe_counts()
            if held is not None:
                return held
            dry_raw, dry_vwc, wet_raw, wet_vwc = self.soil_cal
            slope = (wet_raw - dry_raw) / (wet_vwc - dry_vwc)
            return round(dry_raw + (self._now()["soil_vwc"] - dry_vwc) * slope)
        return 0

    def adc_uv(self, channel):
        truth = self._now()
        if channel == "battery":
            return int(truth["battery"] / self.divider * 1e6)
        if channel == "leaf" and self._fault("leaf") != "open":
            return int(250000 + truth["leaf_wet"] * 750000)
        return 0

    def echo_us(self, channel):
        truth = self._now()
        if self._fault("level") == "no_echo" or "water_level" not in truth:
            return -1  # an upland field has no water to echo from (nor a ranger: app.py)
        speed = 331.3 + 0.606 * truth["air_temp"]
        return round((self.mount_m - truth["water_level"]) * 2 / speed * 1e6)

    def rssi(self):
        return self._now()["rssi"]

    # -- I2C: SHT3x at 0x44, BME280 at 0x76 ----------------------------------------------
    def _device(self, addr):
        device = "sht3x" if addr == 0x44 else "bme280" if addr == 0x76 else None
        fault = self._fault(device) if device else "absent"
        if fault == "absent":
            raise OSError(ENODEV)
        if fault == "oserror":
            raise OSError(ETIMEDOUT)
        return device

    def i2c_writeto(self, addr, data):
        if self._device(addr) == "sht3x":
            self.sht_pending = bytes(data) == b"\x24\x00"

    def i2c_readfrom(self, addr, n):
        self._device(addr)
        if not self.sht_pending:
            raise OSError(ETIMEDOUT)  # no measurement started: the SHT3x NACKs the read
        self.sht_pending = False
        truth = self._now()
        data = sim_wire.sht3x_words(truth["air_temp"], truth["air_rh"])
        if self._fault("sht3x") == "crc":
            data = data[:5] + bytes((data[5] ^ 0x01,))
        return data[:n]

    def i2c_readfrom_mem(self, addr, reg, n):
        self._device(addr)
        if self.regs is None:
            truth = self._now()
            cal = sim_wire.BME_CAL + sim_wire.BME_CAL_H
            self.regs = sim_wire.bme280_registers(
                cal, truth["air_temp"], truth["air_pressure"], truth["air_rh"]
            )
        return self.regs[reg][:n]

    # -- 1-Wire: one DS18B20 -------------------------------------------------------------
    def ow_reset(self):
        self.ow_command = 0
        return self._fault("ds18b20") != "absent"

    def ow_write(self, data):
        self.ow_command = data[-1]

    def ow_read(self, n):
        if self._fault("ds18b20") == "absent":
            return b"\xff" * n  # nobody pulls the bus low
        if self.ow_command == 0xBE:
            pad = sim_wire.ds18b20_scratchpad(self._now()["soil_temp"])
            if self._fault("ds18b20") == "crc":
                pad = pad[:4] + bytes((pad[4] ^ 0x20,)) + pad[5:]
            return pad[:n]
        return b"\xff" * n  # read slots after Convert T: 1 = conversion done

    # -- rain gauge pulses -----------------------------------------------------------------
    def _read_pulses(self):
        if not path_exists(self.pulse_path):
            return 0, None
        with open(self.pulse_path) as f:
            parts = f.read().split()
        return int(parts[0]), (int(parts[1]) if len(parts) > 1 else None)

    def _write_pulses(self, count, last_ms):
        write_atomic(self.pulse_path, "%d %d\n" % (count, -1 if last_ms is None else last_ms))

    def _rain_edges(self, t_s, tips):
        """Feed `tips` bucket tips before `t_s`, each closing the reed switch twice (bounce
        3 ms later), through the same debouncer the board's interrupt handler uses."""
        if not tips:
            return
        count, last_ms = self._read_pulses()
        state = [count, None if last_ms == -1 else last_ms]
        base_ms = (t_s % 100000) * 1000  # a ms clock that wraps, like ticks_ms
        for i in range(tips):
            edge_ms = base_ms - (tips - i) * 1000
            drivers.debounce(state, edge_ms)
            drivers.debounce(state, edge_ms + 3)
        self._write_pulses(state[0], state[1])

    def pulses_peek(self, channel):
        return self._read_pulses()[0]

    def pulses_take(self, channel):
        count, last_ms = self._read_pulses()
        if count:
            self._write_pulses(0, last_ms)
        return count
