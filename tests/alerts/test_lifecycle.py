"""The lifecycle of one alert (backend/alerts/lifecycle.py) with a clock the test steps: the
promises of issue 14 "Identity and lifecycle" — flapping is one message pair or none, a steady
condition reminds only on its own clock, an alert past its deadline expires without a
"resolved", and a new episode gets new keys."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.alerts.lifecycle import Policy, acknowledge, step
from backend.alerts.model import Alert, Observation, Transition
from backend.i18n import render
from tests.alerts.core_world import alert, at, field, kinds, off, on, run

SOIL = alert(field())
EAGER = Policy(fire_after=1, pending_s=0)  # fires on the first active evaluation


def test_flapping_every_evaluation_for_two_hours_never_fires_under_the_defaults() -> None:
    _, made = run(at(8), at(10), lambda now, i: on(SOIL) if i % 2 == 0 else off(SOIL))
    assert made == []


def test_flapping_after_one_firing_gives_one_firing_and_one_resolved_not_ten() -> None:
    flap = lambda now, i: on(SOIL) if i % 2 == 0 else off(SOIL)
    state, made = run(at(8), at(10), flap, policy=EAGER)
    state, after = run(at(10), at(11), lambda now, i: off(SOIL), state, EAGER)
    assert kinds(made + after) == ["firing", "resolved"]
    assert state is not None and state.status == "resolved"


def test_a_value_on_its_threshold_reading_after_reading_gives_one_pair() -> None:
    # 15-minute readings alternating above and below the threshold, seen by every evaluation
    reading = lambda now, i: on(SOIL) if (i // 15) % 2 == 0 else off(SOIL)
    _, only_flapping = run(at(8), at(10), reading)
    assert only_flapping == []  # never two readings in a row: nothing fires

    state, made = run(at(6), at(7), lambda now, i: on(SOIL))  # steady: it fires
    state, flapping = run(at(7), at(9), reading, state)
    state, clear = run(at(9), at(10), lambda now, i: off(SOIL), state)
    assert kinds(made + flapping + clear) == ["firing", "resolved"]


def test_one_bad_reading_never_alerts() -> None:
    _, made = run(at(8), at(9), lambda now, i: on(SOIL) if i < 15 else off(SOIL))
    assert made == []


def test_a_steady_condition_fires_once_then_reminds_only_on_the_reminder_clock() -> None:
    _, made = run(at(8), at(21), lambda now, i: on(SOIL, level=3))
    assert kinds(made) == ["firing", "repeat", "repeat", "repeat"]
    assert [t.at for t in made] == [at(8, 20), at(12, 20), at(16, 20), at(20, 20)]  # every 4 h
    assert [t.seq for t in made] == [1, 2, 3, 4]

    _, daily = run(at(8), at(9, day=11), lambda now, i: on(SOIL, level=2))
    assert [(t.kind, t.at) for t in daily] == [("firing", at(8, 20)), ("repeat", at(8, 20, 11))]

    _, once = run(at(8), at(8, day=12), lambda now, i: on(SOIL, level=1))
    assert kinds(once) == ["firing"]  # level 1 is information: said once


def test_an_acknowledged_alert_stops_reminding_until_its_level_rises() -> None:
    state, _ = run(at(8), at(9), lambda now, i: on(SOIL, level=2))
    assert state is not None
    state = acknowledge(state, at(9))
    state, quiet = run(at(9), at(9, day=12), lambda now, i: on(SOIL, level=2), state)
    assert quiet == []
    state, raised = run(at(9, day=12), at(14, day=12), lambda now, i: on(SOIL, level=3), state)
    assert kinds(raised) == ["level_up", "repeat"]  # asked again, then reminded at level 3
    assert state is not None and state.acked_at is None


def test_a_level_increase_is_sent_a_decrease_is_not_and_hovering_is_sent_once() -> None:
    levels = [2] * 30 + [3] * 30 + [2] * 30 + [3] * 30 + [2] * 30
    _, made = run(at(8), at(10, 30), lambda now, i: on(SOIL, level=levels[i]))
    assert [(t.kind, t.level) for t in made] == [("firing", 2), ("level_up", 3)]
    assert made[1].at == at(8, 50)  # confirmed like a firing: 20 min at the new level
    assert render(made[1].message, "en").startswith("Raised to level 3: Irrigate today")


def test_a_one_evaluation_spike_of_level_is_not_a_level_up() -> None:
    state, _ = run(at(8), at(9), lambda now, i: on(SOIL, level=2))
    _, made = run(at(9), at(10), lambda now, i: on(SOIL, level=3 if i == 5 else 2), state)
    assert made == []


def test_an_alert_past_its_deadline_expires_and_sends_no_resolved() -> None:
    midnight = at(0, day=11)
    state, made = run(at(20), midnight, lambda now, i: on(SOIL, expires_at=midnight))
    assert kinds(made) == ["firing"]
    assert "by 10 Dec" in render(made[0].message, "en")  # the last day it can be done
    state, late = run(midnight, at(6, day=11), lambda now, i: on(SOIL, expires_at=midnight), state)
    state, clear = run(at(6, day=11), at(8, day=11), lambda now, i: off(SOIL), state)
    assert kinds(late + clear) == ["expired"]  # once, and never "resolved"
    assert late[0].at == midnight
    assert state is not None and state.status == "expired"


def test_a_pending_alert_past_its_deadline_is_dropped_unsent() -> None:
    soon = at(8, 10)
    state, made = run(at(8), at(9), lambda now, i: on(SOIL, expires_at=soon))
    assert made == [] and state is None


def test_an_alert_that_fires_again_after_resolving_is_a_new_episode() -> None:
    state, first = run(at(6), at(7), lambda now, i: on(SOIL))
    state, _ = run(at(7), at(8), lambda now, i: off(SOIL), state)
    state, second = run(at(8), at(9), lambda now, i: on(SOIL), state)
    assert kinds(first) == kinds(second) == ["firing"]
    assert first[0].episode != second[0].episode
    assert second[0].seq == 1 and second[0].fingerprint == first[0].fingerprint


def test_a_new_rule_version_continues_the_same_alert() -> None:
    tuned = Alert(SOIL.rule, 2, SOIL.subject)
    assert tuned.fingerprint == SOIL.fingerprint
    state, _ = run(at(8), at(9), lambda now, i: on(SOIL, level=3))
    state, made = run(at(9), at(13), lambda now, i: on(tuned, level=3), state)
    assert kinds(made) == ["repeat"]  # no second firing for the deploy
    assert "soil_dry v2" in render(made[0].message, "en")


def test_no_verdict_holds_the_state_and_sends_nothing_but_the_expiry() -> None:
    deadline = at(23)
    state, _ = run(at(8), at(9), lambda now, i: on(SOIL, level=3, expires_at=deadline))
    held, made = run(at(9), at(22), lambda now, i: None, state)
    assert made == [] and held == state  # no reminders while muted or without data
    _, expired = run(at(22), at(23, 30), lambda now, i: None, held)
    assert kinds(expired) == ["expired"]


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="aware"):
        step(None, on(SOIL), datetime(2026, 12, 10, 8))
    state, _ = run(at(8), at(9), lambda now, i: on(SOIL))
    with pytest.raises(ValueError, match="given to the state"):
        step(state, on(alert(field("13"))), at(9))
    with pytest.raises(ValueError, match="says what to do"):
        Observation(SOIL, True, 2)
    with pytest.raises(ValueError, match="level"):
        Observation(SOIL, True, 4)
    with pytest.raises(ValueError, match="per level"):
        Policy(remind_every_s=(None, 60.0))  # type: ignore[arg-type]  # the check under test
    with pytest.raises(ValueError):
        Policy(fire_after=0)


# -- property: for any sequence of observations the transitions alternate correctly ---------

verdicts = st.one_of(
    st.none(),
    st.just(False),
    st.integers(min_value=1, max_value=3),
)
policies = st.builds(
    Policy,
    fire_after=st.integers(1, 3),
    pending_s=st.sampled_from([0.0, 60.0, 1200.0]),
    resolve_after=st.integers(1, 3),
    keep_firing_s=st.sampled_from([0.0, 300.0, 1800.0]),
    remind_every_s=st.tuples(
        st.sampled_from([None, 600.0]),
        st.sampled_from([None, 1800.0, 86400.0]),
        st.sampled_from([None, 900.0, 14400.0]),
    ),
)


def _observe(verdict: int | bool | None, expires: datetime | None) -> Observation | None:
    """None: no verdict; False: inactive; a level: active at that level."""
    if verdict is None:
        return None
    if verdict is False:
        return off(SOIL)
    return on(SOIL, level=int(verdict), expires_at=expires)


@settings(max_examples=300, deadline=None)
@given(
    policy=policies,
    events=st.lists(
        st.tuples(st.integers(1, 240), verdicts, st.sampled_from([None, 0, 1])), max_size=120
    ),
)
def test_transitions_alternate_for_any_sequence_of_observations(
    policy: Policy, events: list[tuple[int, int | bool | None, int | None]]
) -> None:
    now = at(0)
    deadlines = [at(12), at(0, day=12)]  # two deadlines: some alerts expire, some renew
    state = None
    made: list[Transition] = []
    for gap_min, verdict, deadline in events:
        now += timedelta(minutes=gap_min)
        expires = None if deadline is None else deadlines[deadline]
        state, transitions = step(state, _observe(verdict, expires), now, policy)
        made += transitions

    episode, last_sent, peak, seq = None, now, 0, 0
    ended: set[str] = set()
    for t in made:
        if t.kind == "firing":
            assert episode is None, "two firings without a resolved or expired between"
            assert t.episode not in ended and t.seq == 1
            episode, last_sent, peak, seq = t.episode, t.at, t.level, 1
            continue
        assert episode == t.episode, f"{t.kind} outside a firing episode"
        assert t.seq == seq + 1
        seq = t.seq
        if t.kind == "repeat":
            every = policy.remind_after(t.level)
            assert every is not None and (t.at - last_sent).total_seconds() >= every
            last_sent = t.at
        elif t.kind == "level_up":
            assert t.level > peak
            peak, last_sent = t.level, t.at
        else:
            assert t.kind in ("resolved", "expired")
            ended.add(episode)
            episode = None
    if episode is not None:
        assert state is not None and state.status == "firing"
