"""One evaluation round of every alert rule (`ruong alerts` runs it every `[alerts]
evaluate_every` seconds): read what the rules need from the registry and the store, make the
observations (backend/alerts/rules*.py), step every alert with inhibition (inhibit.py), plan
who is told what (routing.py), and write states, transitions and outbox rows in one
transaction (store.py). Only this module and store.py do I/O; the rest is pure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload, selectinload

from backend.accounts import grants_of
from backend.alerts.inhibit import step_round
from backend.alerts.lifecycle import DEFAULT_POLICY, Policy
from backend.alerts.model import Observation, Person, Subject
from backend.alerts.routing import DayLedger, LedgerKey, RoutingPolicy, plan, plan_escalations
from backend.alerts.rules import topology
from backend.alerts.rules_forecast import forecast_observations
from backend.alerts.rules_health import NodeReport, gateway_observations, node_observations
from backend.alerts.rules_threshold import Threshold, threshold_observation
from backend.alerts.store import AlertStore
from backend.clock import Clock
from backend.node_health import NodeView, latest_by_node
from backend.registry import Registry
from backend.schema import Farm, Field, Membership, Organisation, ThresholdRow, User
from backend.store import Store, StoreError

log = logging.getLogger(__name__)

FORECAST_WINDOW = timedelta(hours=36)
GATEWAY = "gateway"  # the one gateway of a site (several share the MQTT subscription)
DEFAULT_CHANNELS = ("zalo", "sms", "email")


@dataclass(frozen=True)
class RoundResult:
    evaluated: int
    transitions: int
    queued: int
    muted: int
    store_ok: bool


@dataclass
class Evaluator:
    """Evaluates every rule over the registry and the store, with the policies of
    `[alerts]`; keeps the day's routing ledger (budget, digest) between rounds.

    `clock` is the site's (the demo's may run N times faster): a round's "now", which
    readings are fresh, quiet hours, `escalate_after` and the day of the budget are all
    site time, so a speed-N demo escalates after `escalate_after` site seconds."""

    @property
    def engine(self) -> Engine:
        return self.registry.engine

    registry: Registry
    store: Store
    timezone: str
    policy: Policy = DEFAULT_POLICY
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    quiet_hours: tuple | None = None  # None: routing's default; () switches them off
    daily_budget: int | None = None
    ledger: dict[LedgerKey, DayLedger] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)

    def people(self) -> list[Person]:
        """Everyone who may be told, with their roles, contacts and channels."""
        query = select(User).options(
            selectinload(User.memberships).selectinload(Membership.communes),
            selectinload(User.memberships).joinedload(Membership.organisation),
        )
        with Session(self.engine) as session:
            users = [u for u in session.scalars(query) if u.disabled_at is None]
            out = []
            for user in users:
                channels = tuple(c for c in (user.channels or "").split(",") if c)
                extra: dict[str, object] = {}
                if self.quiet_hours is not None:
                    extra["quiet_hours"] = self.quiet_hours or None
                if self.daily_budget is not None:
                    extra["daily_budget"] = self.daily_budget
                out.append(
                    Person(
                        id=user.id,
                        name=user.name or user.phone or user.username or "",
                        phone=user.phone,
                        email=user.email,
                        channels=(channels or DEFAULT_CHANNELS) + ("inbox",),
                        grants=grants_of(user),
                        **extra,  # type: ignore[arg-type]
                    )
                )
            return out

    def _province_officers(self, people: Sequence[Person]) -> list[Person]:
        """The next list after a commune's officers: the officers of a province department."""
        with Session(self.engine) as session:
            province = set(
                session.scalars(select(Organisation.id).where(Organisation.kind == "province"))
            )
        return [
            p
            for p in people
            if any(g.role == "officer" and g.organisation_id in province for g in p.grants)
        ]

    def _fields(self) -> list[Field]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(Field).options(joinedload(Field.farm).joinedload(Farm.organisation))
                )
            )

    def observations(self, now: datetime) -> tuple[list[Observation], bool, dict]:
        """Every rule's verdict at `now`; whether the store answered; the inhibition
        topology."""
        fields = self._fields()
        subjects = {
            (f.farm.name, f.name): Subject(
                "field",
                str(f.id),
                f.name,
                f.commune,
                f.farm.organisation_id,
                f.owner_id,
            )
            for f in fields
        }
        nodes = self.registry.nodes()
        configs = {c.node: c.settings for c in self.registry.configs()}
        observations: list[Observation] = []
        store_ok = True
        views: dict[str, NodeView] = {}
        forecasts: dict[tuple[str, str], list] = {}
        try:
            views = {v.node: v for v in latest_by_node(self.store)}
            since = int((now - FORECAST_WINDOW).timestamp() * 1000)
            for row in self.store.rows("forecasts", since_ms=since):
                key = (row.tags.get("farm", ""), row.tags.get("field", ""))
                forecasts.setdefault(key, []).append(row)
        except StoreError as exc:
            store_ok = False
            log.warning("alerts: the store does not answer: %s", exc)
        gateway = Subject("gateway", GATEWAY)
        observations += gateway_observations(gateway, None, store_ok)
        if store_ok:
            for key, rows in forecasts.items():
                if key in subjects:
                    observations += forecast_observations(rows, subjects[key], now, self.timezone)
            for info in nodes:
                if info.revoked:
                    continue
                place = subjects.get((info.farm, info.field))
                subject = Subject(
                    "node",
                    info.node,
                    info.node,
                    place.commune if place else None,
                    place.organisation_id if place else None,
                )
                view = views.get(info.node)
                report = NodeReport(
                    subject,
                    info.field,
                    view.time_ms if view else None,
                    status=dict(view.values) if view else None,
                    settings=configs.get(info.node),
                )
                observations += node_observations(report, now, self.timezone)
            observations += self._threshold_observations(subjects, views, nodes, now)
        field_ids = {key: s.id for key, s in subjects.items()}
        return observations, store_ok, {"topology": topology(nodes, field_ids, [GATEWAY])}

    def _threshold_observations(
        self, subjects: dict, views: dict[str, NodeView], nodes: Sequence, now: datetime
    ) -> list[Observation]:
        with Session(self.engine) as session:
            rows = list(session.scalars(select(ThresholdRow)))
        by_id = {s.id: s for s in subjects.values()}
        newest: dict[tuple[str, str], tuple[int, float]] = {}
        for info in nodes:
            view = views.get(info.node)
            field_subject = subjects.get((info.farm, info.field))
            if view is None or field_subject is None:
                continue
            for quantity, value in view.values.items():
                key = (field_subject.id, quantity)
                if key not in newest or view.time_ms > newest[key][0]:
                    newest[key] = (view.time_ms, value)
        out = []
        for row in rows:
            subject = by_id.get(str(row.field_id))
            if subject is None:
                continue
            threshold = Threshold(
                row.id, str(row.field_id), row.quantity, row.below, row.value, row.level
            )
            verdict = threshold_observation(
                threshold, subject, newest.get((subject.id, row.quantity)), now, self.timezone
            )
            if verdict is not None:
                out.append(verdict)
        return out

    def run_once(self, now: datetime | None = None) -> RoundResult:
        """One round at `now` (default the clock's): states, transitions and planned
        messages written together."""
        now = now or datetime.fromtimestamp(self.clock.now_s(), UTC)
        observations, store_ok, extra = self.observations(now)
        alerts = AlertStore(self.engine, self.clock)
        states = alerts.live_states()
        result = step_round(states, observations, now, extra["topology"], self.policy)
        people = self.people()
        planned = plan(result.transitions, people, self.ledger, self.routing)
        self.ledger = planned.ledger
        deliveries = list(planned.deliveries)
        province = self._province_officers(people)
        for state in result.states.values():
            escalations = plan_escalations(state, now, [province], self.ledger, self.routing)
            self.ledger = escalations.ledger
            deliveries += escalations.deliveries
        queued = alerts.save_round(result.states, result.transitions, deliveries, now)
        return RoundResult(
            len(observations), len(result.transitions), queued, len(result.muted), store_ok
        )
