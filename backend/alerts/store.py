"""The alerts' state and history in the registry: each alert's lifecycle state between
evaluations, its transitions, acknowledgements, and the outbox rows its transitions make,
all written in ONE transaction per evaluation round, so a transition is never recorded
without its messages nor a message queued for a transition that was rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.alerts import outbox
from backend.alerts.lifecycle import acknowledge
from backend.alerts.model import AlertState, Transition
from backend.alerts.routing import PlannedDelivery
from backend.alerts.state_codec import decode_state, encode_state
from backend.clock import Clock
from backend.i18n import Message
from backend.schema import AlertEventRow, AlertRow, utc

LIVE = ("pending", "firing")


@dataclass(frozen=True)
class AlertView:
    """An alert as people see it (the CLI, the API, the dashboard's inbox)."""

    id: int
    rule: str
    version: int
    subject: str
    state: str
    level: int
    field_id: int | None
    node_id: str | None
    commune: str | None
    message: Message
    updated_at: datetime
    acked_at: datetime | None
    acked_by: int | None
    ack_note: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "rule": self.rule,
            "version": self.version,
            "subject": self.subject,
            "state": self.state,
            "level": self.level,
            "field_id": self.field_id,
            "node_id": self.node_id,
            "commune": self.commune,
            "updated_at": self.updated_at.isoformat(),
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "ack_note": self.ack_note,
        }


def _view(row: AlertRow) -> AlertView:
    return AlertView(
        id=row.id,
        rule=row.rule_id,
        version=row.rule_version,
        subject=row.subject,
        state=row.state,
        level=row.level,
        field_id=row.field_id,
        node_id=row.node_id,
        commune=row.commune,
        message=Message.from_json(json.loads(row.message_json)),
        updated_at=utc(row.updated_at),
        acked_at=utc(row.acked_at) if row.acked_at else None,
        acked_by=row.acked_by,
        ack_note=row.ack_note,
    )


class AlertStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        """clock: the site's (default the real one); an acknowledgement is at its "now", the
        time the escalation chain compares with its own site-time steps."""
        self.engine = engine
        self.clock = clock or Clock()

    def live_states(self) -> dict[str, AlertState]:
        """The states of the alerts not over (pending or firing), by fingerprint."""
        with Session(self.engine) as session:
            rows = session.scalars(select(AlertRow).where(AlertRow.state.in_(LIVE)))
            return {row.fingerprint: decode_state(row.state_json) for row in rows}

    def save_round(
        self,
        states: Mapping[str, AlertState],
        transitions: Sequence[Transition],
        deliveries: Sequence[PlannedDelivery],
        now: datetime,
    ) -> int:
        """The round's states, transitions and their messages, in one transaction; the
        number of messages queued."""
        with Session(self.engine) as session, session.begin():
            rows = {
                r.fingerprint: r
                for r in session.scalars(
                    select(AlertRow).where(
                        AlertRow.fingerprint.in_(
                            sorted(set(states) | {t.fingerprint for t in transitions})
                        )
                    )
                )
            }
            for fingerprint, state in states.items():
                rows[fingerprint] = self._upsert(session, rows.get(fingerprint), state, now)
            events: dict[tuple[str, str, int, str], int] = {}
            for t in transitions:
                row = rows.get(t.fingerprint)
                if row is None:  # a transition of a state not kept (expired): keep its row
                    continue
                if t.kind in ("resolved", "expired"):
                    row.state = t.kind
                event = AlertEventRow(
                    alert_id=row.id,
                    episode=t.episode,
                    kind=t.kind,
                    at=t.at,
                    level=t.level,
                    message_json=json.dumps(t.message.as_json(), ensure_ascii=False),
                )
                session.add(event)
                session.flush()
                events[(t.fingerprint, t.episode, t.seq, t.kind)] = event.id
            items = [
                outbox.Item(
                    idempotency_key=d.key,
                    person_id=d.person.id,
                    channels=d.channels,
                    subject=d.subject,
                    message=d.message,
                    level=d.level,
                    send_at=d.send_at,
                    replace=d.digest,
                    event_id=None
                    if d.transition is None
                    else events.get(
                        (
                            d.transition.fingerprint,
                            d.transition.episode,
                            d.transition.seq,
                            d.transition.kind,
                        )
                    ),
                )
                for d in deliveries
            ]
            return outbox.enqueue(session, items, now)

    @staticmethod
    def _upsert(
        session: Session, row: AlertRow | None, state: AlertState, now: datetime
    ) -> AlertRow:
        subject = state.alert.subject
        if row is None:
            row = AlertRow(fingerprint=state.fingerprint)
            session.add(row)
        row.rule_id, row.rule_version = state.alert.rule, state.alert.version
        row.subject, row.state, row.level = subject.ref, state.status, state.level
        row.episode = state.episode
        row.field_id = int(subject.id) if subject.kind == "field" else None
        row.node_id = subject.id if subject.kind == "node" else None
        row.commune, row.organisation_id = subject.commune, subject.organisation_id
        row.message_json = json.dumps(state.message.as_json(), ensure_ascii=False)
        row.state_json = encode_state(state)
        row.updated_at = now
        if state.acked_at is None:
            row.acked_at = row.acked_by = row.ack_note = None
        session.flush()
        return row

    def alerts(self, state: str | None = None, ids: Iterable[int] | None = None) -> list[AlertView]:
        """Alerts (in `state`; with these ids), newest change first."""
        query = select(AlertRow).order_by(AlertRow.updated_at.desc(), AlertRow.id.desc())
        if state is not None:
            query = query.where(AlertRow.state == state)
        if ids is not None:
            query = query.where(AlertRow.id.in_(sorted(ids)))
        with Session(self.engine) as session:
            return [_view(r) for r in session.scalars(query)]

    def acknowledge(
        self, alert_id: int, user_id: int | None, note: str | None, now: datetime | None = None
    ) -> AlertView | None:
        """Record who acknowledged the alert, when, and what they did: reminders and the
        escalation chain stop (lifecycle.acknowledge); None when there is no such alert."""
        now = now or datetime.fromtimestamp(self.clock.now_s(), UTC)
        with Session(self.engine) as session, session.begin():
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                return None
            if row.state in LIVE:
                row.state_json = encode_state(acknowledge(decode_state(row.state_json), now))
            row.acked_at, row.acked_by, row.ack_note = now, user_id, note
            session.add(
                AlertEventRow(
                    alert_id=row.id,
                    episode=row.episode,
                    kind="acknowledged",
                    at=now,
                    level=row.level,
                    message_json=row.message_json,
                    actor_id=user_id,
                    note=note,
                )
            )
            session.flush()
            return _view(row)
