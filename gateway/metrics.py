"""Gateway metrics in Prometheus text format (`/metrics` on `[gateway] metrics_bind`).

prometheus-client is the reference Python exposition library; each gateway process has its own
registry so that tests can run several gateways in one interpreter.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.uplinks = Counter(
            "ruong_uplinks",
            "Uplinks by transport and outcome (stored, duplicate, rejected, shed)",
            ["transport", "outcome"],
            registry=r,
        )
        self.rejects = Counter(
            "ruong_rejects",
            "Refused uplinks by reason code (docs/protocol.md)",
            ["reason"],
            registry=r,
        )
        self.spool_depth = Gauge(
            "ruong_spool_uplinks", "Uplinks spooled, not yet in the store", registry=r
        )
        self.spool_bytes = Gauge(
            "ruong_spool_bytes", "Bytes of the spool database in use", registry=r
        )
        self.spool_oldest_age = Gauge(
            "ruong_spool_oldest_age_seconds", "Age of the oldest spooled uplink", registry=r
        )
        self.dead = Gauge(
            "ruong_spool_dead_uplinks", "Uplinks the store refused as invalid", registry=r
        )
        self.points_written = Counter(
            "ruong_points_written", "Points the store acknowledged", registry=r
        )
        self.write_seconds = Histogram(
            "ruong_store_write_seconds",
            "Latency of one batch write to the store",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.store_errors = Counter(
            "ruong_store_errors",
            "Failed batch writes by kind (transient, permanent)",
            ["kind"],
            registry=r,
        )
