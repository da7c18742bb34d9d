"""What the farmer did: a pump filling the paddy, a drained field, an irrigated upland field are
found in the hourly readings at the right time; rain, sensor noise and gaps are not offered as
anything; what the farmer already recorded is not offered again; and in simulated seasons the
farmer's irrigations are found with few false alarms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import events
from forecasting.et0 import InputError
from forecasting.field_readings import hourly_readings
from forecasting.seasons import TEST_YEARS, seasons_for
from forecasting.soil_sim import simulate

TZ = "Asia/Ho_Chi_Minh"
START = pd.Timestamp("2026-03-01 00:00", tz=TZ)
STEP = pd.Timedelta(minutes=15)  # the nodes' reporting interval
LEVEL_NOISE_M = 0.003  # the level sensor's +-3 mm, taken as one standard deviation
PROBE_NOISE_PCT = 0.5


def _times(days: float) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=int(days * 96), freq=STEP)


def _ramp(times: pd.DatetimeIndex, start: str, hours: float, total: float) -> np.ndarray:
    """0 before `start`, rising linearly to `total` over `hours`, `total` after."""
    t0 = pd.Timestamp(start, tz=TZ)
    done = np.asarray((times - t0) / pd.Timedelta(hours=hours), float)
    return total * np.clip(done, 0.0, 1.0)


def _rain(times: pd.DatetimeIndex, start: str, hours: float, mm: float) -> np.ndarray:
    """`mm` of rain spread evenly over the readings of `hours` from `start`."""
    t0 = pd.Timestamp(start, tz=TZ)
    inside = (times >= t0) & (times < t0 + pd.Timedelta(hours=hours))
    return np.where(inside, mm / inside.sum(), 0.0)


def _paddy(
    days: float = 5,
    level0_m: float = 0.04,
    decline_m_day: float = 0.01,
    seed: int = 0,
    **parts: np.ndarray,
) -> pd.DataFrame:
    """15-min readings of a paddy node made hourly: the level falls `decline_m_day` (ET and
    percolation) plus `parts["level"]`, with sensor noise; `parts["rain"]` mm per reading."""
    times = _times(days)
    rng = np.random.default_rng(seed)
    elapsed_days = np.asarray((times - START) / pd.Timedelta(days=1), float)
    level = level0_m - decline_m_day * elapsed_days + parts.get("level", 0.0)
    level = level + rng.normal(0.0, LEVEL_NOISE_M, len(times))
    rain = parts.get("rain", np.zeros(len(times)))
    frame = pd.DataFrame({"water_level": level, "rain": rain}, index=times)
    return hourly_readings(frame, TZ)


def _upland(days: float = 5, seed: int = 0, **parts: np.ndarray) -> pd.DataFrame:
    """15-min readings of an upland probe drying 1 %/day, plus `parts["vwc"]`, with noise."""
    times = _times(days)
    rng = np.random.default_rng(seed)
    elapsed_days = np.asarray((times - START) / pd.Timedelta(days=1), float)
    vwc = 30.0 - 1.0 * elapsed_days + parts.get("vwc", 0.0)
    vwc = vwc + rng.normal(0.0, PROBE_NOISE_PCT, len(times))
    rain = parts.get("rain", np.zeros(len(times)))
    frame = pd.DataFrame({"soil_vwc": vwc, "rain": rain}, index=times)
    return hourly_readings(frame, TZ)


def _detect(hourly: pd.DataFrame, kind: str = "paddy", **kw) -> list[events.Event]:
    recorded = kw.pop("recorded", [])
    zr = kw.pop("zr_m", None)
    return events.detect(hourly, kind, zr, recorded, kw.pop("since", START), **kw)


def test_rain_moves_the_level_one_to_one_ponded_and_by_one_over_sy_below() -> None:
    assert events.level_change_m(0.02, 10.0, 0.1) == pytest.approx(0.010)
    assert events.level_change_m(-0.10, 5.0, 0.1) == pytest.approx(0.05)
    # 10 mm fill the pores up to the surface, the other 30 mm pond
    assert events.level_change_m(-0.10, 40.0, 0.1) == pytest.approx(0.13)
    assert events.level_change_m(0.005, -10.0, 0.1) == pytest.approx(-0.005 - 0.05)
    for a, b in [(-0.1, 0.03), (0.05, -0.02), (0.01, 0.04), (-0.12, -0.02)]:
        water = events.water_between_mm(a, b, 0.1)
        assert a + float(events.level_change_m(a, water, 0.1)) == pytest.approx(b)


def test_a_pump_adding_5_cm_in_2_h_is_found_at_the_right_time() -> None:
    times = _times(5)
    hourly = _paddy(level=_ramp(times, "2026-03-03 06:00", 2, 0.05))
    (event,) = _detect(hourly)
    assert event.kind == "irrigation"
    assert event.start == pd.Timestamp("2026-03-03 06:00", tz=TZ)
    assert event.end == pd.Timestamp("2026-03-03 08:00", tz=TZ)
    assert event.rise_m == pytest.approx(0.05, abs=0.006)
    # the level stayed above the surface: ~1 mm of water per mm of rise
    assert event.amount_mm == pytest.approx(50.0, abs=6.0)
    assert event.jump_pct is None


def test_a_slow_canal_fill_longer_than_the_window_is_one_event() -> None:
    times = _times(5)
    hourly = _paddy(level=_ramp(times, "2026-03-02 20:00", 10, 0.08))
    (event,) = _detect(hourly)
    assert event.kind == "irrigation"
    began, ended = pd.Timestamp("2026-03-02 20:00", tz=TZ), pd.Timestamp("2026-03-03 06:00", tz=TZ)
    hour = pd.Timedelta(hours=1)
    assert began <= event.start <= began + hour and ended - hour <= event.end <= ended + hour
    assert event.rise_m == pytest.approx(0.08, abs=0.008)


def test_the_same_rise_during_40_mm_of_rain_is_not_an_irrigation() -> None:
    times = _times(5)
    rain = _rain(times, "2026-03-03 06:00", 2, 40.0)
    ponded = _paddy(level=_ramp(times, "2026-03-03 06:00", 2, 0.05), rain=rain)
    assert _detect(ponded) == []
    # below the surface 40 mm lifts the perched water far more than 5 cm
    dry = _paddy(level0_m=-0.10, level=_ramp(times, "2026-03-03 06:00", 2, 0.05), rain=rain)
    assert _detect(dry) == []
    # without the rain the same series is an irrigation
    assert [e.kind for e in _detect(_paddy(level=_ramp(times, "2026-03-03 06:00", 2, 0.05)))] == [
        "irrigation"
    ]


def test_rain_that_explains_only_part_of_a_rise_leaves_the_irrigation() -> None:
    times = _times(5)
    rain = _rain(times, "2026-03-03 06:00", 2, 10.0)  # explains 1 cm of 6 cm
    hourly = _paddy(level=_ramp(times, "2026-03-03 06:00", 2, 0.06), rain=rain)
    (event,) = _detect(hourly)
    assert event.rise_m == pytest.approx(0.06, abs=0.006)
    assert event.amount_mm == pytest.approx(60.0 - 10.0, abs=6.0)


def test_letting_6_cm_out_in_3_h_is_a_drainage() -> None:
    times = _times(5)
    hourly = _paddy(level0_m=0.08, level=_ramp(times, "2026-03-02 09:00", 3, -0.06))
    (event,) = _detect(hourly)
    assert event.kind == "drainage"
    # the first hour's mean moved only 4 mm (the outlet opened at 09:00): within an hour
    began = pd.Timestamp("2026-03-02 09:00", tz=TZ)
    assert began <= event.start <= began + pd.Timedelta(hours=1)
    assert event.end == pd.Timestamp("2026-03-02 12:00", tz=TZ)
    assert event.rise_m == pytest.approx(-0.06, abs=0.006)
    assert event.amount_mm == pytest.approx(60.0, abs=7.0)


def test_a_month_of_sensor_noise_ets_and_rain_gives_nothing() -> None:
    times = _times(30)
    # AWD: from 5 cm ponded the level falls 1 cm a day to -25 cm, with storms on the way:
    # 25 mm ponded on day 3, 12 mm below the surface on day 12 (lifts the table 12 cm),
    # 60 mm in 6 h on day 20
    rain = (
        _rain(times, "2026-03-04 14:00", 3, 25.0)
        + _rain(times, "2026-03-13 15:00", 2, 12.0)
        + _rain(times, "2026-03-21 01:00", 6, 60.0)
    )
    for seed in range(5):
        hourly = _paddy(days=30, level0_m=0.05, seed=seed, rain=rain)
        assert _detect(hourly) == [], seed
        upland = _upland(days=30, seed=seed)
        assert _detect(upland, "upland", zr_m=0.5) == [], seed


def test_noise_on_hourly_readings_without_averaging_gives_nothing() -> None:
    rng = np.random.default_rng(4)
    index = pd.date_range(START, periods=30 * 24, freq="h")
    level = 0.03 - 0.01 * np.arange(len(index)) / 24 + rng.normal(0, LEVEL_NOISE_M, len(index))
    vwc = 28.0 + rng.normal(0, PROBE_NOISE_PCT, len(index))
    hourly = pd.DataFrame({"water_level": level, "soil_vwc": vwc, "rain": 0.0}, index=index)
    assert _detect(hourly) == []
    assert _detect(hourly, "upland", zr_m=0.3) == []


def test_a_gap_is_not_an_event() -> None:
    times = _times(5)
    # the node is off for 3 h while the level is 5 cm higher when it comes back (someone
    # moved the sensor or pumped; the readings cannot say which)
    lifted = _paddy(level=_ramp(times, "2026-03-03 07:00", 0.25, 0.05))
    off = (lifted.index >= pd.Timestamp("2026-03-03 06:00", tz=TZ)) & (
        lifted.index < pd.Timestamp("2026-03-03 09:00", tz=TZ)
    )
    lifted.loc[off, "water_level"] = np.nan
    assert _detect(lifted) == []
    # the same with the hours missing from the frame altogether
    assert _detect(lifted[~off]) == []
    # a rain gauge gap: the rain cannot be ruled out, so nothing is offered
    rained = _paddy(level=_ramp(times, "2026-03-03 06:00", 2, 0.05))
    rained.loc[off, "rain"] = np.nan
    assert _detect(rained) == []
    assert _detect(rained.drop(columns="rain")) == []


def test_an_upland_jump_of_8_percent_without_rain_is_an_irrigation_of_8_x_10_x_zr_mm() -> None:
    times = _times(5)
    hourly = _upland(vwc=_ramp(times, "2026-03-03 16:00", 1, 8.0))
    (event,) = _detect(hourly, "upland", zr_m=0.5)
    assert event.kind == "irrigation"
    assert event.start == pd.Timestamp("2026-03-03 16:00", tz=TZ)
    assert event.end == pd.Timestamp("2026-03-03 17:00", tz=TZ)
    assert event.jump_pct == pytest.approx(8.0, abs=0.8)
    assert event.amount_mm == pytest.approx(8.0 * 10 * 0.5, abs=4.0)
    assert event.rise_m is None
    (no_depth,) = _detect(hourly, "upland", zr_m=None)
    assert no_depth.amount_mm is None


def test_an_upland_jump_with_rain_in_the_window_or_just_before_is_not_offered() -> None:
    times = _times(5)
    jump = _ramp(times, "2026-03-03 16:00", 1, 8.0)
    during = _upland(vwc=jump, rain=_rain(times, "2026-03-03 16:00", 1, 3.0))
    assert _detect(during, "upland", zr_m=0.5) == []
    before = _upland(vwc=jump, rain=_rain(times, "2026-03-03 14:00", 1, 2.0))
    assert _detect(before, "upland", zr_m=0.5) == []
    # a trace (< 1 mm) does not explain an 8 % jump
    trace = _upland(vwc=jump, rain=_rain(times, "2026-03-03 16:00", 1, 0.4))
    assert len(_detect(trace, "upland", zr_m=0.5)) == 1


def test_a_recorded_event_is_not_offered_again() -> None:
    times = _times(5)
    hourly = _paddy(level=_ramp(times, "2026-03-03 06:00", 2, 0.05))
    at = pd.Timestamp("2026-03-03 07:30", tz=TZ)
    assert _detect(hourly, recorded=[("irrigation", at)]) == []
    # within 6 h after the end, given naive in local time, still the same irrigation
    assert _detect(hourly, recorded=[("irrigation", pd.Timestamp("2026-03-03 13:30"))]) == []
    # a record of another kind, or one a day later, is another event
    assert len(_detect(hourly, recorded=[("drainage", at)])) == 1
    assert len(_detect(hourly, recorded=[("irrigation", at + pd.Timedelta(days=1))])) == 1


def test_only_events_since_the_given_time_are_offered() -> None:
    times = _times(5)
    hourly = _paddy(
        level=_ramp(times, "2026-03-02 06:00", 2, 0.05) + _ramp(times, "2026-03-04 06:00", 2, 0.05)
    )
    assert len(_detect(hourly)) == 2
    (later,) = _detect(hourly, since=pd.Timestamp("2026-03-03 00:00", tz=TZ))
    assert later.start == pd.Timestamp("2026-03-04 06:00", tz=TZ)


def test_an_unknown_kind_or_a_missing_series_is_refused() -> None:
    hourly = _upland()
    with pytest.raises(InputError, match="kind"):
        _detect(hourly, "orchard")
    with pytest.raises(InputError, match="water_level"):
        _detect(hourly, "paddy")


# Measured on these 10 held-out-style seasons (seasons_for(10, 5, TEST_YEARS, branch=1)):
# 21 of 21 irrigations found, no false event. Over 60 seasons (seed 11) 98 of 107 were found
# (92 %), none falsely: the 9 missed fell in a probe gap or within rain, where the rules
# decline to judge. The test asserts floors below those measurements.
def test_the_farmers_irrigations_in_simulated_seasons_are_found() -> None:
    found = applied = false = 0
    amount_errors = []
    specs = seasons_for(10, 5, TEST_YEARS, branch=1)
    for spec in specs:
        sim = simulate(spec.field(), seed=spec.seed)
        hourly = sim[["soil_vwc", "rain"]]
        detected = events.detect(hourly, "upland", sim.attrs["zr"], [], sim.index[0])
        irrigated = sim["irrigation"][sim["irrigation"] > 0]
        hit = set()
        for event in detected:
            # the probe reads at the start of each hour: water of hour k shows at k + 1
            near = [
                t for t in irrigated.index if event.start - pd.Timedelta(hours=2) <= t < event.end
            ]
            if not near:
                false += 1
                continue
            hit.update(near)
            assert event.amount_mm is not None
            amount_errors.append(event.amount_mm / irrigated[near].sum() - 1.0)
        applied += len(irrigated)
        found += len(hit)
    assert applied >= 15  # the seasons do irrigate
    assert found / applied >= 0.9, (found, applied)
    assert false / len(specs) <= 0.1, false
    # the depth by eq. 86 backwards is within a third of what was applied, mostly
    assert np.median(np.abs(amount_errors)) < 0.2, amount_errors
