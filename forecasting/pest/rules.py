"""The five rice pest and disease rules, each a level 0-3 with its reason (a message of the
catalogue, backend/locale `pest.*`), the numbers behind it and its citation.

Place in the data path: the hourly weather of :mod:`forecasting.pest.weather` and the crop's
days after transplanting -> each rule of :data:`REGISTRY` -> one :class:`Risk` per rule
(:func:`forecasting.pest.assess` runs them all on a field's readings) -> the `forecasts`
measurement and the farmer's screen.

Rules (parameters and sources in `data/pest_rules.json`, loaded by :func:`load_rules`; every
parameter there says whether it is published, derived from published numbers, or our choice):

- Rice blast (Magnaporthe oryzae), :func:`blast`: infection periods = continuous leaf-wetness
  spells of >= 10 h at a mean 20-28 °C (BLASTAM's wetness-duration x temperature criterion,
  Hashimoto et al. 1984, Koshimizu 1988, reduced to one duration threshold); the level counts
  them in the last 2 and 7 days.
- Sheath blight (Rhizoctonia solani), :func:`sheath_blight`: potential vertical lesion rise
  over 7 days from hourly temperature and RH with the rates of Hashiba et al. (1982); hours at
  28-32 °C with RH >= 95 % are reported; before canopy closure the level is capped at 1.
- Brown planthopper (Nilaparvata lugens) and leaf folder (Cnaphalocrocis medinalis),
  :func:`degree_day_rule`: degree-days since transplanting above the developmental threshold
  (horizontal cut-off above the upper threshold), generations = DD / thermal constant (the
  leaf folder's from Wada & Kobayashi 1980; the planthopper's derived in the json); warm
  humid weeks raise the level.
- Bacterial leaf blight (Xanthomonas oryzae pv. oryzae), :func:`bacterial_leaf_blight`: hours
  at 25-34 °C with RH >= 70 % in 3 days, raised by heavy rain or storm wind (IRRI Rice
  Knowledge Bank; Mew 1987).
- Stem borer is not modelled yet: we found no thermal constants we could verify.

Missing data: a rule claims nothing it cannot see. If less than 80 % of the hours its window
needs hold data, its level is None and the reason says "not enough data"; totals over windows
with gaps (degree-days, lesion rise) are scaled up by the covered fraction.

Units: as in :mod:`forecasting.pest.weather` (°C, RH %, rain mm, wind m s-1); degree-days
°C day, lesion rise cm; `dat` is days after transplanting. The numbers go into the messages
as parameters, written in the reader's locale when rendered (Vietnamese: a decimal comma).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from backend.i18n import N_, Message
from forecasting.pest.weather import (
    DAY,
    MIN_COVERAGE,
    InputError,
    Rules,
    degree_days,
    hours_before,
    known_fraction,
    wet_spells,
)

RULES_JSON = Path(__file__).parent.parent / "data" / "pest_rules.json"


@dataclass(frozen=True)
class Risk:
    """One rule's verdict. pest: the pest's name; reason: why this level, with the numbers
    (messages of the catalogue, backend/locale `pest.*`: :func:`backend.i18n.render` them in
    the reader's language). level: 0 (none) .. 3 (high), or None when there was not enough
    data to say. features: the numbers behind it, for the store and for
    :func:`forecasting.pest.refine`."""

    rule_id: str
    pest: Message
    level: int | None
    reason: Message
    citation: str
    features: dict[str, float] = field(default_factory=dict)

    @property
    def enough_data(self) -> bool:
        return self.level is not None


@lru_cache(maxsize=4)
def _load(path: str) -> Rules:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_rules(path: str | Path = RULES_JSON) -> Rules:
    """Rule parameters and citations from `data/pest_rules.json` (cached)."""
    return _load(str(path))


def rule_keys(rules: Rules) -> dict[str, str]:
    """Each rule's id (e.g. `rice.blast.lwd_temp.v1`) -> its section in `pest_rules.json`
    (e.g. `blast`), the prefix of its columns in :func:`forecasting.pest.daily_features`."""
    return {v["id"]: k for k, v in rules.items() if isinstance(v, dict) and "id" in v}


# --- the words (backend/locale: pest.*) ------------------------------------------------------

# each pest's name by its rule's section in pest_rules.json (the catalogue repeats the json's
# name_vi and name_en, which stay there for readers of the parameters)
_NAME = {
    "blast": Message(N_("pest.blast.name")),
    "sheath_blight": Message(N_("pest.sheath_blight.name")),
    "brown_planthopper": Message(N_("pest.brown_planthopper.name")),
    "leaf_folder": Message(N_("pest.leaf_folder.name")),
    "bacterial_leaf_blight": Message(N_("pest.bacterial_leaf_blight.name")),
}


def _reason(*clauses: Message) -> Message:
    """A reason of one sentence, or of several clauses that the catalogue joins with "; "."""
    if len(clauses) == 1:
        return clauses[0]
    return Message(N_("pest.reason"), {"clauses": list(clauses)})


def _risk(
    key: str, rules: Rules, level: int | None, reason: Message, features: dict[str, float]
) -> Risk:
    r = rules[key]
    return Risk(r["id"], _NAME[key], level, reason, r["citation"], features)


def _no_data(key: str, rules: Rules, coverage: float, msgid: str, **params: int) -> Risk:
    """Not enough data: `msgid` (a `pest.no_data.*` sentence, naming the window) says so."""
    reason = Message(msgid, {"pct": round(100 * coverage), **params})
    return _risk(key, rules, None, reason, {"coverage": coverage})


# --- the rules ------------------------------------------------------------------------------


RuleFn: TypeAlias = Callable[[pd.DataFrame, pd.Timestamp, int | None, Rules], Risk | None]
"""A rule: (hourly weather from :func:`forecasting.pest.hourly_weather`, the end of its
windows (tz-aware, whole hour), days after transplanting or None, the parameters of
`pest_rules.json`) -> its Risk, or None when it does not apply (a degree-day rule without a
season)."""

# the wettest infection period's sentence by (in the last 2 days, wetness estimated from RH)
_BLAST_SPELL = {
    (True, False): N_("pest.blast.spell_2d"),
    (True, True): N_("pest.blast.spell_2d_from_rh"),
    (False, False): N_("pest.blast.spell_7d"),
    (False, True): N_("pest.blast.spell_7d_from_rh"),
}


def blast(hourly: pd.DataFrame, at: pd.Timestamp, dat: int | None, rules: Rules) -> Risk:
    """The blast rule on the 7 days of hours before `at`; `dat` caps it when ripening."""
    r = rules["blast"]
    window = hours_before(hourly, at, 7 * DAY)
    coverage = known_fraction(window["wet"].where(window["air_temp"].notna()))
    if coverage < MIN_COVERAGE:
        return _no_data("blast", rules, coverage, N_("pest.no_data.last_7d"))
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
    from_rh = not window["wet_from_sensor"].eq(True).any()  # no leaf-wetness sensor reading
    note = {"rh_wet": float(rules["wetness"]["rh_threshold_pct"])} if from_rh else {}
    criterion = {
        "min_h": r["min_wet_hours"],
        "t_low": float(r["t_low"]),
        "t_high": float(r["t_high"]),
    }
    if n7:
        best = (recent if n2 else infection).sort_values("hours").iloc[-1]
        spell = {"hours": int(best["hours"]), "t": round(float(best["mean_temp"]), 0), **note}
        periods = N_("pest.blast.periods_one") if n7 == 1 else N_("pest.blast.periods_other")
        clauses = [
            Message(_BLAST_SPELL[(n2 > 0, from_rh)], spell),
            Message(periods, {"n": n7, **criterion}),
        ]
    elif len(spells):
        longest = spells.sort_values("hours").iloc[-1]
        msgid = (
            N_("pest.blast.longest_spell_from_rh") if from_rh else N_("pest.blast.longest_spell")
        )
        params = {"hours": int(longest["hours"]), "t": round(float(longest["mean_temp"]), 0)}
        clauses = [Message(msgid, {**params, **note, **criterion})]
    else:
        msgid = N_("pest.blast.no_wetness_from_rh") if from_rh else N_("pest.blast.no_wetness")
        clauses = [Message(msgid, note)]
    if dat is not None and dat >= 75 and level > 1:  # ripening: past neck-blast susceptibility
        level = 1
        clauses.append(Message(N_("pest.blast.ripening")))
    features = {
        "coverage": coverage,
        "infection_periods_2d": float(n2),
        "infection_periods_7d": float(n7),
        "longest_wet_h_7d": float(spells["hours"].max()) if len(spells) else 0.0,
        "wet_hours_7d": float(window["wet"].sum()),
    }
    return _risk("blast", rules, level, _reason(*clauses), features)


def sheath_blight(hourly: pd.DataFrame, at: pd.Timestamp, dat: int | None, rules: Rules) -> Risk:
    """The sheath blight rule on the 7 days of hours before `at`; `dat` caps it early."""
    r = rules["sheath_blight"]
    window = hours_before(hourly, at, 7 * DAY)
    both = window["air_temp"].notna() & window["air_rh"].notna()
    coverage = float(both.mean())
    if coverage < MIN_COVERAGE:
        return _no_data("sheath_blight", rules, coverage, N_("pest.no_data.last_7d"))
    t, rh = window["air_temp"][both].to_numpy(), window["air_rh"][both].to_numpy()
    rate = np.interp(t, r["rate_t_degc"], r["rate_cm_day"], left=0.0, right=0.0)
    factor = np.interp(rh, r["rh_pct"], r["rh_factor"], left=0.0, right=1.0)
    rise_cm = float((rate * factor).sum() / 24.0 / coverage)  # scaled to the whole 7 days
    warm_humid = int(((t >= r["warm_low"]) & (t <= r["warm_high"]) & (rh >= r["humid_rh"])).sum())
    level = int(np.searchsorted(r["level_cm"], rise_cm, side="right"))
    lesion = {
        "hours": warm_humid,
        "t_low": float(r["warm_low"]),
        "t_high": float(r["warm_high"]),
        "rh": float(r["humid_rh"]),
        "cm": round(rise_cm, 1),
    }
    clauses = [Message(N_("pest.sheath_blight.lesion_rise"), lesion)]
    if dat is not None and dat < r["susceptible_from_dat"] and level > 1:
        level = 1
        clauses.append(Message(N_("pest.sheath_blight.canopy_open")))
    features = {
        "coverage": coverage,
        "lesion_rise_cm_7d": rise_cm,
        "warm_humid_h_7d": float(warm_humid),
    }
    return _risk("sheath_blight", rules, level, _reason(*clauses), features)


# the season's sentence of each degree-day rule: (1 day after transplanting, more days)
_GENERATIONS = {
    "brown_planthopper": (
        N_("pest.brown_planthopper.generations_one"),
        N_("pest.brown_planthopper.generations_other"),
    ),
    "leaf_folder": (
        N_("pest.leaf_folder.generations_one"),
        N_("pest.leaf_folder.generations_other"),
    ),
}


def degree_day_rule(
    key: str, hourly: pd.DataFrame, at: pd.Timestamp, dat: int, rules: Rules
) -> Risk:
    """The degree-day rule of `key` (`brown_planthopper` or `leaf_folder`, a section of
    `pest_rules.json`) over the `dat` days (>= 1, else InputError) before `at`."""
    r = rules[key]
    if dat < 1:
        raise InputError(f"days after transplanting must be >= 1, got {dat}")
    season = hours_before(hourly, at, dat * DAY)
    coverage = known_fraction(season["air_temp"])
    if coverage < MIN_COVERAGE:
        msgid = N_("pest.no_data.season_one") if dat == 1 else N_("pest.no_data.season_other")
        return _no_data(key, rules, coverage, msgid, dat=dat)
    dd = degree_days(season["air_temp"], r["base_t"], r["upper_t"]) / coverage
    generations = dd / r["dd_per_generation"]
    week = hours_before(hourly, at, 7 * DAY)
    t7, rh7 = week["air_temp"].mean(), week["air_rh"].mean()
    known_rh = known_fraction(week["air_rh"]) >= MIN_COVERAGE
    low, high = r["conducive_t"]
    conducive = bool(known_rh and low <= t7 <= high and rh7 >= r["conducive_rh"])
    level = 0 if generations < 1 else (1 if generations < 2 else 2) + int(conducive)
    one, other = _GENERATIONS[key]
    season_params = {
        "dd": round(dd, 0),
        "base": float(r["base_t"]),
        "dat": dat,
        "generations": round(generations, 1),
    }
    if known_rh:
        week_params = {"t": round(float(t7), 0), "rh": round(float(rh7), 0)}
        week_clause = Message(N_("pest.degree_days.week_mean"), week_params)
    else:
        week_clause = Message(N_("pest.degree_days.no_humidity"))
    reason = _reason(Message(one if dat == 1 else other, season_params), week_clause)
    features = {
        "coverage": coverage,
        "degree_days": dd,
        "generations": generations,
        "mean_temp_7d": float(t7),
        "mean_rh_7d": float(rh7) if known_rh else float("nan"),
    }
    return _risk(key, rules, level, reason, features)


def bacterial_leaf_blight(
    hourly: pd.DataFrame, at: pd.Timestamp, dat: int | None, rules: Rules
) -> Risk:
    """The bacterial leaf blight rule on the 3 days of hours before `at`; `dat` is unused
    (the rule does not depend on the crop's stage)."""
    key = "bacterial_leaf_blight"
    r = rules[key]
    window = hours_before(hourly, at, 3 * DAY)
    both = window["air_temp"].notna() & window["air_rh"].notna()
    coverage = float(both.mean())
    if coverage < MIN_COVERAGE:
        return _no_data(key, rules, coverage, N_("pest.no_data.last_3d"))
    t, rh = window["air_temp"], window["air_rh"]
    hours = int((t.between(r["t_low"], r["t_high"]) & (rh >= r["rh"])).sum())
    rain_known = known_fraction(window["rain"]) >= MIN_COVERAGE
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
    conducive = {
        "hours": hours,
        "t_low": float(r["t_low"]),
        "t_high": float(r["t_high"]),
        "rh": float(r["rh"]),
    }
    clauses = [Message(N_("pest.bacterial_leaf_blight.conducive"), conducive)]
    if rain_known:
        rain = {"mm": round(max_rain, 0)}
        clauses.append(Message(N_("pest.bacterial_leaf_blight.heaviest_rain"), rain))
    else:
        clauses.append(Message(N_("pest.bacterial_leaf_blight.no_rain_data")))
    if np.isfinite(wind) and wind >= r["storm_wind_m_s"]:
        gust = {"m_s": round(wind, 0)}
        clauses.append(Message(N_("pest.bacterial_leaf_blight.strong_wind"), gust))
    features = {"coverage": coverage, "conducive_h_3d": float(hours), "max_rain_24h": max_rain}
    return _risk(key, rules, level, _reason(*clauses), features)


def _season_rule(key: str) -> RuleFn:
    """:func:`degree_day_rule` for `key` as a registry entry: no Risk without a season."""

    def rule(hourly: pd.DataFrame, at: pd.Timestamp, dat: int | None, rules: Rules) -> Risk | None:
        return None if dat is None or dat < 1 else degree_day_rule(key, hourly, at, dat, rules)

    rule.__name__ = rule.__qualname__ = key  # what a traceback or the registry's repr shows
    return rule


REGISTRY: dict[str, RuleFn] = {
    "rice.blast.lwd_temp.v1": blast,
    "rice.sheath_blight.hashiba.v1": sheath_blight,
    "rice.blb.weather.v1": bacterial_leaf_blight,
    "rice.bph.degree_days.v1": _season_rule("brown_planthopper"),
    "rice.leaf_folder.degree_days.v1": _season_rule("leaf_folder"),
}
"""Every rule by its id in `pest_rules.json`, in the order :func:`forecasting.pest.assess`
reports them."""
