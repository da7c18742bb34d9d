"""Hourly soil-water simulation of one upland field: the "truth" the forecaster is tested on.

Place in the data path: tests and the demo. `forecasting.weather` generates Ninh Bình weather,
this module turns it into what a field's node would have reported over a season (`soil_vwc`,
`rain`, ...) together with the true root-zone water content it could not see exactly. The
soil-moisture forecaster (`forecasting.model`, `forecasting.backtest`) is trained and
backtested on these series, against persistence and against the FAO-56 daily bucket
(`forecasting.water_balance`).

Why a different model from FAO-56 chapter 8
-------------------------------------------
If the truth were the FAO-56 bucket, the FAO-56 baseline would be perfect by construction.
This simulation keeps FAO-56's crop side (Kc, p, Ks) but replaces its soil side by processes
that the daily bucket leaves out and that a root-zone probe does see:

- it steps hourly, with hourly ET0 from the generated weather (FAO-56 eq. 53), not daily;
- water above field capacity drains gradually over days (AquaCrop's drainage function)
  instead of at once (FAO-56 eq. 88), so a probe reads above field capacity after rain;
- rain enters by Green-Ampt infiltration: an intense shower on a clay runs off while the
  same amount as drizzle soaks in; FAO-56's SCS curve number only sees the daily total;
- the farmer irrigates when the depletion passes RAW, but late and by eye;
- the probe reads the truth with a per-node calibration offset, noise, ADC quantisation and
  gaps.

Upland crops only (maize, cabbage, tomato, ...). Paddy rice is ponded: its root zone stays
saturated and the advice follows the perched water level (`forecasting.awd`), so a rice crop
is refused here and the forecaster does not target it.

Equations (S1-S8 are this module's numbering; units in brackets)
----------------------------------------------------------------
Time step dt = 1 h; theta is the root-zone mean volumetric water content [m3 m-3] at the start
of each hour; Zr the root-zone depth [m]; depths of water [mm]; 1000 Zr theta = storage [mm].

- S1 Hourly reference evapotranspiration ET0 [mm h-1]: FAO-56 eq. 53 (Allen et al. 1998),
  by `forecasting.et0.hourly` on the hourly weather below. Negative hours (dew) count as 0
  for the crop.
- S2 Hourly solar radiation [MJ m-2 h-1]: the day's Rs (`weather.generate_daily`, Angstrom
  FAO-56 eq. 35) shared among the hours in proportion to the hourly extraterrestrial
  radiation Ra (FAO-56 eq. 28), i.e. the day's clearness Rs/Ra held for every hour (an
  assumption). Wind u2 [m s-1] is the day's mean for every hour (an assumption).
  Temperature and humidity: `weather.sensor_series`.
- S3 Crop transpiration [mm h-1]: ETc = Kc ET0 (FAO-56 eq. 56, single Kc; Kc by eq. 66 from
  `forecasting.crops.kc_curve`); ETc adj = Ks ETc (eq. 80) with
  Ks = (TAW - Dr) / ((1 - p) TAW) when Dr > RAW, else 1 (eq. 84), TAW = 1000 (theta_FC -
  theta_WP) Zr (eq. 82), RAW = p TAW (eq. 83), p = p_table + 0.04 (5 - ETc,day) limited to
  0.1-0.8 (Table 22 footnote, ETc,day the day's Kc ET0 [mm day-1]), Dr = 1000 (theta_FC -
  theta) Zr (eq. 86) at the start of the hour. Limited so theta never falls below theta_WP.
- S4 Drainage out of the root zone [m3 m-3 day-1], AquaCrop (Raes et al. 2009, Agron. J.
  101:438-447; Raes et al. 2012, AquaCrop Reference Manual, chapter 3 "drainage"):
  dtheta/dt = tau (theta_sat - theta_FC) (exp(theta - theta_FC) - 1) / (exp(theta_sat -
  theta_FC) - 1) for theta > theta_FC, else 0; integrated here in hourly explicit steps of
  dt = 1/24 day, and never below theta_FC.
- S5 Drainage characteristic tau [day-1] from the saturated conductivity Ksat [mm day-1]:
  tau = 0.0866 Ksat^0.35, limited to 0-1 (AquaCrop Reference Manual, chapter 3).
- S6 Infiltration capacity, Green-Ampt (Green & Ampt 1911; Chow, Maidment & Mays 1988,
  Applied Hydrology, section 4.3): rate f = K (1 + psi dtheta / F) [mm h-1], cumulative
  F - psi dtheta ln(1 + F / (psi dtheta)) = K t [mm]; F is the depth infiltrated since the
  rain event began, dtheta = theta_sat - theta at its start, psi the wetting-front suction
  [mm], K the conductivity [mm h-1]. Over an hour starting with F, the capacity is F' - F
  where F' solves F' - F - psi dtheta ln((F' + psi dtheta) / (F + psi dtheta)) = K dt
  (Newton's method); using the F actually infiltrated is the time-compression approximation
  for rain that does not pond at once (Chow et al. 1988, section 4.4). An event ends after
  `EVENT_GAP_H` dry hours.
- S7 Runoff [mm]: infiltration excess (rain beyond S6) plus saturation excess (water that
  would lift theta above theta_sat). Irrigation water is held by the furrows and basins
  until it soaks in, so it meets only the saturation limit.
- S8 Water balance of each hour [mm]:
  1000 Zr (theta(t+1) - theta(t)) = rain + irrigation - runoff - ETc adj - drainage,
  exactly (the tests close it to 0.1 mm over a season).

Soil hydraulic parameters (:data:`HYDRAULICS`)
----------------------------------------------
theta_FC and theta_WP are the field's own (FAO-56 Table 19, `forecasting.soils`). Saturation
(total porosity), the Green-Ampt suction psi and conductivity K per texture are Rawls,
Brakensiek & Miller (1983), J. Hydraulic Eng. 109(1):62-70, as tabulated in Chow et al.
(1988) Table 4.3.1; the same K [mm h-1 x 24 = mm day-1] gives tau (S5).

Farmer (:class:`Farmer`) and probe (:class:`Probe`), assumed values
-------------------------------------------------------------------
- Irrigation: once Dr > RAW, the farmer irrigates after a delay drawn uniformly from
  0-`max_delay_h` hours, at the next of the `hours` of the day when people water (early
  morning or late afternoon), with a depth of Dr x U(`under`, `over`) (judged by eye: a refill
  to field capacity give or take), unless rain has meanwhile brought Dr back below RAW / 2.
- Probe: soil_vwc [%] = 100 theta + offset + noise, offset ~ N(0, `offset_sd`) per node
  (what is left after a two-point calibration), noise ~ N(0, `noise_sd`) per reading,
  quantised like the node (the firmware's default two-point calibration [2600 counts, 5 %,
  1400 counts, 45 %] maps whole ADC counts to %, then rounds to 0.1 %), and missing hours:
  each hour lost with probability `dropout`, plus outages starting on a given hour with
  probability `outage_per_day` / 24 and lasting 2-24 h.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from forecasting import et0 as et0_mod
from forecasting import weather
from forecasting.crops import kc_curve
from forecasting.et0 import InputError
from forecasting.water_balance import Field, depletion_fraction

EVENT_GAP_H = 6  # dry hours that end a rain event (Green-Ampt F and dtheta restart)
_DAY_H = 24.0


@dataclass(frozen=True)
class Hydraulics:
    """Soil hydraulic parameters beyond FAO-56's theta_FC and theta_WP.

    theta_sat: water content at saturation = total porosity (m3 m-3).
    psi_mm: Green-Ampt wetting-front soil suction head (mm).
    k_mm_h: Green-Ampt hydraulic conductivity (mm h-1).
    source: citation.
    """

    theta_sat: float
    psi_mm: float
    k_mm_h: float
    source: str = "Rawls, Brakensiek & Miller (1983); Chow et al. (1988) Table 4.3.1"

    @property
    def tau(self) -> float:
        """AquaCrop drainage characteristic tau (day-1) = 0.0866 Ksat^0.35, Ksat in mm day-1
        (S5), limited to 0..1."""
        return float(min(max(0.0866 * (self.k_mm_h * _DAY_H) ** 0.35, 0.0), 1.0))


# Rawls, Brakensiek & Miller (1983) via Chow et al. (1988) Table 4.3.1: total porosity,
# wetting-front suction head psi (cm -> mm), hydraulic conductivity K (cm/h -> mm/h); keyed by
# the texture names of `forecasting/data/soils.csv`.
HYDRAULICS: dict[str, Hydraulics] = {
    "clay": Hydraulics(0.475, 316.3, 0.3),
    "silty_clay": Hydraulics(0.479, 292.2, 0.5),
    "silty_clay_loam": Hydraulics(0.471, 273.0, 1.0),
    "clay_loam": Hydraulics(0.464, 208.8, 1.0),
    "silt_loam": Hydraulics(0.501, 166.8, 6.5),
    "loam": Hydraulics(0.463, 88.9, 3.4),
    "sandy_loam": Hydraulics(0.453, 110.1, 10.9),
    "sandy_clay_loam": Hydraulics(0.398, 218.5, 1.5),
}


def hydraulics_of(texture: str) -> Hydraulics:
    """The :data:`HYDRAULICS` row of a soil texture; InputError when there is none."""
    try:
        return HYDRAULICS[texture]
    except KeyError:
        raise InputError(
            f"no hydraulic parameters for soil texture {texture!r} (known: {sorted(HYDRAULICS)})"
        ) from None


@dataclass(frozen=True)
class Farmer:
    """The irrigation habit (see the module notes). Hours are local clock hours."""

    max_delay_h: float = 36.0
    hours: tuple[int, ...] = (6, 7, 16, 17)
    under: float = 0.8
    over: float = 1.1
    enabled: bool = True


@dataclass(frozen=True)
class Probe:
    """The soil-moisture probe's errors (see the module notes); % = % volumetric."""

    offset_sd: float = 1.0
    noise_sd: float = 0.3
    dropout: float = 0.01
    outage_per_day: float = 0.01
    cal: tuple[float, float, float, float] = (2600.0, 5.0, 1400.0, 45.0)


def quantise_like_node(vwc: np.ndarray, cal: tuple[float, float, float, float]) -> np.ndarray:
    """VWC (%) as the node reports it: whole ADC counts through its two-point calibration
    `cal` = (dry counts, dry %, wet counts, wet %), clamped to 0-100 %, rounded to 0.1 %."""
    dry_raw, dry_vwc, wet_raw, wet_vwc = cal
    slope = (wet_raw - dry_raw) / (wet_vwc - dry_vwc)  # counts per %
    counts = np.rint(dry_raw + (vwc - dry_vwc) * slope)
    value = dry_vwc + (counts - dry_raw) / slope
    return np.round(np.clip(value, 0.0, 100.0), 1)


def hourly_weather(
    daily: pd.DataFrame,
    seed: int | np.random.Generator | None = 0,
    latitude: float = weather.LATITUDE,
    longitude: float = weather.LONGITUDE,
    elevation: float = weather.ELEVATION,
    tz: str = weather.TIME_ZONE,
) -> pd.DataFrame:
    """Hourly weather with ET0 from daily generated weather (S1, S2).

    daily: as `weather.generate_daily` returns. Returns a tz-aware hourly frame (timestamps =
    start of each hour) with air_temp (°C), air_rh (%), leaf_wet (0-1), rain (mm in the hour),
    u2 (m s-1), rs (MJ m-2 h-1) and et0 (mm h-1, FAO-56 eq. 53).
    """
    hourly = weather.sensor_series(daily, "1h", seed=seed, tz=tz, latitude=latitude)
    dates = pd.DatetimeIndex(daily.index).normalize()
    # sensor_series indexes its frame by a tz-aware pd.date_range
    local = cast(pd.DatetimeIndex, hourly.index).tz_localize(None).normalize()
    day = np.asarray((local - dates[0]) / pd.Timedelta(days=1), dtype=int)
    frame = pd.DataFrame(
        {
            "t": hourly["air_temp"].to_numpy(),
            "rh": hourly["air_rh"].to_numpy(),
            "u2": daily["u2"].to_numpy(float)[day],
            "rs": 0.0,
        },
        index=hourly.index,
    )
    ra = et0_mod.hourly_terms(frame, latitude, longitude, elevation)["ra"].to_numpy()
    ra_day = np.bincount(day, weights=ra, minlength=len(dates))
    share = np.where(ra_day[day] > 0, ra / np.where(ra_day[day] > 0, ra_day[day], 1.0), 0.0)
    frame["rs"] = daily["rs"].to_numpy(float)[day] * share  # S2
    hourly["u2"] = frame["u2"]
    hourly["rs"] = frame["rs"]
    hourly["et0"] = et0_mod.hourly(frame, latitude, longitude, elevation).to_numpy()  # S1
    return hourly


def _green_ampt_capacity(f_cum: float, psi_dtheta: float, k: float) -> float:
    """Infiltration capacity (mm) of the next hour after `f_cum` mm infiltrated (S6)."""
    if psi_dtheta <= 0.0:
        return k
    a = f_cum + psi_dtheta
    # x = F' - F solves x - psi_dtheta ln(1 + x / a) = k; start above the root and Newton down
    x = k + math.sqrt(2.0 * psi_dtheta * k) + 1e-9
    while x - psi_dtheta * math.log1p(x / a) - k < 0.0:
        x *= 2.0
    for _ in range(30):
        g = x - psi_dtheta * math.log1p(x / a) - k
        dg = 1.0 - psi_dtheta / (a + x)
        step = g / dg
        x -= step
        if abs(step) < 1e-9:
            break
    return max(x, k)


def _root_depth(field: Field) -> float:
    if field.zr_initial is not None:
        raise InputError("soil_sim simulates a fixed root zone: give a Field without zr_initial")
    return float(field.crop.zr_min if field.zr_max is None else field.zr_max)


def simulate(
    field: Field,
    seed: int = 0,
    days: int | None = None,
    daily_weather: pd.DataFrame | None = None,
    theta0: float | None = None,
    hydraulics: Hydraulics | None = None,
    farmer: Farmer | None = None,
    probe: Probe | None = None,
) -> pd.DataFrame:
    """Simulate one field's root zone hour by hour from its planting date (S1-S8).

    field: an upland crop on a soil (`forecasting.water_balance.Field`); the root zone is
      `field.zr_max` (default the crop's Table 22 zr_min) deep all season.
    seed: seeds the weather, the farmer and the probe (reproducible).
    days: days to simulate (default the crop's season); the frame covers whole local days.
    daily_weather: daily weather as `weather.generate_daily` returns, from the planting date
      (default: generated with `seed`).
    theta0: water content at the start (m3 m-3); default drawn between theta_FC - 0.3 (theta_FC
      - theta_WP) and theta_FC (the land is prepared and usually watered at sowing).
    hydraulics, farmer, probe: default `HYDRAULICS[field.soil.texture]`, `Farmer()`, `Probe()`.

    Returns a tz-aware hourly frame (Asia/Ho_Chi_Minh; a timestamp is the start of its hour;
    fluxes are over that hour, states at its start) with columns:
    theta (true root-zone water content, m3 m-3), soil_vwc (the probe's reading, %, NaN when
    missed), rain, irrigation, infiltration, runoff, drainage, et (ETc adj), etc (Kc ET0)
    (all mm in the hour), et0 (mm h-1), kc, ks (-), dr (depletion at the start, mm), raw, taw
    (mm), day (of season, 1 = planting day), and the weather columns air_temp (°C), air_rh
    (%), leaf_wet (0-1), u2 (m s-1), rs (MJ m-2 h-1). `attrs` holds zr (m), theta_end (m3 m-3
    after the last hour), probe_offset (%), hydraulics and seed.
    """
    crop = field.crop
    if crop.key.startswith("rice"):
        raise InputError(
            f"{crop.key} is paddy rice: ponded fields are followed by their water level "
            "(forecasting.awd), not by this upland root-zone simulation"
        )
    hyd = hydraulics or hydraulics_of(field.soil.texture)
    farmer = farmer or Farmer()
    probe = probe or Probe()
    fc, wp, sat = field.soil.theta_fc, field.soil.theta_wp, hyd.theta_sat
    if not wp < fc < sat:
        raise InputError(f"need theta_WP < theta_FC < theta_sat, got {wp}, {fc}, {sat}")
    zr = _root_depth(field)
    days = crop.season_days if days is None else int(days)
    seeds = np.random.SeedSequence(seed).spawn(4)
    rng_weather, rng_farm, rng_probe = (np.random.default_rng(s) for s in seeds[:3])
    if daily_weather is None:
        daily_weather = weather.generate_daily(field.planting_date, days, seed=rng_weather)
    else:
        daily_weather = daily_weather.iloc[:days]
        if len(daily_weather) < days:
            raise InputError(f"daily_weather has {len(daily_weather)} days, need {days}")
    hw = hourly_weather(daily_weather, seed=rng_weather)
    n = len(hw)
    local = cast(pd.DatetimeIndex, hw.index).tz_localize(None)  # hourly_weather's, tz-aware
    season_day = ((local.normalize() - pd.Timestamp(field.planting_date)).days + 1).to_numpy()
    clock_hour = local.hour.to_numpy()
    kc = np.nan_to_num(kc_curve(crop, season_day), nan=crop.kc_end)
    et0_h = hw["et0"].to_numpy(float)
    etc_h = kc * np.maximum(et0_h, 0.0)  # S3, mm h-1
    etc_day = np.bincount(season_day - season_day[0], weights=etc_h)[season_day - season_day[0]]
    p = np.asarray(depletion_fraction(crop.p, etc_day))  # Table 22 footnote
    taw = 1000.0 * (fc - wp) * zr
    raw = p * taw
    rain = hw["rain"].to_numpy(float)

    mm_per_theta = 1000.0 * zr
    tau_h = hyd.tau / _DAY_H
    drain_scale = (sat - fc) / math.expm1(sat - fc)
    storage_sat = sat * mm_per_theta
    storage_fc, storage_wp = fc * mm_per_theta, wp * mm_per_theta
    if theta0 is None:
        theta0 = fc - 0.3 * (fc - wp) * float(rng_farm.random())
    storage = float(theta0) * mm_per_theta

    out = {
        name: np.zeros(n)
        for name in ("theta", "irrigation", "infiltration", "runoff", "drainage", "et", "ks", "dr")
    }
    pending: float | None = None  # hour index of the planned irrigation
    f_cum, psi_dtheta, dry_hours = 0.0, 0.0, EVENT_GAP_H
    farm_hours = set(farmer.hours)
    for i in range(n):  # sequential: each hour starts from the last
        theta = storage / mm_per_theta
        dr = storage_fc - storage
        out["theta"][i], out["dr"][i] = theta, dr
        # the farmer (module notes)
        irrigation = 0.0
        if farmer.enabled:
            if pending is None and dr > raw[i]:
                pending = i + float(rng_farm.uniform(0.0, farmer.max_delay_h))
            if pending is not None and i >= pending and clock_hour[i] in farm_hours:
                if dr > 0.5 * raw[i]:
                    irrigation = dr * float(rng_farm.uniform(farmer.under, farmer.over))
                pending = None
        # rain: Green-Ampt infiltration capacity (S6), infiltration excess (S7)
        runoff = 0.0
        infiltration = irrigation
        if rain[i] > 0.0:
            if dry_hours >= EVENT_GAP_H:  # a new event
                f_cum, psi_dtheta = 0.0, hyd.psi_mm * max(sat - theta, 0.0)
            capacity = _green_ampt_capacity(f_cum, psi_dtheta, hyd.k_mm_h)
            into = min(rain[i], capacity)
            runoff = rain[i] - into
            f_cum += into
            infiltration += into
            dry_hours = 0
        else:
            dry_hours += 1
        # saturation excess (S7)
        room = storage_sat - storage
        if infiltration > room:
            runoff += infiltration - room
            infiltration = room
        storage += infiltration
        # drainage (S4, S5)
        drainage = 0.0
        if storage > storage_fc:
            th = storage / mm_per_theta
            rate = tau_h * drain_scale * math.expm1(th - fc) * mm_per_theta  # mm in the hour
            drainage = min(rate, storage - storage_fc)
            storage -= drainage
        # transpiration under water stress (S3), Ks from the depletion at the hour's start
        if dr > raw[i]:
            ks = max(min((taw - dr) / (taw - raw[i]), 1.0), 0.0)
        else:
            ks = 1.0
        et = min(ks * etc_h[i], max(storage - storage_wp, 0.0))
        storage -= et
        out["irrigation"][i], out["infiltration"][i], out["runoff"][i] = (
            irrigation,
            infiltration,
            runoff,
        )
        out["drainage"][i], out["et"][i], out["ks"][i] = drainage, et, ks

    # the probe
    offset = float(rng_probe.normal(0.0, probe.offset_sd))
    reading = 100.0 * out["theta"] + offset + rng_probe.normal(0.0, probe.noise_sd, n)
    reading = quantise_like_node(reading, probe.cal)
    lost = rng_probe.random(n) < probe.dropout
    for start in np.flatnonzero(rng_probe.random(n) < probe.outage_per_day / _DAY_H):
        lost[start : start + int(rng_probe.integers(2, 25))] = True
    reading[lost] = np.nan

    frame = pd.DataFrame(
        {
            "theta": out["theta"],
            "soil_vwc": reading,
            "rain": rain,
            "irrigation": out["irrigation"],
            "infiltration": out["infiltration"],
            "runoff": out["runoff"],
            "drainage": out["drainage"],
            "et": out["et"],
            "etc": etc_h,
            "et0": et0_h,
            "kc": kc,
            "ks": out["ks"],
            "dr": out["dr"],
            "raw": raw,
            "taw": np.full(n, taw),
            "day": season_day,
            **{c: hw[c].to_numpy() for c in ("air_temp", "air_rh", "leaf_wet", "u2", "rs")},
        },
        index=hw.index,
    )
    frame.attrs.update(
        zr=zr,
        theta_end=storage / mm_per_theta,
        probe_offset=offset,
        hydraulics=dataclasses.asdict(hyd),
        seed=seed,
    )
    return frame
