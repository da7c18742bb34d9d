"""The durable outbox of alert messages, in the registry database: one row per (alert
transition x recipient) with an idempotency key, written in the same transaction as the
transition (backend/alerts/store.py), so a message is never lost between deciding and sending.

At-least-once to the provider, exactly-once to the person:
- a sender claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two senders never
  take the same row; SQLite has one writer at a time), marks them claimed with its id and
  the time, and commits before it sends;
- it records each provider's answer: delivered (done), transient (retried with exponential
  backoff and jitter, on the same channel), permanent (the person's next channel, or failed
  when none is left);
- a sender killed mid-send leaves its claimed rows; after `lease_s` another sender takes them
  again and resends: at most the row that was in flight when it died reaches the provider a
  second time, with the same idempotency key, which providers that take one absorb (eSMS
  `RequestId` answers 124 "duplicate", counted as delivered; a webhook receiver dedupes on
  `Idempotency-Key`; an email keeps its Message-ID).

Times in the table are the site's (backend/clock.py: the demo's clock may run N times
faster): `send_at` is planned by routing in site time (quiet hours end at 05:00 site time),
so "due" compares it with the site's now. Waits that are the sender's own business (backoff,
the lease) last real seconds: written into the table they become `clock.site_seconds(wait)`
site seconds, so a provider that is down is not hammered N times faster.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.clock import Clock
from backend.i18n import Message
from backend.schema import OutboxRow, utc

BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
LEASE_S = 120.0  # a claimed row not answered by then belongs to whoever claims next


@dataclass(frozen=True)
class Item:
    """A message to enqueue: to `person_id` over `channels` (in order) at `send_at`."""

    idempotency_key: str
    person_id: int
    channels: Sequence[str]
    subject: Message
    message: Message
    level: int
    send_at: datetime
    event_id: int | None = None
    replace: bool = False  # a digest that grew: its unsent row takes the new words


@dataclass(frozen=True)
class Claimed:
    """A row this sender holds: `token` says which claim took it (a row whose lease ran out
    and that another sender took again is no longer this one's to answer)."""

    id: int
    token: str
    idempotency_key: str
    person_id: int
    channel: str
    subject: Message
    message: Message
    level: int
    attempts: int
    event_id: int | None = None  # the transition it tells of (none for a digest or a test)


def _words(text: str) -> tuple[Message, Message]:
    data = json.loads(text)
    return Message.from_json(data["subject"]), Message.from_json(data["body"])


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """The wait after the `attempts`-th transient failure: 30 s doubling to an hour, times a
    jitter of 0.5-1.5 so that retries after an outage do not all arrive at once."""
    base = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)
    return base * (0.5 + (rng or random).random())


def enqueue(session: Session, items: Sequence[Item], now: datetime) -> int:
    """Add `items` in the caller's transaction; an idempotency key already there is skipped
    (re-planning the same transition never makes a second message), but a grown digest's
    unsent row takes its new words. The number of rows written."""
    kept = [item for item in items if item.channels]
    rows = [
        {
            "idempotency_key": item.idempotency_key,
            "event_id": item.event_id,
            "person_id": item.person_id,
            "channels": ",".join(item.channels),
            "message_json": json.dumps(
                {"subject": item.subject.as_json(), "body": item.message.as_json()},
                ensure_ascii=False,
            ),
            "level": item.level,
            "status": "pending",
            "send_at": item.send_at,
            "attempts": 0,
            "created_at": now,
        }
        for item in kept
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = 0
    for replace in (False, True):
        chosen = [r for r, i in zip(rows, kept, strict=True) if i.replace is replace]
        if not chosen:
            continue
        statement = insert(OutboxRow)
        if replace:
            statement = statement.on_conflict_do_update(
                index_elements=["idempotency_key"],
                set_={"message_json": statement.excluded.message_json},
                where=OutboxRow.status == "pending",
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
        added += len(session.execute(statement.returning(OutboxRow.id), chosen).all())
    return added


class Outbox:
    """Claims and answers rows for one sender (`worker`: a name unique per process)."""

    def __init__(
        self, engine: Engine, worker: str, lease_s: float = LEASE_S, clock: Clock | None = None
    ) -> None:
        """lease_s: real seconds; clock: the site's (default the real one)."""
        self.engine = engine
        self.worker = worker
        self.lease_s = lease_s
        self.clock = clock or Clock()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_s(), UTC)

    def _later(self, real_s: float) -> datetime:
        """The site time `real_s` real seconds from now."""
        return self._now() + timedelta(seconds=self.clock.site_seconds(real_s))

    def claim(self, limit: int, now: datetime | None = None) -> list[Claimed]:
        """Up to `limit` due rows (pending and due, or claimed by a sender whose lease ran
        out), oldest first, now this sender's.

        One UPDATE over a locking subquery: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets two
        senders claim disjoint rows at once; on SQLite the UPDATE takes the database's one
        write lock, so a second sender waits and then sees the rows already claimed.
        """
        now = now or self._now()
        stale = now - timedelta(seconds=self.clock.site_seconds(self.lease_s))
        token = f"{self.worker}:{uuid.uuid4().hex[:12]}"  # this claim's rows, and only them
        due = (
            select(OutboxRow.id)
            .where(
                or_(
                    (OutboxRow.status == "pending") & (OutboxRow.send_at <= now),
                    (OutboxRow.status == "claimed") & (OutboxRow.claimed_at < stale),
                )
            )
            .order_by(OutboxRow.send_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(due))
                .values(status="claimed", claimed_by=token, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.claimed_by == token).order_by(OutboxRow.id)
            )
            return [
                Claimed(
                    row.id,
                    token,
                    row.idempotency_key,
                    row.person_id,
                    row.channels.split(",")[0],
                    *_words(row.message_json),
                    row.level,
                    row.attempts,
                    row.event_id,
                )
                for row in rows
            ]

    @staticmethod
    def _mine(session: Session, claimed: Claimed) -> OutboxRow | None:
        """The row if this claim still holds it (another sender may have taken it over)."""
        row = session.get(OutboxRow, claimed.id, with_for_update=True)
        if row is None or row.status != "claimed" or row.claimed_by != claimed.token:
            return None
        return row

    def delivered(self, claimed: Claimed, provider_id: str | None, detail: str) -> bool:
        with Session(self.engine) as session, session.begin():
            row = self._mine(session, claimed)
            if row is None:
                return False
            row.status, row.channel, row.provider_id = "delivered", claimed.channel, provider_id
            row.detail, row.delivered_at = detail[:2000], self._now()
            row.attempts += 1
            return True

    def transient(
        self, claimed: Claimed, detail: str, retry_after_s: float | None = None
    ) -> datetime | None:
        """Back to pending for a later try on the same channel; when it will be tried."""
        with Session(self.engine) as session, session.begin():
            row = self._mine(session, claimed)
            if row is None:
                return None
            row.attempts += 1
            wait = max(retry_after_s or 0.0, backoff_s(row.attempts))
            row.status, row.detail = "pending", f"{claimed.channel}: {detail}"[:2000]
            row.send_at = self._later(wait)
            row.claimed_by = row.claimed_at = None
            return utc(row.send_at)

    def permanent(self, claimed: Claimed, detail: str) -> str | None:
        """This channel cannot deliver it: the next channel of the person's, at once; the
        channel it moved to, or None when it failed for good."""
        with Session(self.engine) as session, session.begin():
            row = self._mine(session, claimed)
            if row is None:
                return None
            left = row.channels.split(",")[1:]
            row.attempts += 1
            row.detail = f"{claimed.channel}: {detail}"[:2000]
            row.claimed_by = row.claimed_at = None
            if not left:
                row.status, row.channel = "failed", claimed.channel
                return None
            row.status, row.channels = "pending", ",".join(left)
            row.send_at = self._now()
            return left[0]

    def depth(self, now: datetime | None = None) -> tuple[int, float]:
        """Rows not yet answered for good, and how long (real s: a sender's health, not a
        time of the site's data) the oldest due one has waited."""
        now = now or self._now()
        with Session(self.engine) as session:
            count, oldest = session.execute(
                select(func.count(), func.min(OutboxRow.send_at)).where(
                    OutboxRow.status.in_(("pending", "claimed"))
                )
            ).one()
        waited_s = (now - utc(oldest)).total_seconds() if oldest is not None else 0.0
        return int(count), max(0.0, self.clock.real_seconds(waited_s))

    def release(self) -> int:
        """Give back this sender's claimed rows (a clean stop); the number released."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.status == "claimed",
                    OutboxRow.claimed_by.startswith(self.worker + ":"),
                )
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
