# The simulated field's water (for sim_field.Field, host only): a paddy's level under AWD
# or an upland root zone's depletion, integrated hour by hour between samples from the
# simulated weather.
#
# ET0 of the simulated day by Hargreaves (FAO-56 eq. 52, Ra from eq. 21) from its own daily
# extremes, spread over daylight; ETc = Kc ET0 (eq. 56) with Kc on the day of season; upland:
# the root-zone depletion balance (eq. 85), Ks beyond RAW (eq. 84), deep percolation above field
# capacity (eq. 88); paddy: ETc and percolation lower the water, rain raises it. A simulated
# farmer may water by the book. Its own module, comments instead of docstrings, few names
# (locals too: each is a qstr, and MicroPython's qstr pools grow by doubling, the next one
# ~3.6 kB): the tests compile the firmware from source in a 64 kB heap, where the parser
# holds a module's whole tree, docstrings included.
# Reference: Allen, Pereira, Raes, Smith (1998), FAO Irrigation and Drainage Paper 56.

import math

from compat import const

LOCAL_OFFSET_S = const(25200)  # Indochina Time, UTC+7
DAY_S = const(86400)
HOUR_S = const(3600)
# Paddy water levels (m, + above the soil surface). AWD (IRRI safe AWD): re-flood to +5 cm
# once the level in the field tube is 15 cm below the surface (the -0.15 in `advance`); the
# bund spills above 10 cm (in `add`). The roots' reach, -0.30 m (in `add`): ET and
# percolation stop drawing the table lower. Below the surface a mm of water lost lowers the
# table by 1 / 0.2 mm (in `add`): the drainable porosity (specific yield) of a puddled
# clay-loam paddy, ~0.2 (Bouman et al. 2007, "Water management in irrigated rice", IRRI: a
# perched table in the puddled layer). Ninh Binh is at 20.25 N (the default `lat`).
REFLOOD_M = 0.05


def _clamp(x, low, high):
    return low if x < low else min(x, high)


def kc(pairs, x):
    # Kc on day of season x: piecewise-linear through [[day, Kc], ...] (days increasing),
    # flat beyond the ends (FAO-56 eq. 66, Fig. 25).
    previous = pairs[0]
    if x <= previous[0]:
        return previous[1]
    for pair in pairs:
        if x <= pair[0]:
            return previous[1] + (pair[1] - previous[1]) * (x - previous[0]) / (
                pair[0] - previous[0]
            )
        previous = pair
    return previous[1]


def et0(lat, doy, low, high):
    # Reference ET0, mm/day: Hargreaves, FAO-56 eq. 52,
    # ET0 = 0.0023 (Tmean + 17.8) (Tmax - Tmin)^0.5 Ra, with Ra the extraterrestrial radiation
    # (FAO-56 eq. 21, MJ m-2 day-1; dr eq. 23, declination eq. 24, sunset hour angle eq. 25)
    # as evaporation (x 0.408, eq. 20).
    # lat: latitude (degrees, north +); doy: day of the year (1..366); low, high: the day's
    # extreme air temperatures Tmin, Tmax (Cel). (Integer literals where exact: each float
    # constant is a heap object on the unix port.)
    x = math.pi / 180 * lat  # phi, rad
    b = 2 * math.pi * doy / 365
    delta = 0.409 * math.sin(b - 1.39)
    w = math.acos(_clamp(-math.tan(x) * math.tan(delta), -1, 1))  # omega_s, eq. 25
    # 0.0352707 = 0.0023 (eq. 52) x 0.408 (eq. 20) x 24 x 60 / pi x Gsc 0.0820 (eq. 21)
    return (
        0.0352707 * ((low + high) / 2 + 17.8) * math.sqrt(high - low)
        * (1 + 0.033 * math.cos(b))  # dr, eq. 23
        * (w * math.sin(x) * math.sin(delta) + math.cos(x) * math.cos(delta) * math.sin(w))
    )  # fmt: skip


def sun(local_s):
    # Share of a day's ET0 spent by `local_s` seconds after local midnight: a half sine from
    # 06:00 to 18:00 (cumulative: (1 - cos(pi (h - 6) / 12)) / 2).
    h = local_s / 3600
    if h <= 6:
        return 0
    if h >= 18:
        return 1
    return (1 - math.cos(math.pi * (h - 6) / 12)) / 2


# The water of one field, kept on its sim_field.Field `f` (these functions are its methods;
# a class of their own would cost the 64 kB heap a second object and its dict). f.paddy: True
# for a paddy (f.water the level, m), else upland (f.water the depletion Dr, mm; f.taw and
# f.raw in mm: FAO-56 eq. 82 and 83 with theta in %).


def setup(f, sim, key):
    # f's water from `sim` (sim_field.Field's) and its state; key: the field's hash
    get = sim.get
    paddy = f.paddy = get("kind", "paddy") == "paddy"
    f.planted_s = get("planted_s")
    f.kc = get("kc") or [[1, 1.1 if paddy else 1]]
    f.lat = get("lat", 20.25)
    f.auto = get("auto_farmer", True)
    f.perc_mm_d = get("perc_mm_d", 3)
    f.theta_fc = get("theta_fc", 36)
    f.zr_m = get("zr_m", 0.5)
    taw = f.taw = 10 * (f.theta_fc - get("theta_wp", 22)) * f.zr_m  # FAO-56 eq. 82
    f.raw = get("p", 0.5) * taw  # FAO-56 eq. 83
    get = (get("state") or {}).get
    spread = (key % 1000) / 1000  # a default state differing between fields
    f.t_s = get("t_s")  # None: the state starts at the first sample
    if paddy:
        f.water = get("level_m", REFLOOD_M - 0.2 * spread)
    else:
        f.water = get("dr_mm", 0.8 * spread * f.raw)
    f.due_s = get("due_s")  # when the farmer will water (auto_farmer)
    f.bucket_mm = get("bucket_mm", 0)  # rain in the gauge's funnel, not yet a tip
    f.et0 = (None, 0)  # (local day, its ET0 in mm): the last day's, cached


def state(f):
    # {t_s, level_m | dr_mm, due_s, bucket_mm}: what a new Field needs to go on from here
    return {
        "t_s": f.t_s,
        "level_m" if f.paddy else "dr_mm": f.water,
        "due_s": f.due_s,
        "bucket_mm": f.bucket_mm,
    }


def _et0_day(f, day):
    # ET0 (mm/day) of local day `day` (days since the epoch, UTC+7): Hargreaves from the
    # weather's own daily extremes (mean 23 + 6 season, half range 4.5 Cel, 3 in rain: the
    # share of wet hours narrows it; sim_field.Field.sample)
    if day != f.et0[0]:
        t0_s = day * DAY_S - LOCAL_OFFSET_S
        season = f.season(t0_s + DAY_S // 2)
        total = 0  # wet hours
        for h in range(24):
            if f.rain_rate_mm_h(t0_s // HOUR_S + h, season) > 0:
                total += 1
        delta = 4.5 - 1.5 * total / 24  # half the daily range
        mean_c = 23 + 6 * season
        # day of the year within a day: mean Gregorian years since 2000-01-01 (UTC)
        doy = (day - 10957) % 365.2425 + 1
        f.et0 = (day, et0(f.lat, doy, mean_c - delta, mean_c + delta))
    return f.et0[1]


def add(f, mm):
    # `mm` of water into the field (negative: out). Paddy: standing water, 1 mm = 1 mm of
    # level (the bund spills above +10 cm); below the surface the table moves mm / 0.2 (the
    # drainable porosity), down to -0.30 m. Upland: Dr - mm, FAO-56 eq. 85 (no runoff or
    # capillary rise); Dr below 0 is deep percolation (eq. 88).
    if f.paddy:
        x = 1000 * f.water
        mm += x if x >= 0 else x * 0.2
        f.water = _clamp((mm if mm >= 0 else mm / 0.2) / 1000, -0.30, 0.10)
    else:
        f.water = _clamp(f.water - mm, 0, f.taw)


def advance(f, t1_s):
    # Integrate to Unix second `t1_s`, hour by hour, under f's weather (season,
    # rain_rate_mm_h); the rain that fell goes into f.bucket_mm.
    t = f.t_s
    if t is None:  # a state without a time starts here
        f.t_s = t1_s
        return
    while t < t1_s:
        hour = t // HOUR_S
        end = min(t1_s, (hour + 1) * HOUR_S)
        rain = f.rain_rate_mm_h(hour, f.season(t)) * (end - t) / HOUR_S
        day = (t + LOCAL_OFFSET_S) // DAY_S
        local_s = t + LOCAL_OFFSET_S - day * DAY_S
        # ETc = Kc ET0 (FAO-56 eq. 56), Kc on the day of season (1 = planting day), ET0
        # spread over daylight
        mm = kc(f.kc, 0 if f.planted_s is None else (t - f.planted_s) // DAY_S + 1)
        mm *= _et0_day(f, day) * (sun(local_s + end - t) - sun(local_s))
        if f.paddy:
            mm += f.perc_mm_d * (end - t) / DAY_S  # percolation and seepage
        elif f.water > f.raw:  # FAO-56 eq. 84: Ks < 1 beyond RAW, Dr < TAW
            mm *= (f.taw - f.water) / (f.taw - f.raw)
        add(f, rain - mm)
        f.bucket_mm += rain
        t = end
        # the simulated farmer waters by the book, 6 to 17 hours after the threshold
        if not f.auto:
            continue
        if not (f.water < -0.15 if f.paddy else f.water > f.raw):
            f.due_s = None
        elif f.due_s is None:
            f.due_s = t + (6 + f.key % 12) * HOUR_S
        elif t >= f.due_s:
            f.due_s = None
            f.water = REFLOOD_M if f.paddy else 0
    f.t_s = t  # t1_s, or where it was when asked for an earlier time
