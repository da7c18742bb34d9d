"""What an alert is: its identity (rule, version, subject, fingerprint), what one evaluation of a
rule says about a subject (:class:`Observation`), the state kept between evaluations
(:class:`AlertState`) and the transitions it makes (:class:`Transition`), with their words;
and the people they are for (:class:`Person`, what routing takes).

Pure data and pure functions: the rules make observations, `lifecycle.step` turns them into
states and transitions, `routing` turns transitions into planned deliveries. Every sentence
is a catalogue message (backend/i18n.py, ids `alert.*`), says what to do and by when, and
names its source (rule id and version), as the forecasts do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal, Protocol, get_args

from backend.i18n import N_, Message

SubjectKind = Literal["field", "node", "gateway"]
Status = Literal["pending", "firing", "resolved", "expired"]
TransitionKind = Literal["firing", "repeat", "level_up", "resolved", "expired", "escalated"]
LEVELS = (1, 2, 3)  # as the forecasts' levels: 1 for information, 3 act now
QUIET_HOURS = (time(21, 0), time(6, 0))  # site time: after the evening meal until dawn
DAILY_BUDGET = 10  # `[alerts] daily_budget`: messages per person per local day before the digest
# the address each channel needs; other channels (the inbox) need none
_ADDRESS = {"zalo": "phone", "sms": "phone", "email": "email"}

# one sentence per transition kind; the literal ids are marked here so that extraction finds
# them (a computed id would not be extractable)
_WORDS: dict[str, str] = {
    "firing": N_("alert.firing"),
    "repeat": N_("alert.repeat"),
    "level_up": N_("alert.level_up"),
    "resolved": N_("alert.resolved"),
    "expired": N_("alert.expired"),
    "escalated": N_("alert.escalated"),
}
# the transitions whose words carry the deadline: the others are about an alert that is over
_WITH_DEADLINE = frozenset({"firing", "repeat", "level_up", "escalated"})


def require_aware(moment: datetime, name: str) -> datetime:
    """`moment` itself; ValueError when it has no time zone (a naive time is ambiguous by
    seven hours between the site's clock and UTC)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not {moment!r}")
    return moment


@dataclass(frozen=True)
class Subject:
    """What an alert is about: a field, a node or a gateway.

    id: the registry's id as text (`"12"` for a field, `"n1a2b3c4"` for a node).
    name: how a reader knows it (the field's name); None shows the id.
    commune, organisation_id: where it is, for routing (officers by commune, technicians by
        organisation); a node's are those of its field.
    owner_id: the field's owner (the farmer who receives its alerts), for a field.
    """

    kind: SubjectKind
    id: str
    name: str | None = None
    commune: str | None = None
    organisation_id: int | None = None
    owner_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in get_args(SubjectKind):
            raise ValueError(f"subject kind must be one of {get_args(SubjectKind)}: {self.kind!r}")
        if not self.id:
            raise ValueError("a subject needs an id")

    @property
    def ref(self) -> str:
        """`kind:id`, e.g. `field:12`, `node:n1a2b3c4`: unique across kinds."""
        return f"{self.kind}:{self.id}"

    def label(self) -> Message:
        """The subject as a reader names it ("Ruộng Đồng Trên", "Nút n1a2b3c4")."""
        shown = self.name or self.id
        if self.kind == "field":
            return Message("field", {"field": shown})
        if self.kind == "node":
            return Message("node", {"node": shown})
        return Message("alert.gateway", {"gateway": shown})


@dataclass(frozen=True)
class Alert:
    """One alert's identity: which rule (id and version) says it about which subject."""

    rule: str
    version: int
    subject: Subject

    def __post_init__(self) -> None:
        if not self.rule:
            raise ValueError("an alert needs a rule id")
        if self.version < 1:
            raise ValueError(f"a rule version starts at 1, not {self.version!r}")

    @property
    def fingerprint(self) -> str:
        """SHA-256 hex of the rule id and the subject.

        The version is left out on purpose: a rule's new version (a tuned threshold) continues
        the same alert. With the version in it, every deploy of a rule would resolve each firing
        alert and fire it again: a burst of messages about a condition that did not change.
        """
        return hashlib.sha256(f"{self.rule}\x1f{self.subject.ref}".encode()).hexdigest()

    @property
    def source(self) -> str:
        """The rule id and version as the words show it: `pest_blast v1`."""
        return f"{self.rule} v{self.version}"


@dataclass(frozen=True)
class Observation:
    """What one evaluation of a rule says about a subject.

    active: the rule's condition holds now.
    level: 1-3 while active.
    message: what to do (a catalogue message), while active.
    expires_at: when it can no longer be acted on (the end of the day for "irrigate today",
        the end of the season); None: never. Aware; its zone decides the day the words show,
        so give it in the site's zone.
    """

    alert: Alert
    active: bool
    level: int = 1
    message: Message | None = None
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.active and self.level not in LEVELS:
            raise ValueError(f"an active observation's level is one of {LEVELS}: {self.level!r}")
        if self.active and self.message is None:
            raise ValueError(f"{self.alert.source}: an active observation says what to do")
        if self.expires_at is not None:
            require_aware(self.expires_at, "expires_at")


@dataclass(frozen=True)
class AlertState:
    """What is kept of one alert between evaluations (a row of the registry).

    episode: the id of the current episode (pending -> firing -> resolved/expired); a new one
        each time the alert starts again, so the outbox's idempotency keys differ per episode.
    started_at: when the episode went pending.
    seq: the transitions made in the episode so far (the last one's sequence number).
    active_streak / inactive_streak, inactive_since: consecutive evaluations that saw the
        condition hold / not hold, and since when it has not held (hysteresis).
    level, message: the newest active observation's; peak_level and peak_at: the highest level
        sent in the episode and when (the escalation clock).
    rising_streak, rising_since: evaluations above the peak level, to confirm a level increase
        as a firing is confirmed.
    last_sent_at: the last firing, level_up or repeat (the reminder clock).
    """

    alert: Alert
    status: Status
    level: int
    message: Message
    expires_at: datetime | None
    episode: str
    started_at: datetime
    seq: int = 0
    active_streak: int = 0
    inactive_streak: int = 0
    inactive_since: datetime | None = None
    fired_at: datetime | None = None
    peak_level: int = 0
    peak_at: datetime | None = None
    rising_streak: int = 0
    rising_since: datetime | None = None
    last_sent_at: datetime | None = None
    acked_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        return self.alert.fingerprint


@dataclass(frozen=True)
class Transition:
    """A change of an alert that people may be told about.

    seq: its number in the episode (1 is the firing); for `escalated` (made by routing, not by
        the lifecycle) the escalation step.
    level: the alert's level; for `resolved` and `expired` the highest level sent in the
        episode, so that they reach the people who were told.
    message: the whole sentence (what to do, by when, source); `instruction` the rule's own
        message alone, for channels with templates.
    """

    alert: Alert
    episode: str
    seq: int
    kind: TransitionKind
    at: datetime
    level: int
    message: Message
    instruction: Message

    @property
    def fingerprint(self) -> str:
        return self.alert.fingerprint


def episode_id(fingerprint: str, started_at: datetime) -> str:
    """The id of the episode of `fingerprint` that started at `started_at`: derived, not
    counted, so the same evaluation replayed gives the same id, and a lost state row cannot
    make a later episode reuse an earlier one's id (and its idempotency keys)."""
    moment = require_aware(started_at, "started_at").timestamp()
    return hashlib.sha256(f"{fingerprint}\x1f{moment:.6f}".encode()).hexdigest()[:16]


def note(alert: Alert, expires_at: datetime | None) -> Message:
    """The tail of an alert's sentence: its deadline, when it has one, and its source
    ("hạn 10/12, nguồn: irrigation v1")."""
    if expires_at is None:
        return Message("alert.note", {"source": alert.source})
    # the last moment it can be acted on: an expiry at midnight means "by the day before"
    last = expires_at - timedelta(seconds=1)
    return Message("alert.note_by", {"source": alert.source, "day": last.date().isoformat()})


def wording(
    kind: TransitionKind,
    alert: Alert,
    message: Message,
    expires_at: datetime | None,
    level: int,
    escalate_after_h: float | None = None,
) -> Message:
    """The sentence of a transition of `kind`: the rule's `message`, the level where it rose,
    the deadline while it can still be acted on, and the source."""
    tail = note(alert, expires_at if kind in _WITH_DEADLINE else None)
    params: dict[str, str | int | float | Message] = {"what": message, "note": tail}
    if kind == "level_up":
        params["level"] = level
    if kind == "escalated":
        params["hours"] = escalate_after_h if escalate_after_h is not None else 0.0
    return Message(_WORDS[kind], params)


def headline(kind: TransitionKind, alert: Alert, level: int) -> Message:
    """A short subject line for the channels that have one (email): the level and what the
    alert is about, or that it is over."""
    about = alert.subject.label()
    if kind in ("resolved", "expired"):
        return Message("alert.subject_over", {"about": about})
    return Message("alert.subject", {"level": level, "about": about})


class GrantLike(Protocol):
    """A role in an organisation, as `backend.identity.Grant` has it."""

    @property
    def organisation_id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def communes(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Person:
    """Someone who may be told: contacts, channels in order of preference, roles (grants),
    quiet hours (site time; None: none) and daily budget (messages per local day)."""

    id: int
    name: str = ""
    lang: str = "vi"
    phone: str | None = None  # E.164: Zalo and SMS
    email: str | None = None
    channels: tuple[str, ...] = ()
    grants: tuple[GrantLike, ...] = ()
    quiet_hours: tuple[time, time] | None = QUIET_HOURS
    daily_budget: int = DAILY_BUDGET

    def reachable(self) -> tuple[str, ...]:
        """The person's channels they have an address for, in their order; else the inbox."""
        usable = [c for c in self.channels if c not in _ADDRESS or getattr(self, _ADDRESS[c])]
        return tuple(dict.fromkeys(usable)) or ("inbox",)
