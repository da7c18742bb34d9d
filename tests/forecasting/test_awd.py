"""Safe-AWD advice: the right action and reason in each stage of the rice season, and at each
threshold's edge (IRRI safe AWD: re-flood at -15 cm, ponded around flowering, no AWD while
the crop establishes, drained before harvest)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backend.i18n import render
from forecasting import awd, crops
from forecasting.awd import Action, AwdSchedule, Phase, Reason

SEASON = AwdSchedule(season_days=110)  # flowering day 80, drain from day 96
TRANSPLANTED = pd.Timestamp("2024-07-10 07:00", tz="Asia/Ho_Chi_Minh")


def _levels(*values: float, hours: float = 24.0) -> pd.Series:
    """Readings `hours` apart, the last one at 06:00 today (2024-08-20)."""
    end = pd.Timestamp("2024-08-20 06:00", tz="Asia/Ho_Chi_Minh")
    index = pd.DatetimeIndex([end - pd.Timedelta(hours=hours * k) for k in range(len(values))])
    return pd.Series(list(values), index=index[::-1], name="water_level")


def test_phases_over_the_season() -> None:
    assert awd.phase_of_day(-1, SEASON) is Phase.OUT_OF_SEASON
    assert awd.phase_of_day(0, SEASON) is Phase.ESTABLISHMENT
    assert awd.phase_of_day(13, SEASON) is Phase.ESTABLISHMENT
    assert awd.phase_of_day(14, SEASON) is Phase.AWD  # AWD from 2 weeks after transplanting
    assert awd.phase_of_day(72, SEASON) is Phase.AWD
    assert awd.phase_of_day(73, SEASON) is Phase.FLOWERING  # flowering (80) - 7 days
    assert awd.phase_of_day(87, SEASON) is Phase.FLOWERING  # flowering + 7 days
    assert awd.phase_of_day(88, SEASON) is Phase.AWD
    assert awd.phase_of_day(95, SEASON) is Phase.AWD
    assert awd.phase_of_day(96, SEASON) is Phase.DRAIN  # harvest (110) - 14 days
    assert awd.phase_of_day(110, SEASON) is Phase.DRAIN
    assert awd.phase_of_day(111, SEASON) is Phase.OUT_OF_SEASON


def test_flowering_defaults_to_30_days_before_harvest_or_the_observed_date() -> None:
    rice = crops.get_crop("rice_spring")
    schedule = AwdSchedule.for_crop(rice)
    assert schedule.season_days == 150 and schedule.flowering == 120
    assert AwdSchedule(season_days=110, flowering_day=76).flowering == 76


def test_reflood_exactly_at_minus_15_cm() -> None:
    advice = awd.advise(_levels(-0.10, -0.13, -0.15), day=40, schedule=SEASON)
    assert advice.reason is Reason.REFLOOD and advice.action is Action.IRRIGATE
    assert advice.target_m == 0.05 and advice.apply_mm == pytest.approx(50.0)
    assert "15 cm below" in render(advice.text, "en") and "bơm nước ngay" in render(
        advice.text, "vi"
    )
    deeper = awd.advise(_levels(-0.22), day=40, schedule=SEASON)
    assert deeper.reason is Reason.REFLOOD and "22 cm dưới mặt ruộng" in render(deeper.text, "vi")


def test_let_dry_just_above_the_threshold_with_days_left() -> None:
    advice = awd.advise(_levels(-0.08, -0.11, -0.14), day=40, schedule=SEASON)
    assert advice.reason is Reason.LET_DRY and advice.action is Action.HOLD
    assert advice.apply_mm == 0.0 and advice.target_m is None
    # falling 3 cm/day, 1 cm left to the threshold
    assert advice.days_to_threshold == pytest.approx(1 / 3)
    ponded = awd.advise(_levels(0.05, 0.04), day=40, schedule=SEASON)
    assert ponded.reason is Reason.LET_DRY
    assert ponded.days_to_threshold == pytest.approx(19.0)  # 19 cm at 1 cm/day
    assert "about 19 days" in render(ponded.text, "en") and "khoảng 19 ngày nữa" in render(
        ponded.text, "vi"
    )
    rising = awd.advise(_levels(-0.10, -0.05), day=40, schedule=SEASON)
    assert rising.days_to_threshold is None
    # falling 1 mm a day: "about 190 days" says nothing; the advice names no date
    flat = awd.advise(_levels(0.04, 0.039), day=40, schedule=SEASON)
    assert flat.reason is Reason.LET_DRY and flat.days_to_threshold is None
    assert "days" not in render(flat.text, "en")


def test_no_awd_during_establishment() -> None:
    dry = awd.advise(_levels(-0.15), day=5, schedule=SEASON)
    assert dry.reason is Reason.ESTABLISHMENT_FLOOD and dry.action is Action.IRRIGATE
    assert dry.apply_mm == pytest.approx(50.0)
    edge = awd.advise(_levels(0.0199), day=13, schedule=SEASON)
    assert edge.reason is Reason.ESTABLISHMENT_FLOOD
    assert edge.apply_mm == pytest.approx(30.1)
    kept = awd.advise(_levels(0.02), day=13, schedule=SEASON)
    assert kept.reason is Reason.ESTABLISHMENT_KEEP and kept.action is Action.HOLD
    assert "cỏ dại" in render(dry.text, "vi") or "2-5 cm" in render(kept.text, "vi")


def test_keep_ponded_around_flowering_even_above_the_awd_threshold() -> None:
    advice = awd.advise(_levels(-0.05), day=80, schedule=SEASON)  # AWD would let it dry
    assert advice.reason is Reason.FLOWERING_FLOOD and advice.action is Action.IRRIGATE
    assert advice.apply_mm == pytest.approx(50.0)
    kept = awd.advise(_levels(0.04), day=73, schedule=SEASON)
    assert kept.reason is Reason.FLOWERING_KEEP
    after = awd.advise(_levels(-0.05), day=88, schedule=SEASON)
    assert after.reason is Reason.LET_DRY  # a week after flowering AWD resumes


def test_drain_two_weeks_before_harvest() -> None:
    wet = awd.advise(_levels(0.03), day=96, schedule=SEASON)
    assert wet.reason is Reason.DRAIN and wet.action is Action.DRAIN
    assert "14 days" in render(wet.text, "en") and "tháo cạn" in render(wet.text, "vi")
    dry = awd.advise(_levels(-0.20), day=100, schedule=SEASON)  # no re-flood now
    assert dry.reason is Reason.DRAINED and dry.action is Action.NONE
    surface = awd.advise(_levels(0.0), day=100, schedule=SEASON)
    assert surface.reason is Reason.DRAINED


def test_missing_or_stale_readings_ask_to_check_the_sensor() -> None:
    none = awd.advise(pd.Series([np.nan], index=[TRANSPLANTED]), day=40, schedule=SEASON)
    assert none.reason is Reason.NO_DATA and none.action is Action.CHECK_SENSOR
    assert np.isnan(none.level_m)
    levels = _levels(-0.16)
    fresh = awd.advise(levels, 40, SEASON, now=levels.index[-1] + pd.Timedelta(hours=23))
    assert fresh.reason is Reason.REFLOOD
    stale = awd.advise(levels, 40, SEASON, now=levels.index[-1] + dt.timedelta(hours=25))
    assert stale.reason is Reason.NO_DATA


def test_nan_readings_are_skipped_and_out_of_season_gives_no_advice() -> None:
    levels = _levels(-0.16, np.nan)
    assert awd.advise(levels, 40, SEASON).reason is Reason.REFLOOD
    out = awd.advise(levels, 130, SEASON)
    assert out.reason is Reason.OUT_OF_SEASON and out.action is Action.NONE


def test_every_reason_has_both_languages() -> None:
    cases = [
        (_levels(-0.2), 40),
        (_levels(-0.1), 40),
        (_levels(-0.1), 5),
        (_levels(0.03), 5),
        (_levels(-0.1), 80),
        (_levels(0.03), 80),
        (_levels(0.03), 100),
        (_levels(-0.1), 100),
        (pd.Series(dtype=float), 40),
        (_levels(0.0), 200),
    ]
    seen = set()
    for levels, day in cases:
        advice = awd.advise(levels, day, SEASON)
        assert (
            render(advice.text, "en")
            and render(advice.text, "vi")
            and render(advice.text, "en") != render(advice.text, "vi")
        )
        seen.add(advice.reason)
    assert seen == set(Reason)
