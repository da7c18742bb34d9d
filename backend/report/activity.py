"""What people and nodes did in a season, for the season report (backend/report/season.py):
the advice delivered, the alerts and what was done about them, and how well the nodes
reported. The definitions are in season.py's module notes ("Advice delivered", "Alerts",
"Network")."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.records import Record
from backend.schema import (
    AlertEventRow,
    AlertRow,
    Farm,
    Field,
    Node,
    NodeConfigRow,
    Organisation,
    utc,
)
from backend.store import Store
from backend.store.base import Row

DEFAULT_INTERVAL_S = 900.0  # the node's default report interval (ruong/node_config.py)
FOLLOW_S = 48 * 3600  # an alert followed by a matching record within this
ACTION_KINDS = ("awd", "irrigation")  # with pest_*: the advice that asks for an action
_FOLLOWED_BY = {"irrigation": "irrigation", "awd": "irrigation"}  # rule -> record kind


@dataclass
class Alerts:
    """One field's (or an aggregate's) alerts, with the raw times the medians need."""

    total: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    ack_minutes: list[float] = field(default_factory=list)
    followable: int = 0
    followed: int = 0
    escalations: int = 0

    def add(self, other: Alerts) -> None:
        self.total += other.total
        for mine, theirs in ((self.by_rule, other.by_rule), (self.by_level, other.by_level)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.acknowledged += other.acknowledged
        self.ack_minutes += other.ack_minutes
        self.followable += other.followable
        self.followed += other.followed
        self.escalations += other.escalations

    def as_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "by_rule": dict(sorted(self.by_rule.items())),
            "by_level": dict(sorted(self.by_level.items())),
            "acknowledged_share": share(self.acknowledged, self.total),
            "median_ack_minutes": median(self.ack_minutes),
            "followed_48h_share": share(self.followed, self.followable),
            "escalations": self.escalations,
        }


def advice_delivered(forecasts: Sequence[Row]) -> int:
    """Distinct pieces of action advice at level >= 2 (module docstring): a kind's level
    rising to 2+, changing while 2+, or its message id changing while 2+."""
    last: dict[str, tuple[int, str]] = {}
    count = 0
    for row in sorted(forecasts, key=lambda r: r.time_ms):
        kind, fields = row.tags.get("kind", ""), row.fields
        if kind not in ACTION_KINDS and not kind.startswith("pest_"):
            continue
        level = fields.get("level")
        if not isinstance(level, int | float):
            continue
        words = _message_id(fields.get("msg"))
        previous = last.get(kind)
        if level >= 2 and (previous is None or previous != (int(level), words)):
            count += 1
        last[kind] = (int(level), words)
    return count


def _message_id(msg: object) -> str:
    if not isinstance(msg, str):
        return ""
    try:
        parsed = json.loads(msg)
    except json.JSONDecodeError:  # words of before the catalogue: the text itself
        return msg
    return str(parsed.get("id", "")) if isinstance(parsed, dict) else msg


# --- alerts ---------------------------------------------------------------------------------


@dataclass
class Episode:
    rule: str
    fired_at: dt.datetime
    level: int = 0
    level3_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


def alert_episodes(engine: Engine, field_ids: Sequence[int]) -> dict[int, list[Episode]]:
    """The fired episodes of the fields' alerts, by field id, from the alert events."""
    if not field_ids:
        return {}
    query = (
        select(AlertEventRow, AlertRow.rule_id, AlertRow.field_id)
        .join(AlertRow, AlertEventRow.alert_id == AlertRow.id)
        .where(AlertRow.field_id.in_(sorted(field_ids)))
        .order_by(AlertEventRow.at, AlertEventRow.id)
    )
    episodes: dict[tuple[int, str], Episode] = {}
    by_field: dict[int, list[Episode]] = {}
    with Session(engine) as session:
        for event, rule, field_id in session.execute(query):
            at, key = utc(event.at), (event.alert_id, event.episode)
            episode = episodes.get(key)
            if event.kind == "firing" and episode is None and field_id is not None:
                episode = episodes[key] = Episode(rule, at)
                by_field.setdefault(field_id, []).append(episode)
            if episode is None:
                continue  # an acknowledgement of an episode that never fired
            if event.kind in ("firing", "repeat", "level_up"):
                episode.level = max(episode.level, event.level)
                if event.level >= 3 and episode.level3_at is None:
                    episode.level3_at = at
            elif event.kind == "acknowledged" and episode.acked_at is None:
                episode.acked_at = at
            elif event.kind in ("resolved", "expired") and episode.ended_at is None:
                episode.ended_at = at
    return by_field


def field_alerts(
    episodes: Sequence[Episode],
    field_records: Sequence[Record],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    escalate_after_s: float,
) -> Alerts:
    out = Alerts()
    for e in episodes:
        if not start <= e.fired_at < end:
            continue
        out.total += 1
        out.by_rule[e.rule] = out.by_rule.get(e.rule, 0) + 1
        out.by_level[str(e.level)] = out.by_level.get(str(e.level), 0) + 1
        if e.acked_at is not None:
            out.acknowledged += 1
            out.ack_minutes.append((e.acked_at - e.fired_at).total_seconds() / 60)
        wanted = "spraying" if e.rule.startswith("pest_") else _FOLLOWED_BY.get(e.rule)
        if wanted is not None:
            out.followable += 1
            until = e.fired_at + dt.timedelta(seconds=FOLLOW_S)
            out.followed += any(
                r.kind == wanted and e.fired_at <= r.time <= until for r in field_records
            )
        if e.level3_at is not None:
            due = e.level3_at + dt.timedelta(seconds=escalate_after_s)
            live_until = e.ended_at or now
            out.escalations += due <= live_until and (e.acked_at is None or e.acked_at > due)
    return out


# --- network --------------------------------------------------------------------------------


def network(
    engine: Engine,
    store: Store,
    field_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, object]]:
    """Per organisation: its nodes on these fields, the reports expected and received and
    the mean of the nodes' uptimes over [start, end)."""
    if not field_ids or end <= start:
        return []
    with Session(engine) as session:
        nodes = session.execute(
            select(Node.id, Node.created_at, Node.revoked_at, Organisation.name)
            .join(Field, Node.field_id == Field.id)
            .join(Farm, Field.farm_id == Farm.id)
            .join(Organisation, Farm.organisation_id == Organisation.id)
            .where(Node.field_id.in_(sorted(field_ids)))
            .order_by(Organisation.name, Node.id)
        ).all()
        intervals: dict[str, float] = {}
        for node_id, settings in session.execute(
            select(NodeConfigRow.node_id, NodeConfigRow.settings_json)
            .where(NodeConfigRow.node_id.in_([n[0] for n in nodes]))
            .order_by(NodeConfigRow.version)
        ):
            value = json.loads(settings).get("interval_s")
            if isinstance(value, int | float) and value > 0:
                intervals[node_id] = float(value)  # the newest version is read last
    orgs: dict[str, dict[str, list[float]]] = {}
    for node_id, created, revoked, org in nodes:
        since = max(start, utc(created))
        until = min(end, utc(revoked)) if revoked is not None else end
        if until <= since:
            continue
        span_s = (until - since).total_seconds()
        expected = span_s / intervals.get(node_id, DEFAULT_INTERVAL_S)
        hours = _hourly_counts(store, node_id, unix_ms(since), unix_ms(until))
        tally = orgs.setdefault(org, {"expected": [], "received": [], "uptime": []})
        tally["expected"].append(expected)
        tally["received"].append(float(sum(hours)))
        tally["uptime"].append(min(len(hours) / (span_s / 3600), 1.0))
    out = []
    for org, tally in orgs.items():
        expected, received = sum(tally["expected"]), sum(tally["received"])
        out.append(
            {
                "organisation": org,
                "nodes": len(tally["uptime"]),
                "expected_reports": round(expected),
                "received_reports": round(received),
                # capped: a node whose interval was shortened mid-season sends more
                "share_received": rounded(min(received / expected, 1.0), 4) if expected else None,
                "uptime": rounded(statistics.fmean(tally["uptime"]), 4),
            }
        )
    return out


def _hourly_counts(store: Store, node_id: str, since_ms: int, until_ms: int) -> list[int]:
    """The node's `node_status` points in each hour that has one.

    The store aggregates no count, so each hour's count is its sum over its mean of the
    uplink `counter` (exact for any values whose mean is not 0); an hour whose counters are
    all 0 (the node's first uplink) counts 1."""
    where = {"node": node_id}
    sums = dict(store.aggregate("node_status", "counter", where, since_ms, until_ms, 3600, "sum"))
    means = store.aggregate("node_status", "counter", where, since_ms, until_ms, 3600, "mean")
    return [round(sums.get(t, 0.0) / m) if m > 0 else 1 for t, m in means]


# --- small helpers ---------------------------------------------------------------------


def unix_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def rounded(value: float, digits: int) -> float:
    return round(float(value), digits)


def share(part: int, whole: int) -> float | None:
    return rounded(part / whole, 4) if whole else None


def median(values: Sequence[float]) -> float | None:
    return rounded(statistics.median(values), 2) if values else None
