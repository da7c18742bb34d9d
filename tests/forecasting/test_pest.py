"""Pest and disease rules: the weather that must give level 0, the weather that must give 3,
and a rule that admits it cannot see ("not enough data") rather than guessing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backend.i18n import Message, render
from forecasting import pest

TZ = "Asia/Ho_Chi_Minh"


def readings(
    days: float,
    temp: float | np.ndarray,
    rh: float | np.ndarray | None = None,
    leaf_wet: float | np.ndarray | None = None,
    rain: float | np.ndarray | None = None,
    start: str = "2024-07-01",
    freq: str = "1h",
) -> pd.DataFrame:
    """Sensor readings at `freq` with constant or per-reading values; None = no such sensor."""
    index = pd.date_range(
        start, periods=int(pd.Timedelta(days=days) / pd.Timedelta(freq)), freq=freq, tz=TZ
    )
    columns = {"air_temp": temp, "air_rh": rh, "leaf_wet": leaf_wet, "rain": rain}
    return pd.DataFrame(
        {
            k: np.broadcast_to(v, len(index)).astype(float)
            for k, v in columns.items()
            if v is not None
        },
        index=index,
    )


def nights(
    days: int,
    wet_hours: int,
    night_temp: float,
    night_rh: float = 96.0,
    day_temp: float = 31.0,
    day_rh: float = 65.0,
) -> pd.DataFrame:
    """Hourly readings: every night from 19:00, `wet_hours` humid hours at `night_temp`."""
    hour = np.tile(np.arange(24), days)
    humid = ((hour - 19) % 24) < wet_hours
    return readings(days, np.where(humid, night_temp, day_temp), np.where(humid, night_rh, day_rh))


# --- rice blast ------------------------------------------------------------------------------


def test_blast_level_3_after_a_week_of_long_wet_nights_at_24_degc() -> None:
    risk = pest.blast_risk(nights(7, wet_hours=11, night_temp=24.0))
    assert risk.level == 3
    assert "11 h lá ướt ở 24 °C trong 2 ngày qua" in render(risk.reason, "vi")
    assert "11 h leaf wetness at 24 °C in the last 2 days" in render(risk.reason, "en")
    assert "estimated from RH ≥ 90 %" in render(risk.reason, "en")  # no leaf-wetness sensor
    assert risk.rule_id == "rice.blast.lwd_temp.v1" and "Hashimoto" in risk.citation
    assert risk.features["infection_periods_7d"] == 6  # the 7th night is still running


def test_blast_level_0_in_dry_weather() -> None:
    risk = pest.blast_risk(readings(7, 25.0, rh=60.0))
    assert risk.level == 0
    assert render(risk.reason, "en").startswith("No leaf wetness")


def test_blast_needs_ten_wet_hours_and_20_to_28_degc() -> None:
    assert pest.blast_risk(nights(7, wet_hours=9, night_temp=24.0)).level == 0
    assert pest.blast_risk(nights(7, wet_hours=10, night_temp=24.0)).level == 3
    too_hot = pest.blast_risk(nights(7, wet_hours=12, night_temp=30.0))
    assert too_hot.level == 0
    assert "short of an infection period" in render(too_hot.reason, "en")


def test_blast_single_old_infection_period_is_level_1() -> None:
    weather = readings(7, 31.0, rh=60.0)
    weather.iloc[20:32, weather.columns.get_loc("air_rh")] = 97.0  # one 12 h spell, day 1
    weather.iloc[20:32, weather.columns.get_loc("air_temp")] = 23.0
    risk = pest.blast_risk(weather)
    assert risk.level == 1
    assert "12 h leaf wetness at 23 °C in 7 days" in render(risk.reason, "en")
    assert "; 1 infection period (≥ 10 h wet at 20-28 °C) in 7 days" in render(risk.reason, "en")
    assert "; 1 đợt nhiễm bệnh (≥ 10 h ướt ở 20-28 °C) trong 7 ngày" in render(risk.reason, "vi")


def test_leaf_wetness_sensor_outranks_humidity() -> None:
    humid_but_dry_leaves = nights(7, 11, 24.0).assign(leaf_wet=0.0)
    assert pest.blast_risk(humid_but_dry_leaves).level == 0
    wet_leaves = nights(7, 11, 24.0, night_rh=80.0)
    wet_leaves["leaf_wet"] = (wet_leaves["air_rh"] == 80.0).astype(float)
    risk = pest.blast_risk(wet_leaves)
    assert risk.level == 3 and "estimated" not in render(risk.reason, "en")


def test_fifteen_minute_readings_give_the_hourly_answer() -> None:
    hourly = nights(7, 11, 24.0)
    quarter = (
        hourly.resample("15min")
        .ffill()
        .reindex(pd.date_range(hourly.index[0], periods=7 * 96, freq="15min"))
        .ffill()
    )
    assert pest.blast_risk(quarter).reason == pest.blast_risk(hourly).reason


def test_blast_capped_at_1_when_the_crop_is_ripening() -> None:
    risk = pest.blast_risk(nights(7, 11, 24.0), dat=85)
    assert risk.level == 1 and "ripening" in render(risk.reason, "en")


def test_missing_days_mean_not_enough_data_not_no_risk() -> None:
    short = pest.blast_risk(nights(5, 11, 24.0))  # 5 of the 7 days the rule looks at
    assert short.level is None and not short.enough_data
    assert render(short.reason, "en").startswith("Not enough data")
    assert render(short.reason, "vi").startswith("Không đủ dữ liệu")
    gappy = nights(7, 11, 24.0)
    gappy.iloc[40:80] = np.nan  # a dead sensor for 40 h (24 % of the week)
    assert pest.blast_risk(gappy).level is None
    assert pest.sheath_blight_risk(gappy).level is None


def test_temperature_without_humidity_or_wetness_claims_nothing() -> None:
    risk = pest.blast_risk(readings(7, 24.0))
    assert risk.level is None and "Not enough data" in render(risk.reason, "en")


def test_bad_frames_are_rejected_with_the_reason() -> None:
    naive = readings(7, 24.0, rh=95.0).tz_localize(None)
    with pytest.raises(pest.InputError, match="tz-aware"):
        pest.blast_risk(naive)
    with pytest.raises(pest.InputError, match="air_temp"):
        pest.blast_risk(readings(7, 24.0, rh=95.0).rename(columns={"air_temp": "t"}))


# --- sheath blight ---------------------------------------------------------------------------


def test_sheath_blight_level_3_in_a_warm_saturated_week_after_canopy_closure() -> None:
    risk = pest.sheath_blight_risk(readings(7, 29.0, rh=98.0), dat=50)
    assert risk.level == 3
    assert risk.features["lesion_rise_cm_7d"] == pytest.approx(7 * 1.58 * 0.99, rel=1e-6)
    assert "168 h at 28-32 °C with RH ≥ 95 % in the last 7 days" in render(risk.reason, "en")
    assert "168 h ở 28-32 °C với độ ẩm ≥ 95 % trong 7 ngày qua" in render(risk.reason, "vi")
    assert "10,9 cm" in render(risk.reason, "vi") and "10.9 cm" in render(risk.reason, "en")


def test_sheath_blight_capped_before_canopy_closure_and_zero_when_dry() -> None:
    young = pest.sheath_blight_risk(readings(7, 29.0, rh=98.0), dat=20)
    assert young.level == 1 and "canopy has not closed" in render(young.reason, "en")
    assert pest.sheath_blight_risk(readings(7, 22.0, rh=70.0), dat=50).level == 0


# --- degree-day insects ---------------------------------------------------------------------


def test_degree_days_use_hourly_means_with_a_horizontal_cutoff() -> None:
    day = pd.Series(np.full(24, 20.0))
    assert pest.degree_days(day, base=10.0, upper=32.0) == pytest.approx(10.0)
    assert pest.degree_days(day + 20.0, base=10.0, upper=32.0) == pytest.approx(22.0)
    assert pest.degree_days(day - 15.0, base=10.0, upper=32.0) == 0.0


def test_planthopper_level_3_after_two_generations_in_warm_humid_weather() -> None:
    risk = pest.planthopper_risk(readings(60, 28.0, rh=85.0), dat=60)
    assert risk.level == 3
    assert risk.features["degree_days"] == pytest.approx(60 * (28.0 - 11.7))
    vi, en = render(risk.reason, "vi"), render(risk.reason, "en")
    assert "978 degree-days above 11.7 °C since transplanting (60 days)" in en
    assert "978 độ-ngày trên 11,7 °C từ khi cấy (60 ngày): khoảng 2,8 lứa rầy" in vi


def test_the_first_day_after_transplanting_reads_as_one_day() -> None:
    risk = pest.planthopper_risk(readings(1, 28.0, rh=85.0), dat=1)
    assert "since transplanting (1 day): about 0.0 planthopper" in render(risk.reason, "en")
    assert "từ khi cấy (1 ngày): khoảng 0,0 lứa rầy" in render(risk.reason, "vi")


def test_planthopper_level_0_early_in_a_cool_season() -> None:
    assert pest.planthopper_risk(readings(15, 20.0, rh=85.0), dat=15).level == 0


def test_planthopper_without_the_whole_season_says_not_enough_data() -> None:
    risk = pest.planthopper_risk(readings(30, 28.0, rh=85.0), dat=60)
    assert risk.level is None and "since transplanting" in render(risk.reason, "en")


def test_planthopper_without_humidity_is_not_raised_and_says_why() -> None:
    risk = pest.planthopper_risk(readings(60, 28.0), dat=60)
    assert risk.level == 2 and "no humidity data" in render(risk.reason, "en")


def test_leaf_folder_generations_from_wada_and_kobayashi() -> None:
    risk = pest.leaf_folder_risk(readings(40, 27.0, rh=85.0), dat=40)
    assert risk.features["generations"] == pytest.approx(40 * 14.5 / 342.0)
    assert risk.level == 2  # 1.7 generations, warm humid week


# --- bacterial leaf blight -----------------------------------------------------------------


def test_bacterial_blight_level_3_after_a_storm_in_warm_humid_weather() -> None:
    rain = np.zeros(72)
    rain[30:36] = 10.0  # 60 mm in 6 h
    risk = pest.bacterial_blight_risk(readings(3, 30.0, rh=85.0, rain=rain))
    assert risk.level == 3
    assert "72 h at 25-34 °C with RH ≥ 70 % in the last 3 days; heaviest rain 60 mm" in (
        render(risk.reason, "en")
    )


def test_an_evaluation_time_inside_an_hour_uses_the_whole_hours_before_it() -> None:
    weather = readings(4, 30.0, rh=85.0, rain=0.0)
    at = weather.index[-1] - pd.Timedelta(minutes=30)
    assert pest.bacterial_blight_risk(weather, at=at).level == 1
    with pytest.raises(pest.InputError, match="tz-aware"):
        pest.bacterial_blight_risk(weather, at=at.tz_localize(None))


def test_bacterial_blight_without_rain_data_stays_at_1_and_cool_weather_is_0() -> None:
    no_gauge = pest.bacterial_blight_risk(readings(3, 30.0, rh=85.0))
    assert no_gauge.level == 1 and "no rain data" in render(no_gauge.reason, "en")
    assert pest.bacterial_blight_risk(readings(3, 20.0, rh=85.0, rain=0.0)).level == 0


# --- all rules together ------------------------------------------------------------------


def test_the_registry_holds_each_rule_under_its_id_in_pest_rules_json() -> None:
    rules = pest.load_rules()
    ids = [rules[k]["id"] for k in rules if isinstance(rules[k], dict) and "id" in rules[k]]
    assert sorted(pest.REGISTRY) == sorted(ids)


def test_assess_runs_every_rule_and_cites_each() -> None:
    weather = readings(60, 28.0, rh=85.0, rain=0.0)
    risks = pest.assess(weather, dat=60)
    assert [r.rule_id.split(".")[1] for r in risks] == [
        "blast",
        "sheath_blight",
        "blb",
        "bph",
        "leaf_folder",
    ]
    assert all(r.citation and render(r.reason, "vi") and render(r.reason, "en") for r in risks)
    assert len(pest.assess(weather, dat=None)) == 3


def test_each_pest_is_named_by_the_catalogue_as_pest_rules_json_names_it() -> None:
    rules = pest.load_rules()
    risks = pest.assess(readings(60, 28.0, rh=85.0, rain=0.0), dat=60)
    for risk in risks:
        section = next(
            v for v in rules.values() if isinstance(v, dict) and v.get("id") == risk.rule_id
        )
        assert render(risk.pest, "vi") == section["name_vi"]
        assert render(risk.pest, "en") == section["name_en"]


def test_a_stored_reason_renders_the_same_sentence() -> None:
    rain = np.zeros(72)
    rain[30:36] = 10.0
    weather = readings(3, 30.0, rh=85.0, rain=rain).assign(wind_speed=12.6)
    risk = pest.bacterial_blight_risk(weather)
    stored = json.loads(json.dumps(risk.reason.as_json(), allow_nan=False))
    again = Message.from_json(stored)
    assert again == risk.reason
    assert render(again, "vi") == (
        "72 h ở 25-34 °C với độ ẩm ≥ 70 % trong 3 ngày qua; mưa lớn nhất 60 mm trong 24 h; "
        "gió mạnh 13 m/s"
    )
    assert render(again, "en") == (
        "72 h at 25-34 °C with RH ≥ 70 % in the last 3 days; heaviest rain 60 mm in 24 h; "
        "strong wind 13 m/s"
    )


def test_rule_parameters_say_where_they_come_from() -> None:
    rules = pest.load_rules()
    for key in (
        "blast",
        "sheath_blight",
        "brown_planthopper",
        "leaf_folder",
        "bacterial_leaf_blight",
    ):
        assert rules[key]["citation"] and rules[key]["basis"]


def test_daily_features_give_one_row_per_day() -> None:
    weather = readings(10, 28.0, rh=85.0, rain=0.0)
    features = pest.daily_features(weather, pd.Timestamp("2024-07-01"))
    assert len(features) == 10
    assert features["blast_level"].iloc[:5].isna().all()  # < 80 % of a week (5.6 days)
    assert features["blast_level"].iloc[5:].notna().all()
    assert features["brown_planthopper_degree_days"].iloc[-1] == pytest.approx(10 * 16.3)


# --- refinement with scouting observations ---------------------------------------------------


def synthetic_scouting(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of 30 fields over 120 days and outbreaks from a known logistic relation; the
    rule sees only the first feature, in coarse steps."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    fields = [f"f{i}" for i in range(30)]
    grid = pd.MultiIndex.from_product([dates, fields], names=["date", "field"]).to_frame(
        index=False
    )
    n = len(grid)
    x1, x2, x3 = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    level = np.digitize(x1, [-0.5, 0.5, 1.5])
    p = 1.0 / (1.0 + np.exp(-(-1.5 + 1.2 * x1 + 1.5 * x2 - 1.0 * x3)))
    outbreak = rng.random(n) < p
    features = grid.assign(level=level, x1=x1, x2=x2, x3=x3)
    observations = grid.assign(incidence=np.where(outbreak, rng.uniform(0.1, 0.6, n), 0.02))
    return features, observations


def test_refined_classifier_beats_the_rule_on_held_out_time(capsys) -> None:
    features, observations = synthetic_scouting()
    refined = pest.refine(features, observations, level_column="level", outbreak_at=0.1)
    report = refined.report
    assert report.split_date > features["date"].min()
    assert report.brier_model < report.brier_rule < report.brier_climatology
    assert report.auc_model > report.auc_rule
    assert capsys.readouterr().out == ""  # refine returns its evaluation, the caller prints
    printed = report.table()
    assert "rule alone" in printed and "refined" in printed and "Brier" in printed
    probs = refined.predict_proba(features.tail(5))
    assert probs.shape == (5,) and ((probs >= 0) & (probs <= 1)).all()


def test_boosting_refinement_also_beats_the_rule() -> None:
    features, observations = synthetic_scouting(seed=1)
    refined = pest.refine(features, observations, "level", estimator="boosting")
    assert refined.report.brier_model < refined.report.brier_rule


def test_refinement_refuses_a_period_without_outbreaks() -> None:
    features, observations = synthetic_scouting()
    observations["incidence"] = 0.0
    with pytest.raises(ValueError, match="both outbreaks and non-outbreaks"):
        pest.refine(features, observations, "level")
