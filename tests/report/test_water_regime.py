"""The season's water regime from the paddy water level: synthetic seasons whose answer is known
(IPCC 2019 Table 5.12 classes, the end-season drainage not counted, AWD dry-downs to -15 cm,
re-floods), and gaps that lower the coverage without ever inventing a drainage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.report import water_regime as wr
from backend.report.water_regime import Regime

TZ = "Asia/Ho_Chi_Minh"
TRANSPLANTED = dt.date(2026, 2, 1)
HARVESTED = dt.date(2026, 5, 22)  # 110 days
SEASON_DAYS = 110
FLOODED_M = 0.05
FINAL_DRAIN_DAY = 100  # drained for harvest from day 100 (the last 10 days)


def _times(step: str = "15min") -> pd.DatetimeIndex:
    start = pd.Timestamp(TRANSPLANTED, tz=TZ)
    return pd.date_range(start, start + pd.Timedelta(days=SEASON_DAYS), freq=step, inclusive="left")


def _day(index: pd.Index) -> np.ndarray:
    """Days since transplanting of each sample time."""
    times = pd.DatetimeIndex(index)
    return np.asarray((times - pd.Timestamp(TRANSPLANTED, tz=TZ)) / pd.Timedelta(days=1))


def _season(
    *drains: tuple[float, float, float], step: str = "15min", final_drain: bool = True
) -> pd.Series:
    """Ponded at 5 cm, below the surface at `level_m` for each (start_day, days, level_m), and
    at -10 cm from day 100 to harvest when `final_drain`."""
    index = _times(step)
    day = _day(index)
    level = np.full(day.size, FLOODED_M)
    for start, days, level_m in drains:
        level[(day >= start) & (day < start + days)] = level_m
    if final_drain:
        level[day >= FINAL_DRAIN_DAY] = -0.10
    return pd.Series(level, index=index, name="water_level")


def _awd_season(depths_m: list[float], first_day: float = 20.0, every: float = 20.0) -> pd.Series:
    """Safe AWD: from 5 cm the water falls 2.5 cm a day to each depth, stays there half a day,
    then the farmer re-floods to 5 cm; the cycles start `every` days apart; drained for harvest
    from day 100."""
    index = _times()
    day = _day(index)
    level = np.full(day.size, FLOODED_M)
    for k, depth in enumerate(depths_m):
        start = first_day + k * every
        inside = (day >= start) & (day < start + (FLOODED_M - depth) / 0.025 + 0.5)
        level[inside] = np.maximum(FLOODED_M - 0.025 * (day[inside] - start), depth)
    level[day >= FINAL_DRAIN_DAY] = -0.10
    return pd.Series(level, index=index, name="water_level")


def _regime(levels: pd.Series, **options: object) -> wr.WaterRegime:
    return wr.water_regime(levels, TRANSPLANTED, HARVESTED, **options)  # type: ignore[arg-type]


def _at(day: float) -> pd.Timestamp:
    return pd.Timestamp(TRANSPLANTED, tz=TZ) + pd.Timedelta(days=day)


def test_flooded_all_season_but_the_drain_for_harvest_is_continuously_flooded() -> None:
    result = _regime(_season())
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED
    assert result.sfw == 1.00 and result.sfw_range == (0.73, 1.27)
    assert result.drainage_periods == [] and result.refloods == 0 and result.dry_downs_15cm == 0
    assert result.final_drainage is not None
    assert result.final_drainage.start == _at(FINAL_DRAIN_DAY)
    assert result.final_drainage.days == pytest.approx(SEASON_DAYS - FINAL_DRAIN_DAY)
    assert result.final_drainage.min_level_m == pytest.approx(-0.10)
    assert result.days_flooded == pytest.approx(FINAL_DRAIN_DAY)
    assert result.coverage == pytest.approx(1.0)
    assert result.missing_days == pytest.approx(0.0) and result.season_days == SEASON_DAYS


def test_one_mid_season_drain_of_five_days_is_single_drainage() -> None:
    result = _regime(_season((40, 5, -0.08)))
    assert result.water_regime is Regime.SINGLE_DRAINAGE
    assert (result.sfw, result.sfw_range) == (0.71, (0.53, 0.94))
    [period] = result.drainage_periods
    assert period.start == _at(40) and period.end == _at(45)
    assert period.days == pytest.approx(5.0) and period.min_level_m == pytest.approx(-0.08)
    assert result.refloods == 1
    assert result.dry_downs_15cm == 0  # -8 cm is a drain, not a full safe-AWD dry-down
    assert result.days_flooded == pytest.approx(FINAL_DRAIN_DAY - 5)


def test_three_awd_dry_downs_are_multiple_drainage_with_three_refloods() -> None:
    result = _regime(_awd_season([-0.15, -0.20, -0.17]))
    assert result.water_regime is Regime.MULTIPLE_DRAINAGE
    assert (result.sfw, result.sfw_range) == (0.55, (0.41, 0.72))
    assert result.dry_downs_15cm == 3 and result.refloods == 3
    assert [round(p.min_level_m, 3) for p in result.drainage_periods] == [-0.15, -0.2, -0.17]
    # below -1 cm (the noise band) from 2.4 days after the fall starts until the re-flood
    for period, depth in zip(result.drainage_periods, [-0.15, -0.20, -0.17], strict=True):
        assert period.days == pytest.approx((-0.01 - depth) / 0.025 + 0.5, abs=0.011)


def test_a_dry_down_that_stops_short_of_15_cm_is_a_drainage_but_no_awd_dry_down() -> None:
    result = _regime(_awd_season([-0.15, -0.12, -0.20]))
    assert result.water_regime is Regime.MULTIPLE_DRAINAGE
    assert len(result.drainage_periods) == 3 and result.dry_downs_15cm == 2


def test_a_two_day_drain_is_below_the_minimum_and_no_drainage() -> None:
    levels = _season((40, 2, -0.08))
    result = _regime(levels)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED
    assert result.drainage_periods == [] and result.refloods == 1
    shorter_minimum = _regime(levels, drainage_min_days=2)
    assert shorter_minimum.water_regime is Regime.SINGLE_DRAINAGE


def test_only_a_reflood_ends_a_drain() -> None:
    # below the surface days 40-43, at the surface (saturated, not ponded) 43-46, below 46-48
    levels = _season((40, 8, -0.06), (43, 3, 0.0))
    result = _regime(levels)
    [period] = result.drainage_periods
    assert period.start == _at(40) and period.end == _at(48)
    assert period.days == pytest.approx(5.0)  # the drained days; saturated is not drained
    assert result.refloods == 1 and result.water_regime is Regime.SINGLE_DRAINAGE


def test_drains_in_the_last_two_weeks_belong_to_the_drain_for_harvest() -> None:
    # a drain at day 97 re-flooded, then the harvest drain: neither counts (IPCC fn.: only
    # drainages "in addition to the end-season drainage" do)
    levels = _season((97, 4, -0.12), final_drain=False)
    levels.loc[_day(levels.index) >= 104] = -0.10
    result = _regime(levels)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED and result.refloods == 1
    assert result.final_drainage is not None and result.final_drainage.start == _at(104)
    # the same drain earlier in the season counts
    assert _regime(_season((80, 4, -0.12))).water_regime is Regime.SINGLE_DRAINAGE


def test_an_early_drain_never_reflooded_is_the_end_season_drainage() -> None:
    levels = _season(final_drain=False)
    levels.loc[_day(levels.index) >= 70] = -0.12  # drained from day 70 to harvest
    result = _regime(levels)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED
    assert result.final_drainage is not None and result.final_drainage.start == _at(70)
    assert result.final_drainage.days == pytest.approx(40.0)


def test_ten_missing_days_lower_the_coverage_and_invent_no_drainage() -> None:
    levels = _season()
    day = _day(levels.index)
    gappy = levels[(day < 50) | (day >= 60)]
    result = _regime(gappy)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED
    assert result.drainage_periods == [] and result.refloods == 0
    assert result.coverage == pytest.approx(100 / 110, abs=1e-3)
    assert result.missing_days == pytest.approx(10.0, abs=0.01)
    assert result.days_flooded == pytest.approx(90.0, abs=0.01)


def test_a_gap_inside_a_drain_is_not_counted_as_drained() -> None:
    levels = _season((40, 8, -0.08))
    day = _day(levels.index)
    gappy = levels[(day < 42) | (day >= 46)]  # 4 of the 8 drained days missing
    result = _regime(gappy)
    [period] = result.drainage_periods  # one drain on both sides of the gap, not two
    assert period.start == _at(40) and period.end == _at(48)
    assert period.days == pytest.approx(4.0, abs=0.01)
    assert _regime(gappy, drainage_min_days=5).water_regime is Regime.CONTINUOUSLY_FLOODED


def test_short_gaps_are_inferred_and_the_books_balance() -> None:
    levels = _season((40, 5, -0.08))
    day = _day(levels.index)
    drop = ((day >= 20) & (day < 20.5)) | ((day >= 42) & (day < 42.25))  # 12 h and 6 h
    result = _regime(levels[~drop])
    assert result.water_regime is Regime.SINGLE_DRAINAGE
    assert result.drainage_periods[0].days == pytest.approx(5.0)  # 6 h inferred drained
    assert result.inferred_days == pytest.approx(0.75, abs=1e-6)
    assert result.coverage == pytest.approx(1 - 0.75 / SEASON_DAYS, abs=1e-6)
    observed = result.coverage * SEASON_DAYS
    assert observed + result.inferred_days + result.missing_days == pytest.approx(SEASON_DAYS)


def test_daily_readings_give_the_same_answer() -> None:
    result = _regime(_season((40, 5, -0.08), step="1D"))
    assert result.water_regime is Regime.SINGLE_DRAINAGE
    assert result.drainage_periods[0].days == pytest.approx(5.0)
    assert result.coverage == pytest.approx(1.0)


def test_sensor_noise_around_a_saturated_surface_is_no_drainage() -> None:
    levels = _season()
    rng = np.random.default_rng(7)
    in_season = _day(levels.index) < FINAL_DRAIN_DAY
    levels.loc[in_season] = rng.normal(0.0, 0.002, in_season.sum())  # saturated, 0 +- 2 mm
    result = _regime(levels)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED and result.refloods == 0
    assert result.days_flooded == pytest.approx(FINAL_DRAIN_DAY)  # saturated is not drained
    # a noisier sensor flickers across the band now and then, but never for days
    levels.loc[in_season] = rng.normal(0.0, 0.004, in_season.sum())
    noisy = _regime(levels)
    assert noisy.water_regime is Regime.CONTINUOUSLY_FLOODED and noisy.dry_downs_15cm == 0


def test_readings_outside_the_season_and_nan_are_ignored() -> None:
    levels = _season()
    before = pd.Series(-0.3, index=pd.date_range(_at(-20), _at(0), freq="15min", inclusive="left"))
    with_nan = pd.concat([before, levels]).copy()
    with_nan.iloc[5000:5100] = np.nan
    result = _regime(with_nan)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED and result.refloods == 0
    assert result.coverage == pytest.approx(1 - 100 * 15 / (SEASON_DAYS * 24 * 60), abs=1e-6)


def test_no_readings_at_all_claim_nothing() -> None:
    empty = pd.Series([], index=pd.DatetimeIndex([], tz=TZ), dtype=float)
    result = _regime(empty)
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED
    assert result.coverage == 0.0 and result.missing_days == SEASON_DAYS


def test_bad_input_is_refused() -> None:
    naive = _season().tz_localize(None)
    with pytest.raises(ValueError, match="tz-aware"):
        _regime(naive)
    with pytest.raises(ValueError, match="not after"):
        wr.water_regime(_season(), HARVESTED, TRANSPLANTED)
    assert wr.season_days(TRANSPLANTED, HARVESTED) == SEASON_DAYS
    assert [wr.classify(n) for n in (0, 1, 2, 5)] == [
        Regime.CONTINUOUSLY_FLOODED,
        Regime.SINGLE_DRAINAGE,
        Regime.MULTIPLE_DRAINAGE,
        Regime.MULTIPLE_DRAINAGE,
    ]


_DRAIN = st.tuples(
    st.floats(5, 90), st.floats(0.5, 9), st.floats(-0.30, -0.02)
)  # (start day, days, level)
_GAP = st.tuples(st.floats(0, 109), st.floats(0.01, 15))  # (start day, days)


@settings(max_examples=40, deadline=None)
@given(drains=st.lists(_DRAIN, max_size=5), gaps=st.lists(_GAP, max_size=4))
def test_any_season_keeps_its_books_and_its_class(
    drains: list[tuple[float, float, float]], gaps: list[tuple[float, float]]
) -> None:
    levels = _season(*drains, step="1h")
    day = _day(levels.index)
    keep = np.ones(day.size, bool)
    for start, days in gaps:
        keep &= ~((day >= start) & (day < start + days))
    result = _regime(levels[keep])
    assert 0.0 <= result.coverage <= 1.0
    observed = result.coverage * SEASON_DAYS
    assert observed + result.inferred_days + result.missing_days == pytest.approx(SEASON_DAYS)
    assert result.water_regime is wr.classify(len(result.drainage_periods))
    assert result.sfw == wr.SFW[result.water_regime].value
    assert len(result.drainage_periods) <= len(drains)  # a gap never adds a drainage
    for period in result.drainage_periods:
        assert period.days >= wr.DRAINAGE_MIN_DAYS - 1e-9
        assert _at(0) <= period.start < period.end <= _at(SEASON_DAYS)
        assert period.days <= (period.end - period.start) / pd.Timedelta(days=1) + 1e-9


@settings(max_examples=30, deadline=None)
@given(gaps=st.lists(_GAP, min_size=1, max_size=6))
def test_gaps_in_a_flooded_season_never_make_a_drainage(gaps: list[tuple[float, float]]) -> None:
    levels = _season()
    day = _day(levels.index)
    keep = np.ones(day.size, bool)
    for start, days in gaps:
        keep &= ~((day >= start) & (day < start + days))
    result = _regime(levels[keep])
    assert result.water_regime is Regime.CONTINUOUSLY_FLOODED and result.refloods == 0
    assert result.coverage <= keep.mean() + 1e-9
