"""A small world for the tests of the alerts' pure core: a site clock, fields in two communes,
nodes behind a gateway, people with their roles, and a loop that evaluates every minute."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backend.alerts.lifecycle import DEFAULT_POLICY, Policy, step
from backend.alerts.model import Alert, AlertState, Observation, Person, Subject, Transition
from backend.i18n import Message
from backend.identity import Grant

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EVERY = timedelta(seconds=60)  # `[alerts] evaluate_every`
COOP = 1
OTHER_ORG = 2
PROVINCE = 9

DO = Message("irrigation.today", {"amount": Message("irrigation.amount", {"mm": 25, "m3": 37.5})})
OFFLINE = Message("offline")


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    """Site time on day `day` of December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def field(
    id: str = "12", commune: str | None = "Gia Hòa", owner: int | None = 100, org: int = COOP
) -> Subject:
    # no name: the words show the id ("Ruộng 12", "Field 12")
    return Subject("field", id, commune=commune, organisation_id=org, owner_id=owner)


def node(id: str = "n1a2b3c4", org: int = COOP) -> Subject:
    return Subject("node", id, organisation_id=org)


def gateway(id: str = "gw1", org: int = COOP) -> Subject:
    return Subject("gateway", id, organisation_id=org)


def alert(subject: Subject, rule: str = "soil_dry", version: int = 1) -> Alert:
    return Alert(rule, version, subject)


def on(a: Alert, level: int = 2, expires_at: datetime | None = None) -> Observation:
    return Observation(a, True, level, DO if a.subject.kind == "field" else OFFLINE, expires_at)


def off(a: Alert) -> Observation:
    return Observation(a, False)


def minutes(start: datetime, end: datetime, every: timedelta = EVERY) -> Iterator[datetime]:
    """Evaluation times from `start` (included) to `end` (excluded)."""
    moment = start
    while moment < end:
        yield moment
        moment += every


def run(
    start: datetime,
    end: datetime,
    verdict: Callable[[datetime, int], Observation | None],
    state: AlertState | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[AlertState | None, list[Transition]]:
    """Evaluate one alert every minute: `verdict(now, i)` gives the i-th evaluation's input."""
    made: list[Transition] = []
    for i, now in enumerate(minutes(start, end)):
        state, transitions = step(state, verdict(now, i), now, policy)
        made += transitions
    return state, made


def kinds(transitions: list[Transition]) -> list[str]:
    return [t.kind for t in transitions]


def farmer(id: int = 100) -> Person:
    return Person(
        id,
        f"farmer {id}",
        phone="+84912345678",
        channels=("zalo", "sms"),
        grants=(Grant(COOP, "HTX Gia Hòa", "farmer"),),
    )


def officer(id: int, *communes: str, org: int = PROVINCE) -> Person:
    return Person(
        id,
        f"officer {id}",
        email=f"o{id}@example.vn",
        channels=("email",),
        grants=(Grant(org, "Sở NN&MT Ninh Bình", "officer", frozenset(communes)),),
    )


def technician(id: int, org: int = COOP) -> Person:
    return Person(
        id,
        f"technician {id}",
        channels=("inbox",),
        grants=(Grant(org, "HTX Gia Hòa", "technician"),),
    )
