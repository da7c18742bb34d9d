"""A deterministic simulated field in northern Vietnam (Ninh Binh), for the host HAL and the
demo's past (ruong/demo_history.py runs this same class on CPython).

Same seed, field, config and sample times -> same readings on MicroPython and CPython (own
PRNG, integer time arithmetic, so a board's single-precision floats do not blur a 1.8e9-second
clock). Climate shape: monsoon (wet, hot) summer, cool dry winter (Jan mean ~17 Cel, Jul ~29
Cel), diurnal cycle peaking mid-afternoon local time (UTC+7).

The field's water is state (sim_water.Water), integrated hour by hour between samples from
this weather: a paddy's water level (AWD), or an upland root zone's depletion (FAO-56).
`state()` hands the state on, so a run over the past continues exactly in the live node.
"""

# (Comments, not docstrings, below: the tests compile the firmware from source in a 64 kB
# heap, where the parser holds a module's docstrings with its tree.)

import gc
import math

from compat import const

gc.collect()  # this module's compiler garbage, before sim_water compiles in a 64 kB heap
import sim_water
from sim_water import _clamp

LOCAL_OFFSET_S = const(25200)  # Indochina Time, UTC+7
DAY_S = const(86400)
HOUR_S = const(3600)
TIP_MM = 0.2  # tipping-bucket resolution (mm), unless `sim` names the gauge's tip_mm
_MASK = 0xFFFFFFFF


def _mix(a, b):
    # 32-bit integer hash of two ints (a splitmix-style finaliser); same on every port.
    x = (a * 0x9E3779B1 + b * 0x85EBCA77 + 0x165667B1) & _MASK
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & _MASK
    x ^= x >> 12
    x = (x * 0x297A2D39) & _MASK
    x ^= x >> 15
    return x


def _name_hash(text):
    # FNV-1a of a str; `hash()` differs between ports, this does not.
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & _MASK
    return h


class Field:
    # One simulated field: call `sample(t_s)` with increasing Unix seconds.
    #
    # sim (the node config's `sim`, all optional): kind "paddy" | "upland"; planted_s (Unix
    # s); kc [[day of season, Kc], ...] (day 1 = planting day, FAO-56 Fig. 25); upland:
    # theta_fc, theta_wp (%), zr_m (m), p (-); paddy: perc_mm_d (mm/day, default 3); lat
    # (deg); tip_mm (the rain gauge's, mm); state (what `state()` returned); auto_farmer
    # (default True). Its water (water: the level in m, or the depletion in mm) lives in
    # sim_water.

    def __init__(self, name, seed, sim=None):
        sim = sim or {}
        key = self.key = _mix(_name_hash(name), seed)
        self.rssi_base = -70 - (key % 18)  # this node's link budget, dBm
        self.tip_mm = sim.get("tip_mm", TIP_MM)
        self.rng = 1  # xorshift32 state, seeded per sample
        sim_water.setup(self, sim, key)

    def state(self):
        # The carried state: {t_s, level_m | dr_mm, due_s, bucket_mm}.
        return sim_water.state(self)

    def season(self, t_s):
        # -1 in mid-January (cold, dry) .. +1 in mid-July (hot, monsoon).
        doy = (t_s // DAY_S) % 365
        return -math.cos(2 * math.pi * (doy - 15) / 365)

    def rain_rate_mm_h(self, hour_index, season):
        # Rain intensity in hour `hour_index` since the epoch, mm/h (0 when dry).
        # 15 % of hours wet in the monsoon (~300 mm a month at ~2.8 mm/h), 1 % in winter
        # (~20 mm): Ninh Binh's climate, dry Dec-Feb with 20-40 mm a month, wet Jul-Sep
        chance = 0.08 + 0.07 * season
        if _mix(self.key, hour_index) / 4294967296 >= chance:
            return 0
        strength = _mix(self.key ^ 0xA5A5, hour_index) / 4294967296
        return 0.5 + 9 * strength * strength * strength  # mean ~2.8 mm/h, bursts to 9.5

    def noise(self, amplitude):
        # Triangular noise in (-amplitude, amplitude): two xorshift32 draws.
        x = self.rng
        total = 0
        for _ in range(2):
            x ^= (x << 13) & _MASK
            x ^= x >> 17
            x ^= (x << 5) & _MASK
            total += x
        self.rng = x
        return amplitude * (total / 4294967296 - 1)

    def advance(self, t1_s):
        # Integrate the water to Unix second `t1_s` (the rain into the gauge's bucket).
        sim_water.advance(self, t1_s)

    def irrigate(self, mm, t_s=None):
        # The farmer's pump: `mm` of water now (at `t_s`, integrated to first): paddy +mm of
        # standing water (the bund spills above +10 cm), upland Dr - mm (not below 0).
        if t_s is not None:
            self.advance(int(t_s))
        sim_water.add(self, mm)

    def sample(self, t_s):
        # The quantities at Unix second `t_s` (int), in vocabulary units; water_level on a
        # paddy only.
        t_s = int(t_s)
        self.advance(t_s)
        self.rng = _mix(self.key, t_s) or 1  # the noise of a moment, whoever asks
        season = self.season(t_s)
        local_s = (t_s + LOCAL_OFFSET_S) % DAY_S
        hour = local_s / 3600
        diurnal = math.sin(math.pi * (hour - 9) / 12)  # peak 15:00, low 03:00

        raining = self.rain_rate_mm_h(t_s // HOUR_S, season) > 0
        mean_c = 23 + 6 * season
        amplitude_c = 3 if raining else 4.5
        air_temp = mean_c + amplitude_c * diurnal + self.noise(0.3)
        soil_temp = mean_c + 0.5 + 1.2 * math.sin(math.pi * (hour - 12) / 12)
        soil_temp += self.noise(0.1)
        air_rh = 82 + 4 * season - 14 * diurnal + (12 if raining else 0)
        air_rh = _clamp(air_rh + self.noise(2), 60.0, 100.0)
        pressure = 100900 - 600 * season + 120 * math.cos(math.pi * (hour - 10) / 6)
        pressure += self.noise(30)

        # (bucket_mm, water, paddy, theta_fc, zr_m: set by sim_water.setup)
        tips = int(self.bucket_mm / self.tip_mm)  # type: ignore[attr-defined]
        self.bucket_mm -= tips * self.tip_mm  # type: ignore[attr-defined]

        water = self.water  # type: ignore[attr-defined]
        paddy = self.paddy  # type: ignore[attr-defined]
        if paddy:
            water_level = water + self.noise(0.003)
            if water >= 0:
                soil_vwc = 44 + self.noise(0.5)  # saturated puddled soil
            else:  # -0.25 m -> ~21.5 %
                soil_vwc = 44 + 90 * water + self.noise(0.5)
            soil_vwc = _clamp(soil_vwc, 15.0, 45.0)
        else:  # theta = theta_FC - Dr / (10 Zr), % (FAO-56 eq. 82/86 inverted)
            theta_fc, zr_m = self.theta_fc, self.zr_m  # type: ignore[attr-defined]
            soil_vwc = theta_fc - water / (10 * zr_m) + self.noise(0.5)

        leaf_wet = 1.0 if raining else _clamp((air_rh - 85) / 12, 0.0, 1.0)
        sun = max(0, math.sin(math.pi * (hour - 6) / 12))  # solar panel
        battery = _clamp(3.75 + 0.4 * sun + self.noise(0.02), 3.6, 4.2)
        rssi = int(_clamp(self.rssi_base + self.noise(6), -95, -60))

        out = {
            "soil_vwc": round(soil_vwc, 1),
            "soil_temp": round(soil_temp, 2),
            "air_temp": round(air_temp, 2),
            "air_rh": round(air_rh, 1),
            "air_pressure": int(pressure),
            "rain": round(tips * self.tip_mm, 2),
            "leaf_wet": round(leaf_wet, 2),
            "battery": round(battery, 3),
            "rssi": rssi,
        }
        if paddy:
            out["water_level"] = round(water_level, 3)
        return out
