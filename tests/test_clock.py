"""The site's clock (backend/clock.py): site time = start + (real time - origin) x speed; the
default is the real clock; durations convert between real and site seconds by the speed."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from backend.clock import Clock

DAY_S = 86400.0


def test_the_default_clock_is_the_real_one() -> None:
    clock = Clock()
    assert clock.real
    before = time.time()
    now = clock.now_s()
    assert before <= now <= time.time()
    assert abs(clock.now_ms() - time.time() * 1000) < 1000
    assert clock.site_seconds(30) == 30 and clock.real_seconds(30) == 30


def test_site_time_is_start_plus_real_elapsed_times_speed() -> None:
    """A clock started 10 real seconds ago at site time S, 360 x faster, reads S + 3600."""
    start = 1_800_000_000.0
    clock = Clock(360.0, start, time.time() - 10.0)
    assert not clock.real
    assert clock.now_s() == pytest.approx(start + 3600.0, abs=360.0 * 0.5)
    assert clock.now_ms() == pytest.approx((start + 3600.0) * 1000, abs=360.0 * 500)


def test_a_simulated_clock_starts_at_its_start_and_runs_faster() -> None:
    start = time.time() + 30 * DAY_S  # the demo may start its season a month ahead
    clock = Clock.simulated(3600.0, start)
    first = clock.now_s()
    assert first == pytest.approx(start, abs=3600.0 * 0.5)
    time.sleep(0.05)
    advanced = clock.now_s() - first
    assert 0.05 * 3600.0 * 0.9 <= advanced <= 0.05 * 3600.0 * 20  # an hour a second


def test_simulated_without_a_start_is_now() -> None:
    clock = Clock.simulated(60.0)
    assert clock.now_s() == pytest.approx(time.time(), abs=60.0 * 0.5)


def test_durations_convert_by_the_speed() -> None:
    clock = Clock(360.0, 1_800_000_000.0, 1_700_000_000.0)
    assert clock.site_seconds(300) == 108_000.0  # 5 real minutes: 30 site hours
    assert clock.real_seconds(3600) == 10.0  # a site hour: 10 real seconds
    assert clock.real_seconds(clock.site_seconds(42.5)) == pytest.approx(42.5)


def test_speed_1_with_a_start_is_a_shifted_clock_not_the_real_one() -> None:
    start = 1_000_000_000.0
    clock = Clock(1.0, start, time.time())
    assert not clock.real
    assert clock.now_s() == pytest.approx(start, abs=1.0)


def test_of_reads_the_settings_clock_keys_with_real_defaults() -> None:
    settings = SimpleNamespace(clock_speed=360, clock_start=1_800_000_000, clock_origin=1.5e9)
    assert Clock.of(settings) == Clock(360.0, 1_800_000_000.0, 1.5e9)
    assert Clock.of(SimpleNamespace()) == Clock()
    assert Clock.of(SimpleNamespace()).real
