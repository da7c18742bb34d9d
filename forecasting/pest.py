"""Rice pest and disease risk from published weather rules, explained in Vietnamese and English.

Place in the data path: the store's `readings` of a field (air_temp, air_rh, optional leaf_wet
and rain, 15-min or hourly) and its crop's days after transplanting -> :func:`assess` -> one
:class:`Risk` per rule (level 0-3, the reason with the numbers that triggered it, the rule id
and its citation) -> the `forecasts` measurement and the farmer's screen. When scouting
observations exist, :func:`refine` fits a calibrated scikit-learn classifier on the rules'
features and prints whether it beats the rule on held-out time.

Rules (parameters and sources in `data/pest_rules.json`, loaded by :func:`load_rules`; every
parameter there says whether it is published, derived from published numbers, or our choice):

- Rice blast (Magnaporthe oryzae), :func:`blast_risk`: infection periods = continuous leaf-wetness
  spells of >= 10 h at a mean 20-28 °C (BLASTAM's wetness-duration x temperature criterion,
  Hashimoto et al. 1984, Koshimizu 1988, reduced to one duration threshold); the level counts
  them in the last 2 and 7 days.
- Sheath blight (Rhizoctonia solani), :func:`sheath_blight_risk`: potential vertical lesion rise
  over 7 days from hourly temperature and RH with the rates of Hashiba et al. (1982); hours at
  28-32 °C with RH >= 95 % are reported; before canopy closure the level is capped at 1.
- Brown planthopper (Nilaparvata lugens) and leaf folder (Cnaphalocrocis medinalis),
  :func:`planthopper_risk`, :func:`leaf_folder_risk`: degree-days since transplanting above the
  developmental threshold (horizontal cut-off above the upper threshold), generations =
  DD / thermal constant; warm humid weeks raise the level.
- Bacterial leaf blight (Xanthomonas oryzae pv. oryzae), :func:`bacterial_blight_risk`: hours at
  25-34 °C with RH >= 70 % in 3 days, raised by heavy rain or storm wind (IRRI Rice Knowledge
  Bank; Mew 1987).
- Stem borer is not modelled yet: we found no thermal constants we could verify.

Leaf wetness: the sensor's `leaf_wet` (wet when >= 0.5) where it reads, else RH >= 90 %
(Sentelhas et al. 2008), and any hour with >= 0.2 mm of rain is wet.

Missing data: a rule claims nothing it cannot see. If less than 80 % of the hours its window
needs hold data, its level is None and the reason says "not enough data"; totals over windows
with gaps (degree-days, lesion rise) are scaled up by the covered fraction.

Units: temperatures °C, RH %, leaf_wet 0-1, rain mm per reading, wind_speed m s-1, degree-days
°C day, lesion rise cm. Timestamps must be tz-aware; windows end at `at` (default: the end of
the data) and reach back whole hours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

RULES_JSON = Path(__file__).parent / "data" / "pest_rules.json"
MIN_COVERAGE = 0.8  # fraction of a window's hours that must hold data
HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


class InputError(ValueError):
    """The weather frame cannot be assessed: no tz-aware time index or no temperature."""


@dataclass(frozen=True)
class Risk:
    """One rule's verdict. level: 0 (none) .. 3 (high), or None when there was not enough
    data to say. features: the numbers behind it, for the store and for :func:`refine`."""

    rule_id: str
    pest_vi: str
    pest_en: str
    level: int | None
    reason_vi: str
    reason_en: str
    citation: str
    features: dict[str, float] = field(default_factory=dict)

    @property
    def enough_data(self) -> bool:
        return self.level is not None


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_rules(path: str | Path = RULES_JSON) -> dict[str, Any]:
    """Rule parameters and citations from `data/pest_rules.json` (cached)."""
    return _load(str(path))


# --- formatting ---------------------------------------------------------------------------


def _num(x: float, digits: int, lang: Literal["vi", "en"]) -> str:
    """A number as the farmer reads it: Vietnamese uses a decimal comma."""
    text = f"{x:.{digits}f}"
    return text.replace(".", ",") if lang == "vi" else text


def _no_data(rule: dict[str, Any], coverage: float, window_vi: str, window_en: str) -> Risk:
    pct = round(100 * coverage)
    return Risk(
        rule["id"],
        rule["name_vi"],
        rule["name_en"],
        None,
        f"Không đủ dữ liệu: chỉ có {pct} % số giờ cần trong {window_vi}",
        f"Not enough data: only {pct} % of the hours needed in {window_en}",
        rule["citation"],
        {"coverage": coverage},
    )


# --- weather preparation ------------------------------------------------------------------


def hourly_weather(weather: pd.DataFrame, rules: dict[str, Any] | None = None) -> pd.DataFrame:
    """Hourly means (sums for rain) of sensor readings, plus the leaf-wetness estimate.

    weather: tz-aware DatetimeIndex, columns air_temp (°C) required; air_rh (%), leaf_wet (0-1),
    rain (mm), wind_speed (m s-1) optional; any sampling interval up to an hour.
    Returns one row per hour (labelled by its start) with air_temp, air_rh (clipped 0-100),
    leaf_wet, rain, wind_speed (NaN where absent), `wet` (1.0 wet, 0.0 dry, NaN unknown) and
    `wet_from_sensor` (bool: the hour's wetness came from the leaf-wetness sensor).
    """
    if not isinstance(weather.index, pd.DatetimeIndex) or weather.index.tz is None:
        raise InputError("pest rules need a tz-aware DatetimeIndex (the farm's local time)")
    if "air_temp" not in weather.columns:
        raise InputError(f"column 'air_temp' is required (have {sorted(weather.columns)})")
    p = (rules or load_rules())["wetness"]
    frame = weather.sort_index()
    cols = {}
    for name in ("air_temp", "air_rh", "leaf_wet", "wind_speed"):
        if name in frame.columns:
            cols[name] = frame[name].astype(float).resample(HOUR).mean()
    if "rain" in frame.columns:
        cols["rain"] = frame["rain"].astype(float).resample(HOUR).sum(min_count=1)
    hourly = pd.DataFrame(cols)
    for name in ("air_rh", "leaf_wet", "rain", "wind_speed"):
        if name not in hourly.columns:
            hourly[name] = np.nan
    hourly["air_rh"] = hourly["air_rh"].clip(0.0, 100.0)
    sensor = hourly["leaf_wet"]
    from_rh = (
        (hourly["air_rh"] >= p["rh_threshold_pct"]).astype(float).where(hourly["air_rh"].notna())
    )
    wet = (sensor >= p["sensor_wet_fraction"]).astype(float).where(sensor.notna(), from_rh)
    rained = hourly["rain"] >= p["rain_wet_mm"]
    hourly["wet"] = wet.mask(rained, 1.0)
    hourly["wet_from_sensor"] = sensor.notna()
    return hourly


def _window(hourly: pd.DataFrame, at: pd.Timestamp, span: pd.Timedelta) -> pd.DataFrame:
    """The hours in [at - span, at), reindexed so missing hours appear as NaN rows."""
    start = (at - span).ceil("h")
    index = pd.date_range(start, at - HOUR, freq=HOUR)
    return hourly.reindex(index)


def _coverage(values: pd.Series) -> float:
    return float(values.notna().mean()) if len(values) else 0.0


def _end(hourly: pd.DataFrame, at: pd.Timestamp | None) -> pd.Timestamp:
    if at is not None:
        at = pd.Timestamp(at)
        if at.tz is None:
            raise InputError("`at` must be tz-aware, like the readings")
        return at.floor("h")  # windows are whole hours; an unfinished hour is left out
    return hourly.index[-1] + HOUR if len(hourly) else pd.Timestamp.now(tz="UTC")


def wet_spells(wet: pd.Series, air_temp: pd.Series) -> pd.DataFrame:
    """Continuous leaf-wetness spells in an hourly series.

    wet: 1.0/0.0/NaN per hour (NaN breaks a spell); air_temp: °C on the same index.
    Returns one row per spell: start, end (timestamp after its last hour), hours, mean_temp (°C).
    """
    is_wet = wet.fillna(0.0).to_numpy() >= 0.5
    if not is_wet.any():
        return pd.DataFrame(columns=["start", "end", "hours", "mean_temp"])
    run = np.cumsum(np.r_[True, is_wet[1:] != is_wet[:-1]])
    frame = pd.DataFrame({"t": air_temp.to_numpy(), "run": run, "time": wet.index})[is_wet]
    grouped = frame.groupby("run")
    spells = pd.DataFrame(
        {
            "start": grouped["time"].min(),
            "end": grouped["time"].max() + HOUR,
            "hours": grouped.size(),
            "mean_temp": grouped["t"].mean(),
        }
    )
    return spells.reset_index(drop=True)


def degree_days(air_temp: pd.Series, base: float, upper: float) -> float:
    """Degree-days (°C day) from hourly temperatures (°C): the sum of min(T, upper) - base over
    hours above `base`, divided by 24 (hourly averaging with a horizontal upper cut-off)."""
    t = air_temp.dropna().to_numpy()
    return float(np.clip(t - base, 0.0, upper - base).sum() / 24.0)


def _source_note(window: pd.DataFrame) -> tuple[str, str]:
    if window["wet_from_sensor"].eq(True).any():
        return "", ""
    return " (ước tính từ độ ẩm ≥ 90 %)", " (estimated from RH ≥ 90 %)"


# --- the rules ------------------------------------------------------------------------------


def _blast(hourly: pd.DataFrame, at: pd.Timestamp, dat: int | None, rules: dict) -> Risk:
    r = rules["blast"]
    window = _window(hourly, at, 7 * DAY)
    coverage = _coverage(window["wet"].where(window["air_temp"].notna()))
    if coverage < MIN_COVERAGE:
        return _no_data(r, coverage, "7 ngày qua", "the last 7 days")
    spells = wet_spells(window["wet"], window["air_temp"])
    ok = (
        (spells["hours"] >= r["min_wet_hours"])
        & spells["mean_temp"].between(r["t_low"], r["t_high"])
        if len(spells)
        else pd.Series(dtype=bool)
    )
    infection = spells[ok] if len(spells) else spells
    recent = infection[infection["end"] > at - 2 * DAY] if len(infection) else infection
    n2, n7 = len(recent), len(infection)
    level = 3 if n2 >= 1 and n7 >= 3 else 2 if n2 >= 1 or n7 >= 2 else 1 if n7 >= 1 else 0
    note_vi, note_en = _source_note(window)
    crit_vi = f"≥ {r['min_wet_hours']} h ướt ở {r['t_low']:.0f}-{r['t_high']:.0f} °C"
    crit_en = f"≥ {r['min_wet_hours']} h wet at {r['t_low']:.0f}-{r['t_high']:.0f} °C"
    if n7:
        best = (recent if n2 else infection).sort_values("hours").iloc[-1]
        when_vi, when_en = ("2 ngày qua", "the last 2 days") if n2 else ("7 ngày qua", "7 days")
        h, t = int(best["hours"]), best["mean_temp"]
        vi = (
            f"{h} h lá ướt ở {_num(t, 0, 'vi')} °C trong {when_vi}{note_vi}; "
            f"{n7} đợt nhiễm bệnh ({crit_vi}) trong 7 ngày"
        )
        en = (
            f"{h} h leaf wetness at {_num(t, 0, 'en')} °C in {when_en}{note_en}; "
            f"{n7} infection period{'s' if n7 > 1 else ''} ({crit_en}) in 7 days"
        )
    elif len(spells):
        longest = spells.sort_values("hours").iloc[-1]
        h, t = int(longest["hours"]), longest["mean_temp"]
        vi = (
            f"Đợt lá ướt dài nhất {h} h ở {_num(t, 0, 'vi')} °C trong 7 ngày qua{note_vi}, "
            f"chưa đủ điều kiện nhiễm bệnh ({crit_vi})"
        )
        en = (
            f"Longest leaf-wetness spell {h} h at {_num(t, 0, 'en')} °C in the last 7 days"
            f"{note_en}, short of an infection period ({crit_en})"
        )
    else:
        vi, en = (
            f"Không có giờ lá ướt trong 7 ngày qua{note_vi}",
            f"No leaf wetness in 7 days{note_en}",
        )
    if dat is not None and dat >= 75 and level > 1:  # ripening: past neck-blast susceptibility
        level = 1
        vi += "; lúa đã vào chắc, ít bị hại"
        en += "; the crop is ripening, little damage now"
    features = {
        "coverage": coverage,
        "infection_periods_2d": float(n2),
        "infection_periods_7d": float(n7),
        "longest_wet_h_7d": float(spells["hours"].max()) if len(spells) else 0.0,
        "wet_hours_7d": float(window["wet"].sum()),
    }
    return Risk(r["id"], r["name_vi"], r["name_en"], level, vi, en, r["citation"], features)


def _sheath_blight(hourly: pd.DataFrame, at: pd.Timestamp, dat: int | None, rules: dict) -> Risk:
    r = rules["sheath_blight"]
    window = _window(hourly, at, 7 * DAY)
    both = window["air_temp"].notna() & window["air_rh"].notna()
    coverage = float(both.mean())
    if coverage < MIN_COVERAGE:
        return _no_data(r, coverage, "7 ngày qua", "the last 7 days")
    t, rh = window["air_temp"][both].to_numpy(), window["air_rh"][both].to_numpy()
    rate = np.interp(t, r["rate_t_degc"], r["rate_cm_day"], left=0.0, right=0.0)
    factor = np.interp(rh, r["rh_pct"], r["rh_factor"], left=0.0, right=1.0)
    rise_cm = float((rate * factor).sum() / 24.0 / coverage)  # scaled to the whole 7 days
    warm_humid = int(((t >= r["warm_low"]) & (t <= r["warm_high"]) & (rh >= r["humid_rh"])).sum())
    level = int(np.searchsorted(r["level_cm"], rise_cm, side="right"))
    vi = (
        f"{warm_humid} h ở {r['warm_low']:.0f}-{r['warm_high']:.0f} °C với độ ẩm "
        f"≥ {r['humid_rh']:.0f} % trong 7 ngày qua; vết bệnh có thể leo {_num(rise_cm, 1, 'vi')} cm"
    )
    en = (
        f"{warm_humid} h at {r['warm_low']:.0f}-{r['warm_high']:.0f} °C with RH "
        f"≥ {r['humid_rh']:.0f} % in the last 7 days; lesions could climb {rise_cm:.1f} cm"
    )
    if dat is not None and dat < r["susceptible_from_dat"] and level > 1:
        level = 1
        vi += "; lúa chưa khép tán"
        en += "; the canopy has not closed yet"
    features = {
        "coverage": coverage,
        "lesion_rise_cm_7d": rise_cm,
        "warm_humid_h_7d": float(warm_humid),
    }
    return Risk(r["id"], r["name_vi"], r["name_en"], level, vi, en, r["citation"], features)


_BROOD = {
    "brown_planthopper": ("lứa rầy", "planthopper generations"),
    "leaf_folder": ("lứa sâu", "leaf-folder generations"),
}


def _degree_day_rule(
    key: str, hourly: pd.DataFrame, at: pd.Timestamp, dat: int, rules: dict
) -> Risk:
    r = rules[key]
    if dat < 1:
        raise InputError(f"days after transplanting must be >= 1, got {dat}")
    season = _window(hourly, at, dat * DAY)
    coverage = _coverage(season["air_temp"])
    if coverage < MIN_COVERAGE:
        return _no_data(
            r, coverage, f"{dat} ngày từ khi cấy", f"the {dat} days since transplanting"
        )
    dd = degree_days(season["air_temp"], r["base_t"], r["upper_t"]) / coverage
    generations = dd / r["dd_per_generation"]
    week = _window(hourly, at, 7 * DAY)
    t7, rh7 = week["air_temp"].mean(), week["air_rh"].mean()
    known_rh = _coverage(week["air_rh"]) >= MIN_COVERAGE
    low, high = r["conducive_t"]
    conducive = bool(known_rh and low <= t7 <= high and rh7 >= r["conducive_rh"])
    level = 0 if generations < 1 else (1 if generations < 2 else 2) + int(conducive)
    brood_vi, brood_en = _BROOD[key]
    vi = (
        f"{_num(dd, 0, 'vi')} độ-ngày trên {_num(r['base_t'], 1, 'vi')} °C từ khi cấy ({dat} ngày):"
        f" khoảng {_num(generations, 1, 'vi')} {brood_vi}"
    )
    en = (
        f"{dd:.0f} degree-days above {r['base_t']:.1f} °C since transplanting ({dat} days): "
        f"about {generations:.1f} {brood_en}"
    )
    if known_rh:
        vi += f"; 7 ngày qua trung bình {_num(t7, 0, 'vi')} °C, độ ẩm {rh7:.0f} %"
        en += f"; last 7 days averaged {t7:.0f} °C and {rh7:.0f} % RH"
    else:
        vi += "; thiếu số liệu độ ẩm 7 ngày qua"
        en += "; no humidity data for the last 7 days"
    features = {
        "coverage": coverage,
        "degree_days": dd,
        "generations": generations,
        "mean_temp_7d": float(t7),
        "mean_rh_7d": float(rh7) if known_rh else float("nan"),
    }
    return Risk(r["id"], r["name_vi"], r["name_en"], level, vi, en, r["citation"], features)


def _bacterial_blight(hourly: pd.DataFrame, at: pd.Timestamp, rules: dict) -> Risk:
    r = rules["bacterial_leaf_blight"]
    window = _window(hourly, at, 3 * DAY)
    both = window["air_temp"].notna() & window["air_rh"].notna()
    coverage = float(both.mean())
    if coverage < MIN_COVERAGE:
        return _no_data(r, coverage, "3 ngày qua", "the last 3 days")
    t, rh = window["air_temp"], window["air_rh"]
    hours = int((t.between(r["t_low"], r["t_high"]) & (rh >= r["rh"])).sum())
    rain_known = _coverage(window["rain"]) >= MIN_COVERAGE
    blocks = window["rain"].fillna(0.0).to_numpy().reshape(3, -1).sum(axis=1)
    max_rain = float(blocks.max()) if rain_known else float("nan")
    wind = float(window["wind_speed"].max())
    level = 0
    if hours >= r["min_conducive_hours"]:
        level = 1
        if rain_known and max_rain >= r["heavy_rain_mm"]:
            level = 2
        if (rain_known and max_rain >= r["storm_rain_mm"]) or wind >= r["storm_wind_m_s"]:
            level = 3
    band = f"{r['t_low']:.0f}-{r['t_high']:.0f} °C"
    vi = f"{hours} h ở {band} với độ ẩm ≥ {r['rh']:.0f} % trong 3 ngày qua"
    en = f"{hours} h at {band} with RH ≥ {r['rh']:.0f} % in the last 3 days"
    if rain_known:
        vi += f"; mưa lớn nhất {_num(max_rain, 0, 'vi')} mm trong 24 h"
        en += f"; heaviest rain {max_rain:.0f} mm in 24 h"
    else:
        vi += "; không có số liệu mưa"
        en += "; no rain data"
    if np.isfinite(wind) and wind >= r["storm_wind_m_s"]:
        vi += f"; gió mạnh {_num(wind, 0, 'vi')} m/s"
        en += f"; strong wind {wind:.0f} m/s"
    features = {"coverage": coverage, "conducive_h_3d": float(hours), "max_rain_24h": max_rain}
    return Risk(r["id"], r["name_vi"], r["name_en"], level, vi, en, r["citation"], features)


# --- public entry points --------------------------------------------------------------------


def blast_risk(
    weather: pd.DataFrame,
    dat: int | None = None,
    at: pd.Timestamp | None = None,
    rules: dict[str, Any] | None = None,
) -> Risk:
    """Rice blast risk from leaf-wetness spells x temperature over the last 7 days.

    weather: readings (see :func:`hourly_weather`); dat: days after transplanting (optional;
    from 75 days, ripening, the level is capped at 1); at: end of the window (tz-aware).
    Level 0: no infection period (>= 10 h wet at a mean 20-28 °C) in 7 days; 1: one; 2: one in
    the last 2 days or two in 7; 3: one in the last 2 days and three or more in 7.
    Sources: Hashimoto et al. (1984), Koshimizu (1988), Sentelhas et al. (2008); see the module.
    """
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    return _blast(hourly, _end(hourly, at), dat, rules)


def sheath_blight_risk(
    weather: pd.DataFrame,
    dat: int | None = None,
    at: pd.Timestamp | None = None,
    rules: dict[str, Any] | None = None,
) -> Risk:
    """Sheath blight risk: potential vertical lesion rise (cm) in 7 days, Hashiba et al. (1982).

    Hourly rate = rate(T) x factor(RH) / 24 with rate 0.48-1.58 cm day-1 at 20-28 °C and 100 %
    RH, factor 0.38 at 86 % to 1 at 100 % RH. Levels at 3, 5 and 7 cm; capped at 1 before
    canopy closure (dat < 30). Requires air_temp and air_rh.
    """
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    return _sheath_blight(hourly, _end(hourly, at), dat, rules)


def planthopper_risk(
    weather: pd.DataFrame,
    dat: int,
    at: pd.Timestamp | None = None,
    rules: dict[str, Any] | None = None,
) -> Risk:
    """Brown planthopper risk from degree-days since transplanting (`dat` days before `at`).

    DD above 11.7 °C (cut-off 32 °C), 350 DD a generation (parameters and their derivation in
    data/pest_rules.json). Level 0 below one generation, 1 from one, 2 from two; +1 when the
    last 7 days averaged 25-30 °C and RH >= 80 %. The weather must cover the season.
    """
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    return _degree_day_rule("brown_planthopper", hourly, _end(hourly, at), dat, rules)


def leaf_folder_risk(
    weather: pd.DataFrame,
    dat: int,
    at: pd.Timestamp | None = None,
    rules: dict[str, Any] | None = None,
) -> Risk:
    """Rice leaf folder risk: as :func:`planthopper_risk` with 342 DD above 12.5 °C a generation
    (Wada & Kobayashi 1980) and a 22-30 °C, RH >= 80 % conducive week."""
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    return _degree_day_rule("leaf_folder", hourly, _end(hourly, at), dat, rules)


def bacterial_blight_risk(
    weather: pd.DataFrame, at: pd.Timestamp | None = None, rules: dict[str, Any] | None = None
) -> Risk:
    """Bacterial leaf blight risk over the last 3 days.

    Level 1 with >= 36 h at 25-34 °C and RH >= 70 %; 2 when also >= 20 mm of rain fell in one
    of the three 24-h blocks; 3 with >= 50 mm or wind >= 10.8 m/s (optional `wind_speed`).
    Without rain data the level stays at most 1 and the reason says so.
    """
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    return _bacterial_blight(hourly, _end(hourly, at), rules)


def assess(
    weather: pd.DataFrame,
    dat: int | None,
    at: pd.Timestamp | None = None,
    rules: dict[str, Any] | None = None,
) -> list[Risk]:
    """Every rule for one field: blast, sheath blight, bacterial leaf blight and, when `dat`
    (days after transplanting) is known, brown planthopper and leaf folder."""
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    end = _end(hourly, at)
    risks = [
        _blast(hourly, end, dat, rules),
        _sheath_blight(hourly, end, dat, rules),
        _bacterial_blight(hourly, end, rules),
    ]
    if dat is not None and dat >= 1:
        risks.append(_degree_day_rule("brown_planthopper", hourly, end, dat, rules))
        risks.append(_degree_day_rule("leaf_folder", hourly, end, dat, rules))
    return risks


def daily_features(
    weather: pd.DataFrame, transplanted: pd.Timestamp, rules: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Each rule's level and features at the end of every local day of `weather`.

    transplanted: the local date the field was transplanted (tz-aware or naive in the data's
    zone). Returns one row per day (index: the day's date, naive) with columns
    `<rule key>_level` and `<rule key>_<feature>`; the input for :func:`refine`.
    """
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    tz = cast(pd.DatetimeIndex, hourly.index).tz  # hourly_weather resamples a DatetimeIndex
    start = pd.Timestamp(transplanted)
    start = start.tz_localize(tz) if start.tz is None else start.tz_convert(tz)
    days = pd.date_range(hourly.index[0].normalize() + DAY, hourly.index[-1].normalize() + DAY)
    keys = ["blast", "sheath_blight", "bacterial_leaf_blight", "brown_planthopper", "leaf_folder"]
    rows = []
    for end in days:
        dat = int((end - start) / DAY)
        row: dict[str, float] = {}
        risks = assess(hourly, dat if dat >= 1 else None, end, rules)
        for key, risk in zip(keys, risks, strict=False):
            row[f"{key}_level"] = np.nan if risk.level is None else float(risk.level)
            row.update({f"{key}_{k}": v for k, v in risk.features.items()})
        rows.append(row)
    return pd.DataFrame(rows, index=(days - DAY).tz_localize(None).rename("date"))


# --- refinement from scouting observations (scikit-learn) -----------------------------------


@dataclass(frozen=True)
class RefinementReport:
    """Held-out (later-in-time) skill of the refined classifier against the rule alone.

    Brier scores (lower is better) of: the training base rate (climatology), the rule (each
    level's outbreak frequency in the training period) and the calibrated model; ROC AUC of
    the rule level and of the model's probability."""

    n_train: int
    n_test: int
    split_date: pd.Timestamp
    base_rate: float
    brier_climatology: float
    brier_rule: float
    brier_model: float
    auc_rule: float
    auc_model: float

    def table(self) -> str:
        return "\n".join(
            [
                (
                    f"outbreak model, trained on {self.n_train} observations before "
                    f"{self.split_date.date()}, tested on {self.n_test} after "
                    f"(outbreak rate in training {self.base_rate:.2f})"
                ),
                f"{'':<14}{'Brier':>8}{'ROC AUC':>9}",
                f"{'climatology':<14}{self.brier_climatology:>8.4f}{0.5:>9.3f}",
                f"{'rule alone':<14}{self.brier_rule:>8.4f}{self.auc_rule:>9.3f}",
                f"{'refined':<14}{self.brier_model:>8.4f}{self.auc_model:>9.3f}",
            ]
        )


@dataclass(frozen=True)
class Refinement:
    """A fitted outbreak classifier: `model` (scikit-learn, calibrated), the `features` it
    reads (in order) and its held-out `report`."""

    model: Any
    features: list[str]
    report: RefinementReport

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of an outbreak for rows of `frame` holding the model's features."""
        return self.model.predict_proba(frame[self.features].to_numpy(float))[:, 1]


def refine(
    features: pd.DataFrame,
    observations: pd.DataFrame,
    level_column: str,
    value_column: str = "incidence",
    outbreak_at: float = 0.1,
    test_fraction: float = 0.3,
    estimator: Literal["logistic", "boosting"] = "logistic",
    seed: int = 0,
    print_report: bool = True,
) -> Refinement:
    """Fit a calibrated classifier of "outbreak" on a rule's features and scouting records.

    features: columns `date`, `field`, `level_column` (the rule's 0-3 level) and numeric
    feature columns (e.g. from :func:`daily_features`, one frame per field with a `field`
    column added); observations: columns `date`, `field` and `value_column` (incidence 0-1
    or a count); an outbreak is `value >= outbreak_at`. Rows are joined on (date, field).
    The latest `test_fraction` of dates is held out; on the rest a
    ``CalibratedClassifierCV`` (sigmoid, 3-fold) over a scaled LogisticRegression or a
    HistGradientBoostingClassifier is fitted with all numeric columns, the level included.
    The rule baseline scores each level by its outbreak frequency in the training period
    (Laplace-smoothed). Prints the report table unless `print_report` is False.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    left = features.assign(date=pd.to_datetime(features["date"]).dt.normalize())
    right = observations.assign(date=pd.to_datetime(observations["date"]).dt.normalize())
    data = left.merge(right[["date", "field", value_column]], on=["date", "field"])
    data = data.dropna().sort_values("date")
    names = [
        c
        for c in data.columns
        if c not in ("date", "field", value_column) and pd.api.types.is_numeric_dtype(data[c])
    ]
    y = (data[value_column] >= outbreak_at).to_numpy(int)
    dates = np.sort(data["date"].unique())
    split = pd.Timestamp(dates[int(len(dates) * (1.0 - test_fraction))])
    train, test = (data["date"] < split).to_numpy(), (data["date"] >= split).to_numpy()
    for part, mask in (("training", train), ("test", test)):
        if len(np.unique(y[mask])) < 2:
            raise ValueError(f"the {part} period needs both outbreaks and non-outbreaks")

    x = data[names].to_numpy(float)
    if estimator == "logistic":
        base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        base = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    model = CalibratedClassifierCV(base, method="sigmoid", cv=3).fit(x[train], y[train])
    p_model = model.predict_proba(x[test])[:, 1]

    level = data[level_column].to_numpy(float)
    base_rate = float(y[train].mean())
    freq = {
        lv: (y[train][level[train] == lv].sum() + base_rate) / ((level[train] == lv).sum() + 1.0)
        for lv in np.unique(level[train])
    }
    p_rule = np.array([freq.get(lv, base_rate) for lv in level[test]])
    report = RefinementReport(
        n_train=int(train.sum()),
        n_test=int(test.sum()),
        split_date=split,
        base_rate=base_rate,
        brier_climatology=float(brier_score_loss(y[test], np.full(test.sum(), base_rate))),
        brier_rule=float(brier_score_loss(y[test], p_rule)),
        brier_model=float(brier_score_loss(y[test], p_model)),
        auc_rule=float(roc_auc_score(y[test], level[test])),
        auc_model=float(roc_auc_score(y[test], p_model)),
    )
    if print_report:
        print(report.table())
    return Refinement(model, names, report)
