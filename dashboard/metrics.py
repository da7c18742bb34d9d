"""`/metrics` of the dashboard's server (Prometheus text format): the alerts by state and
rule, the deliveries by channel and outcome, the outbox's depth and the age of its oldest due
message, counted from the registry at each scrape (nothing kept in this process, so several
`ruong alerts` senders and a restarted server all show the same truth)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.alerts.rules import spec_of
from backend.clock import Clock
from backend.schema import AlertRow, OutboxRow, utc


class AlertsCollector(Collector):
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        """clock: the site's; the outbox's send_at are site times (backend/alerts/outbox.py)."""
        self.engine = engine
        self.clock = clock or Clock()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.fromtimestamp(self.clock.now_s(), UTC)
        with Session(self.engine) as session:
            alerts = session.execute(
                select(AlertRow.state, AlertRow.rule_id, func.count()).group_by(
                    AlertRow.state, AlertRow.rule_id
                )
            ).all()
            deliveries = session.execute(
                select(OutboxRow.channel, OutboxRow.status, func.count()).group_by(
                    OutboxRow.channel, OutboxRow.status
                )
            ).all()
            depth, oldest = session.execute(
                select(func.count(), func.min(OutboxRow.send_at)).where(
                    OutboxRow.status.in_(("pending", "claimed")), OutboxRow.send_at <= now
                )
            ).one()
        by_rule = GaugeMetricFamily(
            "ruong_alerts", "alerts by state and rule", labels=["state", "rule"]
        )
        counted: dict[tuple[str, str], int] = {}
        for state, rule, n in alerts:
            # a threshold's rule id carries its threshold: label by the rule it is one of
            key = (state, spec_of(rule).id)
            counted[key] = counted.get(key, 0) + n
        for (state, rule), n in sorted(counted.items()):
            by_rule.add_metric([state, rule], n)
        yield by_rule
        sent = GaugeMetricFamily(
            "ruong_alert_deliveries",
            "outbox rows by the channel that answered (or 'none' yet) and status",
            labels=["channel", "status"],
        )
        for channel, status, n in sorted(deliveries, key=lambda r: (r[0] or "", r[1])):
            sent.add_metric([channel or "none", status], n)
        yield sent
        yield GaugeMetricFamily(
            "ruong_alert_outbox_depth", "messages due and not yet answered", value=depth
        )
        # in real seconds on any clock, as the outbox's own depth(): a sender's health
        waited_s = (now - utc(oldest)).total_seconds() if oldest is not None else 0.0
        age = self.clock.real_seconds(waited_s)
        yield GaugeMetricFamily(
            "ruong_alert_outbox_oldest_seconds", "how long the oldest due message waits", value=age
        )


def install(server: Flask, engine: Engine, clock: Clock | None = None) -> None:
    registry = CollectorRegistry()
    registry.register(AlertsCollector(engine, clock))

    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")

    server.add_url_rule("/metrics", "metrics", metrics)
