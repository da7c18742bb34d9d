"""Who is told what, on which channel and when: transitions in, planned deliveries out (issue
14, "Routing by role and scope", "Acknowledge and escalate"; docs/architecture.md, "People and
access"). Pure: the people, what was already planned and the time come in as values.

- **Scope**: a field's alerts go to its owner (the farmer) and, from `officer_min_level` up, to
  the officers covering its commune (across organisations); node and gateway alerts to the
  technicians of the subject's organisation; `expired` to nobody (nothing is left to do).
- **Channels**: the person's, in their order, where they have an address; else the inbox.
- **Quiet hours** (default 21:00-06:00 site time): a message due inside waits until they end
  (`send_at`), except a level-3 firing, level increase or escalation; a level-3 reminder or
  all-clear waits like the others.
- **Daily budget** (default 10 per person per local day of sending): past it a message folds
  into that day's one digest, sent when the day's sending hours end, never dropped; urgent
  level-3 messages count against it but never fold.
- **Escalation**: a level-3 field alert unacknowledged `escalate_after_s` after reaching
  level 3 goes to the next list of the chain (commune officers -> province), a step per
  period; an acknowledgement before a step stops the chain.
- **Idempotency**: a delivery's key hashes (fingerprint, episode, kind, sequence, person), a
  digest's (person, day): planning a transition again gives the same key, counted once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.alerts.model import (
    Alert,
    AlertState,
    Person,
    Transition,
    headline,
    require_aware,
    wording,
)
from backend.i18n import Message

SITE_TIMEZONE = "Asia/Ho_Chi_Minh"
ESCALATE_AFTER_S = 4 * 3600.0  # `[alerts] escalate_after`: half a working day to answer
# the transitions people are told of (`expired` is for the inbox and the record only)
ROUTED = frozenset({"firing", "repeat", "level_up", "resolved"})
# the transitions of a level-3 alert that go out at once, through quiet hours and budget
URGENT = frozenset({"firing", "level_up", "escalated"})


@dataclass(frozen=True)
class RoutingPolicy:
    """The site's routing settings (`[alerts]` and `[site] timezone`)."""

    timezone: str = SITE_TIMEZONE
    officer_min_level: int = 2  # officers cover many fields: level 1 is the farmer's business
    urgent_level: int = 3  # "act now": overrides quiet hours and the budget's folding
    escalate_after_s: float = ESCALATE_AFTER_S
    health_roles: frozenset[str] = frozenset({"technician"})

    def __post_init__(self) -> None:
        if self.escalate_after_s <= 0:
            raise ValueError("escalate_after_s is a positive duration")
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc


@dataclass(frozen=True)
class PlannedDelivery:
    """One message planned for one person: what the outbox stores as one row per channel try.

    key: the idempotency key. channels: the person's usable channels, first choice first.
    send_at: not before (aware). subject, message: the words (a subject line, the body).
    transition: what it tells of (None for a digest); digest: it lists `held`, the deliveries
    the budget folded into it (their keys must not be sent on their own).
    """

    key: str
    person: Person
    channels: tuple[str, ...]
    send_at: datetime
    subject: Message
    message: Message
    level: int
    transition: Transition | None
    digest: bool = False
    held: tuple[PlannedDelivery, ...] = ()


@dataclass(frozen=True)
class DayLedger:
    """What was planned for one person on one local day: the keys counted against the budget
    and the deliveries folded into the day's digest."""

    counted: frozenset[str] = frozenset()
    held: tuple[PlannedDelivery, ...] = ()


LedgerKey = tuple[int, date]  # person id, local day of sending


@dataclass(frozen=True)
class Plan:
    """Planned deliveries (a digest once, with all it holds so far) and the updated ledger."""

    deliveries: tuple[PlannedDelivery, ...]
    ledger: dict[LedgerKey, DayLedger] = field(default_factory=dict)


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """`"21:00-06:00"` -> (21:00, 06:00); `""` -> None (no quiet hours)."""
    if not text.strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise ValueError(f"quiet hours are HH:MM-HH:MM or empty, not {text!r}") from exc
    return None if start == end else (start, end)


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def delivery_key(transition: Transition, person_id: int) -> str:
    """The idempotency key of telling `person_id` of `transition`."""
    t = transition
    return _hash(t.fingerprint, t.episode, t.kind, t.seq, person_id)


def digest_key(person_id: int, day: date) -> str:
    """The idempotency key of a person's digest of `day`: one per person and day."""
    return _hash("digest", person_id, day.isoformat())


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def release_at(at: datetime, quiet: tuple[time, time] | None, zone: ZoneInfo) -> datetime:
    """When a message due at `at` may go: `at`, or the end of the quiet hours it falls in."""
    local = require_aware(at, "at").astimezone(zone)
    if quiet is None or quiet[0] == quiet[1]:
        return at
    start, end = quiet
    now = local.time()  # wall-clock, naive
    if start < end:  # within one day (a siesta)
        inside, day = start <= now < end, local.date()
    else:  # across midnight: the evening part ends tomorrow, the morning part today
        inside = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    return datetime.combine(day, end, tzinfo=zone) if inside else at


def _digest_at(day: date, quiet: tuple[time, time] | None, zone: ZoneInfo) -> datetime:
    """When the digest of `day` goes: when the day's sending hours end (the quiet hours'
    start across midnight, else midnight), after everything it can hold was due."""
    if quiet is not None and quiet[0] > quiet[1]:
        return datetime.combine(day, quiet[0], tzinfo=zone)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def recipients(
    alert: Alert, level: int, people: Iterable[Person], policy: RoutingPolicy = RoutingPolicy()
) -> list[Person]:
    """Who is told of `alert` at `level`, each once, in the order of `people`."""
    s = alert.subject
    chosen: dict[int, Person] = {}
    for person in people:
        if s.kind == "field":
            officer = level >= policy.officer_min_level and any(
                g.role == "officer" and s.commune in g.communes for g in person.grants
            )
            told = officer or (s.owner_id is not None and person.id == s.owner_id)
        else:
            told = any(
                g.role in policy.health_roles and g.organisation_id == s.organisation_id
                for g in person.grants
            )
        if told:
            chosen.setdefault(person.id, person)
    return list(chosen.values())


def plan(
    transitions: Iterable[Transition],
    people: Sequence[Person],
    ledger: Mapping[LedgerKey, DayLedger],
    policy: RoutingPolicy = RoutingPolicy(),
) -> Plan:
    """The deliveries of `transitions` to the people in scope, given what `ledger` says was
    already planned (not changed: the new ledger is returned)."""
    items = [
        (t, person)
        for t in transitions
        if t.kind in ROUTED
        for person in recipients(t.alert, t.level, people, policy)
    ]
    return _schedule(items, ledger, policy)


def plan_escalations(
    state: AlertState,
    now: datetime,
    chain: Sequence[Sequence[Person]],
    ledger: Mapping[LedgerKey, DayLedger],
    policy: RoutingPolicy = RoutingPolicy(),
) -> Plan:
    """The escalations of `state` due by `now`: step k of `chain` (the lists after the
    commune's officers, e.g. [province officers]) `k * escalate_after_s` after the alert
    reached level 3, unless acknowledged before. Every due step is planned again on each
    call, under the same keys, so a missed call loses nothing and a repeated one sends
    nothing twice."""
    require_aware(now, "now")
    if (
        state.status != "firing"
        or state.alert.subject.kind != "field"
        or state.level < policy.urgent_level
        or state.peak_at is None
    ):
        return Plan((), dict(ledger))
    items: list[tuple[Transition, Person]] = []
    for step, people in enumerate(chain, start=1):
        after_s = step * policy.escalate_after_s
        due = state.peak_at + timedelta(seconds=after_s)
        if due > now or (state.acked_at is not None and state.acked_at <= due):
            break
        message = wording(
            "escalated", state.alert, state.message, state.expires_at, state.level, after_s / 3600
        )
        escalated = Transition(
            state.alert, state.episode, step, "escalated", due, state.level, message, state.message
        )
        items += [(escalated, person) for person in people]
    return _schedule(items, ledger, policy)


def _schedule(
    items: Iterable[tuple[Transition, Person]],
    ledger: Mapping[LedgerKey, DayLedger],
    policy: RoutingPolicy,
) -> Plan:
    """Each (transition, person) through quiet hours and the daily budget."""
    zone = _zone(policy.timezone)
    books = dict(ledger)
    out: list[PlannedDelivery] = []
    digests: dict[LedgerKey, PlannedDelivery] = {}
    for t, person in items:
        urgent = t.level >= policy.urgent_level and t.kind in URGENT
        send_at = release_at(t.at, None if urgent else person.quiet_hours, zone)
        day = send_at.astimezone(zone).date()
        book = books.get((person.id, day), DayLedger())
        delivery = PlannedDelivery(
            key=delivery_key(t, person.id),
            person=person,
            channels=person.reachable(),
            send_at=send_at,
            subject=headline(t.kind, t.alert, t.level),
            message=Message("alert.about", {"subject": t.alert.subject.label(), "what": t.message}),
            level=t.level,
            transition=t,
        )
        if delivery.key in book.counted:
            out.append(delivery)  # planned before: the same delivery, not counted again
            continue
        if all(h.key != delivery.key for h in book.held):
            if urgent or len(book.counted) < person.daily_budget:
                books[(person.id, day)] = replace(book, counted=book.counted | {delivery.key})
                out.append(delivery)
                continue
            book = replace(book, held=(*book.held, delivery))
            books[(person.id, day)] = book
        digests[(person.id, day)] = _digest(person, day, book.held, zone)
    return Plan((*out, *digests.values()), books)


def _digest(
    person: Person, day: date, held: tuple[PlannedDelivery, ...], zone: ZoneInfo
) -> PlannedDelivery:
    count, iso = len(held), day.isoformat()
    return PlannedDelivery(
        key=digest_key(person.id, day),
        person=person,
        channels=person.reachable(),
        send_at=_digest_at(day, person.quiet_hours, zone),
        subject=Message("alert.digest_subject", {"count": count, "day": iso}),
        message=Message(
            "alert.digest", {"count": count, "day": iso, "items": [h.message for h in held]}
        ),
        level=max(h.level for h in held),
        transition=None,
        digest=True,
        held=held,
    )
