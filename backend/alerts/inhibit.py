"""Inhibition: one alert about the cause instead of a storm about its effects (Alertmanager's
inhibit rules; issue 14, "Inhibition").

- A node not reporting mutes the alerts derived from its readings: the field alerts of the
  fields it measures (`Topology.field_nodes`). Its last reading is stale, and the absence of
  readings is not a fact about the field; the technician gets the node-offline alert instead.
- A gateway whose store is down mutes the node-offline alerts behind it
  (`Topology.gateway_nodes`): while nothing reaches the store every node looks silent.

A muted alert neither fires nor sends: `step_round` gives it no verdict (`observation=None`),
so its state holds, and it resumes from there once the inhibitor resolves.

An inhibitor holds from the first sight of its condition until it resolves (through its
keep-firing period: as in Alertmanager, a source inhibits while it fires), whether or not it is itself
muted or has fired yet: a node-offline alert muted by its gateway still mutes its fields, and
a pending one already keeps the storm from starting.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from backend.alerts.lifecycle import DEFAULT_POLICY, Policy, step
from backend.alerts.model import Alert, AlertState, Observation, Transition

NODE_OFFLINE = "node_offline"
GATEWAY_STORE_DOWN = "gateway_store_down"


@dataclass(frozen=True)
class Topology:
    """Which alerts derive from what, as the rules and the registry say.

    field_nodes: field id -> the nodes whose readings its rules use.
    gateway_nodes: gateway id -> the nodes whose uplinks it takes.
    node_offline_rules, store_down_rules: the rule ids meaning "node not reporting" and
        "gateway's store unreachable".
    reading_rules: the field rules derived from readings; None: every field rule (forecasts
        and thresholds alike are computed from the node's readings).
    """

    field_nodes: Mapping[str, Collection[str]] = field(default_factory=dict)
    gateway_nodes: Mapping[str, Collection[str]] = field(default_factory=dict)
    node_offline_rules: frozenset[str] = frozenset({NODE_OFFLINE})
    store_down_rules: frozenset[str] = frozenset({GATEWAY_STORE_DOWN})
    reading_rules: frozenset[str] | None = None


def inhibited(active: Iterable[Alert], candidates: Iterable[Alert], topology: Topology) -> set[str]:
    """The fingerprints of the `candidates` muted by the `active` alerts (those whose
    condition holds now)."""
    offline: set[str] = set()
    down: set[str] = set()
    for alert in active:
        kind, rule = alert.subject.kind, alert.rule
        if kind == "node" and rule in topology.node_offline_rules:
            offline.add(alert.subject.id)
        elif kind == "gateway" and rule in topology.store_down_rules:
            down.add(alert.subject.id)
    behind_down = {node for gw in down for node in topology.gateway_nodes.get(gw, ())}

    muted: set[str] = set()
    for alert in candidates:
        subject = alert.subject
        if subject.kind == "field":
            derived = topology.reading_rules is None or alert.rule in topology.reading_rules
            # any of its nodes silent: which reading fed which alert is the rule's business,
            # and an alert on half-stale inputs is no better than one on stale ones
            mute = derived and bool(offline.intersection(topology.field_nodes.get(subject.id, ())))
        else:
            mute = subject.kind == "node" and alert.rule in topology.node_offline_rules
            mute = mute and subject.id in behind_down
        if mute:
            muted.add(alert.fingerprint)
    return muted


@dataclass(frozen=True)
class Round:
    """One evaluation round: the states to keep (by fingerprint), the transitions made, and
    the fingerprints muted this round."""

    states: dict[str, AlertState]
    transitions: list[Transition]
    muted: set[str]


def step_round(
    states: Mapping[str, AlertState],
    observations: Iterable[Observation],
    now: datetime,
    topology: Topology,
    policy: Policy = DEFAULT_POLICY,
    policies: Mapping[str, Policy] | None = None,
) -> Round:
    """Every alert stepped once at `now`, inhibition applied.

    states: the kept states by fingerprint; observations: this round's verdicts (at most one
    per alert); an alert with a state and no observation gets none (only expiry applies).
    policies: per rule id, where a rule needs other periods than `policy`.
    """
    seen: dict[str, Observation] = {}
    for observation in observations:
        fingerprint = observation.alert.fingerprint
        if fingerprint in seen:
            raise ValueError(
                f"two observations of {observation.alert.source} on "
                f"{observation.alert.subject.ref} in one round"
            )
        seen[fingerprint] = observation
    # an inhibitor holds from its condition's first sight until it resolves: while it is
    # active now, pending without a new verdict, or still firing (its keep-firing period)
    holding = [o.alert for o in seen.values() if o.active]
    holding += [
        s.alert
        for fp, s in states.items()
        if s.status == "firing" or (s.status == "pending" and fp not in seen)
    ]
    candidates = [o.alert for o in seen.values()] + [s.alert for s in states.values()]
    muted = inhibited(holding, candidates, topology)

    kept: dict[str, AlertState] = {}
    transitions: list[Transition] = []
    for fingerprint in sorted(set(states) | set(seen)):
        state, given = states.get(fingerprint), seen.get(fingerprint)
        # the fingerprint came from one of the two: no observation means a kept state
        rule = given.alert.rule if given is not None else states[fingerprint].alert.rule
        verdict = None if fingerprint in muted else given
        new, made = step(state, verdict, now, (policies or {}).get(rule, policy))
        if new is not None:
            kept[fingerprint] = new
        transitions += made
    return Round(kept, transitions, muted)
