"""Inhibition (backend/alerts/inhibit.py): a node not reporting mutes the alerts of its fields'
readings, a gateway whose store is down mutes the node-offline storm behind it, and a muted
alert resumes when its inhibitor resolves (issue 14, "Inhibition")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import pytest

from backend.alerts.inhibit import (
    GATEWAY_STORE_DOWN,
    NODE_OFFLINE,
    Topology,
    inhibited,
    step_round,
)
from backend.alerts.model import AlertState, Observation, Transition
from tests.alerts.core_world import alert, at, field, gateway, minutes, node, off, on

# field 12 is measured by n1, field 13 by n2; both nodes behind gw1, n3 behind gw2
TOPOLOGY = Topology(
    field_nodes={"12": {"n1"}, "13": {"n2"}, "14": {"n3"}},
    gateway_nodes={"gw1": {"n1", "n2"}, "gw2": {"n3"}},
)
DRY_12, DRY_13 = alert(field("12")), alert(field("13"))
N1, N2, N3 = (alert(node(n), NODE_OFFLINE) for n in ("n1", "n2", "n3"))
GW1 = alert(gateway("gw1"), GATEWAY_STORE_DOWN)


def rounds(
    start: datetime,
    end: datetime,
    verdicts: Callable[[datetime], Iterable[Observation]],
    states: dict[str, AlertState] | None = None,
) -> tuple[dict[str, AlertState], list[Transition]]:
    """Every alert evaluated once a minute from `start` to `end`."""
    states = states or {}
    made: list[Transition] = []
    for now in minutes(start, end):
        result = step_round(states, verdicts(now), now, TOPOLOGY)
        states, made = result.states, made + result.transitions
    return states, made


def told(made: list[Transition]) -> list[tuple[str, str, datetime]]:
    return [(t.alert.subject.ref, t.kind, t.at) for t in made]


def test_a_node_offline_mutes_its_fields_reading_alerts_until_it_resolves() -> None:
    states, made = rounds(at(8), at(10), lambda now: [on(N1), on(DRY_12), on(DRY_13)])
    assert told(made) == [  # field 12's alert is muted; field 13, measured by n2, is not
        ("node:n1", "firing", at(8, 20)),
        ("field:13", "firing", at(8, 20)),
    ]
    assert DRY_12.fingerprint not in states  # muted from the start: nothing counted
    # the node reports again; its alert resolves after the keep-firing period, and only then
    # does field 12's alert count (and fire 20 min later)
    states, made = rounds(at(10), at(11, 30), lambda now: [off(N1), on(DRY_12), on(DRY_13)], states)
    assert told(made) == [
        ("node:n1", "resolved", at(10, 30)),
        ("field:12", "firing", at(10, 51)),
    ]


def test_a_muted_firing_alert_sends_no_reminder_and_resumes_after() -> None:
    states, made = rounds(at(8), at(9), lambda now: [off(N1), on(DRY_12, level=3)])
    assert told(made) == [("field:12", "firing", at(8, 20))]
    # n1 silent 09:00-15:00: the 12:20 reminder is not sent, no "resolved" either
    states, muted = rounds(at(9), at(15), lambda now: [on(N1), on(DRY_12, level=3)], states)
    assert [(ref, kind) for ref, kind, _ in told(muted)] == [("node:n1", "firing")]
    states, back = rounds(at(15), at(16), lambda now: [off(N1), on(DRY_12, level=3)], states)
    assert [(ref, kind) for ref, kind, _ in told(back)] == [
        ("node:n1", "resolved"),
        ("field:12", "repeat"),  # it resumes: the overdue reminder, once
    ]
    assert told(back)[1][2] > at(15, 30)


def test_a_gateway_store_down_mutes_the_node_offline_storm_behind_it() -> None:
    def storm(now: datetime) -> list[Observation]:
        return [on(GW1), on(N1), on(N2), on(N3), on(DRY_12), on(alert(field("14")))]

    states, made = rounds(at(8), at(10), storm)
    # one alert about gw1 instead of one per node; n3 is behind another gateway; the fields
    # of the muted nodes stay muted (their nodes are silent all the same)
    assert told(made) == [
        ("gateway:gw1", "firing", at(8, 20)),
        ("node:n3", "firing", at(8, 20)),
    ]
    states, made = rounds(at(10), at(11), lambda now: [off(GW1), off(N1), off(N2)], states)
    assert told(made) == [("gateway:gw1", "resolved", at(10, 30))]


def test_only_the_alerts_derived_from_readings_and_the_node_offline_ones_are_muted() -> None:
    forecast = alert(field("12"), "pest_blast")
    battery = alert(node("n1"), "battery_low")
    readings_only = Topology(
        field_nodes=TOPOLOGY.field_nodes,
        gateway_nodes=TOPOLOGY.gateway_nodes,
        reading_rules=frozenset({"soil_dry"}),
    )
    candidates = [DRY_12, forecast, DRY_13, battery, N1]
    assert inhibited([N1], candidates, readings_only) == {DRY_12.fingerprint}
    assert inhibited([N1], candidates, TOPOLOGY) == {DRY_12.fingerprint, forecast.fingerprint}
    assert inhibited([GW1], candidates, TOPOLOGY) == {N1.fingerprint}
    assert inhibited([], candidates, TOPOLOGY) == set()
    unknown = alert(field("99"))  # no node named for it: nothing to be muted by
    assert inhibited([N1, N2, N3], [unknown], TOPOLOGY) == set()


def test_two_observations_of_one_alert_in_a_round_are_refused() -> None:
    with pytest.raises(ValueError, match="two observations"):
        step_round({}, [on(DRY_12), off(DRY_12)], at(8), TOPOLOGY)
