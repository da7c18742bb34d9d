"""The audit trail for the province's information-security monitoring centre: every login
(success, failure, throttled), logout, password change, role change, token create/revoke,
node provision/revoke/config push, and each rejected-uplink reason summarised per node per
hour, as structured events (time, actor, organisation, action, target, outcome, client
address) in the registry, and forwarded as RFC 5424 syslog when `[audit] syslog` is set
(backend/syslog.py).

An event is stored first, in its own transaction, then forwarded: a dead syslog server costs
the forwarding (counted and logged there), never the event or the request that caused it.
Secrets are never part of an event: the callers pass none, and the syslog formatter drops
any details key that looks like one.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.schema import AuditEvent, utc
from backend.syslog import DetailValue, SyslogEvent, SyslogForwarder

OUTCOMES = ("success", "failure", "throttled", "refused")


def cli_actor() -> str:
    """Who a command-line change is by: the operating-system account that ran it."""
    return f"cli:{getpass.getuser()}"


@dataclass(frozen=True)
class Event:
    """One stored audit event (times UTC)."""

    id: int
    time: datetime
    actor: str
    action: str
    outcome: str
    organisation: str | None
    target: str | None
    client: str | None
    details: dict[str, DetailValue]

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "time": self.time.isoformat()}


class Audit:
    """Write and read the audit trail (`engine`: the registry's, backend/db.py)."""

    def __init__(self, engine: Engine, syslog: str | None = None) -> None:
        """syslog: `[audit] syslog`, `udp://host:514` or `tcp://host:601`; None: store only."""
        self.engine = engine
        self.forwarder = SyslogForwarder(syslog) if syslog else None

    def close(self) -> None:
        if self.forwarder is not None:
            self.forwarder.close()

    def record(
        self,
        actor: str,
        action: str,
        outcome: str,
        *,
        organisation: str | None = None,
        target: str | None = None,
        client: str | None = None,
        details: Mapping[str, DetailValue] | None = None,
        time: datetime | None = None,
    ) -> None:
        """Store one event, then forward it (when a syslog server is configured)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        moment = time or datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            session.add(
                AuditEvent(
                    time=moment,
                    actor=actor[:128],
                    organisation=organisation,
                    action=action[:32],
                    target=None if target is None else target[:128],
                    outcome=outcome,
                    client=None if client is None else client[:64],
                    details_json=json.dumps(dict(details), ensure_ascii=False) if details else None,
                )
            )
        if self.forwarder is not None:
            self.forwarder.send(
                SyslogEvent(
                    time=moment,
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    organisation=organisation,
                    target=target,
                    client=client,
                    details=details,
                )
            )

    def events(
        self, since: datetime | None = None, action: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events from `since` (of `action`, a prefix such as `login` or `node.`), oldest
        first, at most `limit` (the newest ones)."""
        query = select(AuditEvent).order_by(AuditEvent.time.desc(), AuditEvent.id.desc())
        if since is not None:
            query = query.where(AuditEvent.time >= since)
        if action is not None:
            query = query.where(AuditEvent.action.startswith(action))
        with Session(self.engine) as session:
            rows = list(session.scalars(query.limit(limit)))
        return [
            Event(
                id=r.id,
                time=utc(r.time),
                actor=r.actor,
                action=r.action,
                outcome=r.outcome,
                organisation=r.organisation,
                target=r.target,
                client=r.client,
                details=json.loads(r.details_json) if r.details_json else {},
            )
            for r in reversed(rows)
        ]
