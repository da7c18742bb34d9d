"""The sender: takes due outbox rows (outbox.py), renders each in its person's language,
hands it to the channel the row is on (channels/), and records the answer: delivered,
transient (retried later with backoff), permanent (the person's next channel).

The in-app inbox needs no provider: a row on the `inbox` channel is delivered where it is, and
the dashboard's inbox shows a person's delivered rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.alerts.channels.base import Channel, Delivery
from backend.alerts.links import ack_url
from backend.alerts.outbox import LEASE_S, Claimed, Outbox
from backend.clock import Clock
from backend.i18n import render
from backend.schema import AlertEventRow, User

log = logging.getLogger(__name__)

INBOX = "inbox"


@dataclass
class Sender:
    """Sends the outbox's due rows over `channels` (name -> channel), as `worker`; another
    sender's claims older than `lease_s` (real seconds, longer than a batch takes) are taken
    over. `clock` is the site's: which rows are due (outbox.py)."""

    engine: Engine
    channels: Mapping[str, Channel]
    worker: str
    batch: int = 50
    lease_s: float = LEASE_S
    # the signed one-tap acknowledgement links: the dashboard as phones reach it, the secret
    link_base: str = ""
    link_secret: str = field(default="", repr=False)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (channel, outcome)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.engine, self.worker, self.lease_s, self.clock)

    def _people(self, ids: set[int]) -> dict[int, User]:
        with Session(self.engine) as session:
            users = session.scalars(select(User).where(User.id.in_(sorted(ids))))
            return {u.id: u for u in users}

    def _alert_ids(self, claimed: list[Claimed]) -> dict[int, int]:
        """event id -> alert id, for the links of this batch's rows."""
        events = sorted({c.event_id for c in claimed if c.event_id is not None})
        if not events or not (self.link_base and self.link_secret):
            return {}
        with Session(self.engine) as session:
            rows = session.execute(
                select(AlertEventRow.id, AlertEventRow.alert_id).where(AlertEventRow.id.in_(events))
            )
            return {event: alert for event, alert in rows}

    def run_once(self) -> int:
        """Send one batch of due rows; how many were taken."""
        claimed = self.outbox.claim(self.batch)
        people = self._people({c.person_id for c in claimed})
        alerts = self._alert_ids(claimed)
        # real time: a link's lifetime is a credential's, checked by the dashboard (ack.py) on
        # the real clock as sessions are, whatever speed the site's clock runs at
        now = datetime.now(UTC)
        for row in claimed:
            alert = alerts.get(row.event_id) if row.event_id is not None else None
            link = (
                ack_url(self.link_base, self.link_secret, alert, row.person_id, now)
                if alert is not None
                else None
            )
            self._send(row, people.get(row.person_id), link)
        return len(claimed)

    def _send(self, row: Claimed, person: User | None, link: str | None = None) -> None:
        if person is None or person.disabled_at is not None:
            self.outbox.permanent(row, "the person is gone or disabled")
            self.counts[(row.channel, "permanent")] += 1
            return
        if row.channel == INBOX:
            self.outbox.delivered(row, None, "in the inbox")
            self.counts[(INBOX, "delivered")] += 1
            return
        channel = self.channels.get(row.channel)
        if channel is None:
            moved = self.outbox.permanent(row, f"channel {row.channel} is not configured")
            self.counts[(row.channel, "unconfigured")] += 1
            log.info("outbox %d: %s not configured, next: %s", row.id, row.channel, moved)
            return
        lang = "vi"  # the people's language setting comes with the dashboard's preferences
        delivery = Delivery(
            idempotency_key=row.idempotency_key,
            subject=render(row.subject, lang),
            body=render(row.message, lang),
            level=row.level,
            name=person.name or "",
            phone=person.phone,
            email=person.email,
            lang=lang,
            ack_url=link,
            template_data={"message": render(row.message, lang)},
        )
        result = channel.send(delivery)
        outcome = str(result.outcome)
        self.counts[(row.channel, outcome)] += 1
        if outcome == "delivered":
            self.outbox.delivered(row, result.provider_id, result.detail)
        elif outcome == "transient":
            self.outbox.transient(row, result.detail, result.retry_after_s)
        else:
            moved = self.outbox.permanent(row, result.detail)
            log.warning(
                "outbox %d: %s refused it for good (%s); next channel: %s",
                row.id,
                row.channel,
                result.detail,
                moved,
            )

    def close(self) -> None:
        self.outbox.release()
        for channel in self.channels.values():
            channel.close()
