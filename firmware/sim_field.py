"""A deterministic simulated rice paddy in northern Vietnam (Ninh Binh), for the host HAL.

Same seed, field and sample times -> same readings on MicroPython and CPython (own PRNG, integer
time arithmetic, so a board's single-precision floats do not blur a 1.8e9-second clock).
Climate shape: monsoon (wet, hot) summer, cool dry winter (Jan mean ~17 Cel, Jul ~29 Cel),
diurnal cycle peaking mid-afternoon local time (UTC+7); water managed with Alternate Wetting
and Drying (flood to +5 cm, drain down to -25 cm, re-flood).
"""

import math

LOCAL_OFFSET_S = 7 * 3600  # Indochina Time, UTC+7
DAY_S = 86400
HOUR_S = 3600
TIP_MM = 0.2  # tipping-bucket resolution
AWD_PERIOD_S = 9 * DAY_S
_MASK = 0xFFFFFFFF


def _mix(a, b):
    """32-bit integer hash of two ints (a splitmix-style finaliser); same on every port."""
    x = (a * 0x9E3779B1 + b * 0x85EBCA77 + 0x165667B1) & _MASK
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & _MASK
    x ^= x >> 12
    x = (x * 0x297A2D39) & _MASK
    x ^= x >> 15
    return x


def _name_hash(text):
    """FNV-1a of a str; `hash()` differs between ports, this does not."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & _MASK
    return h


class Rng:
    """xorshift32 PRNG: triangular noise, deterministic per seed."""

    def __init__(self, seed):
        self.state = _mix(seed, 0x5EED) or 1

    def next_u32(self):
        x = self.state
        x ^= (x << 13) & _MASK
        x ^= x >> 17
        x ^= (x << 5) & _MASK
        self.state = x
        return x

    def noise(self, amplitude):
        """Triangular noise in (-amplitude, amplitude)."""
        return amplitude * ((self.next_u32() + self.next_u32()) / 4294967296.0 - 1.0)


def _clamp(value, low, high):
    return low if value < low else min(value, high)


class Field:
    """One simulated field: call `sample(t_s)` with increasing Unix seconds."""

    def __init__(self, name, seed):
        self.key = _mix(_name_hash(name), seed)
        self.rng = Rng(self.key)
        self.awd_phase_s = self.key % AWD_PERIOD_S
        self.rssi_base = -70 - (self.key % 18)  # this node's link budget, dBm
        self.prev_t_s = None
        self.bucket_mm = 0.0  # rain in the funnel, not yet a full tip

    def season(self, t_s):
        """-1 in mid-January (cold, dry) .. +1 in mid-July (hot, monsoon)."""
        doy = (t_s // DAY_S) % 365
        return -math.cos(2 * math.pi * (doy - 15) / 365.0)

    def rain_rate_mm_h(self, hour_index, season):
        """Rain intensity in hour `hour_index` since the epoch, mm/h (0 when dry)."""
        chance = 0.09 + 0.06 * season  # 15 % of hours wet in the monsoon, 3 % in winter
        if _mix(self.key, hour_index) / 4294967296.0 >= chance:
            return 0.0
        strength = _mix(self.key ^ 0xA5A5, hour_index) / 4294967296.0
        return 0.5 + 9.0 * strength * strength * strength  # mean ~2.8 mm/h, bursts to 9.5

    def rain_between(self, t0_s, t1_s, season):
        """Rain that fell in (t0, t1], mm (integral of the hourly rates, at most 2 days)."""
        t0_s = max(t0_s, t1_s - 2 * DAY_S)
        total = 0.0
        t = t0_s
        while t < t1_s:
            hour = t // HOUR_S
            end = min(t1_s, (hour + 1) * HOUR_S)
            total += self.rain_rate_mm_h(hour, season) * (end - t) / HOUR_S
            t = end
        return total

    def sample(self, t_s):
        """All ten quantities at Unix second `t_s` (int), in vocabulary units."""
        t_s = int(t_s)
        rng = self.rng
        season = self.season(t_s)
        local_s = (t_s + LOCAL_OFFSET_S) % DAY_S
        hour = local_s / 3600.0
        diurnal = math.sin(2 * math.pi * (hour - 9.0) / 24.0)  # peak 15:00, low 03:00

        raining = self.rain_rate_mm_h(t_s // HOUR_S, season) > 0
        mean_c = 23.0 + 6.0 * season
        amplitude_c = 3.0 if raining else 4.5
        air_temp = mean_c + amplitude_c * diurnal + rng.noise(0.3)
        soil_temp = mean_c + 0.5 + 1.2 * math.sin(2 * math.pi * (hour - 12.0) / 24.0)
        soil_temp += rng.noise(0.1)
        air_rh = 82.0 + 4.0 * season - 14.0 * diurnal + (12.0 if raining else 0.0)
        air_rh = _clamp(air_rh + rng.noise(2.0), 60.0, 100.0)
        pressure = 100900 - 600 * season + 120 * math.cos(4 * math.pi * (hour - 10.0) / 24.0)
        pressure += rng.noise(30.0)

        if self.prev_t_s is None or t_s <= self.prev_t_s:
            fallen = 0.0
        else:
            fallen = self.rain_between(self.prev_t_s, t_s, season)
        self.prev_t_s = t_s
        self.bucket_mm += fallen
        tips = int(self.bucket_mm / TIP_MM)
        self.bucket_mm -= tips * TIP_MM

        # AWD sawtooth: re-flooded to +5 cm, drains ~3.3 cm/day to -25 cm
        awd = ((t_s + self.awd_phase_s) % AWD_PERIOD_S) / AWD_PERIOD_S
        water_level = 0.05 - 0.30 * awd + rng.noise(0.003)
        water_level = _clamp(water_level, -0.25, 0.05)
        if water_level >= 0:
            soil_vwc = 44.0 + rng.noise(0.5)  # saturated puddled soil
        else:
            soil_vwc = 44.0 + 90.0 * water_level + rng.noise(0.5)  # -0.25 m -> ~21.5 %
        soil_vwc = _clamp(soil_vwc, 20.0, 45.0)

        leaf_wet = 1.0 if raining else _clamp((air_rh - 85.0) / 12.0, 0.0, 1.0)
        sun = max(0.0, math.sin(2 * math.pi * (hour - 6.0) / 24.0))  # solar panel
        battery = _clamp(3.75 + 0.4 * sun + rng.noise(0.02), 3.6, 4.2)
        rssi = int(_clamp(self.rssi_base + rng.noise(6.0), -95.0, -60.0))

        return {
            "soil_vwc": round(soil_vwc, 1),
            "soil_temp": round(soil_temp, 2),
            "air_temp": round(air_temp, 2),
            "air_rh": round(air_rh, 1),
            "air_pressure": int(pressure),
            "rain": round(tips * TIP_MM, 1),
            "leaf_wet": round(leaf_wet, 2),
            "water_level": round(water_level, 3),
            "battery": round(battery, 3),
            "rssi": rssi,
        }
