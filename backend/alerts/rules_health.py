"""Alerts about the equipment: a node's newest report (not reporting, battery, sensor faults,
outbox drops) and the gateway's spool and store (issue 14, "Sources"). They go to the
technicians of the subject's organisation (backend/alerts/routing.py).

| rule | active when | level |
| --- | --- | --- |
| `node_offline` | silent for longer than `MISSED_REPORTS` of the node's own sleeps | 2; 3 after `OFFLINE_URGENT_S` |
| `node_battery_low` | newest battery < `BATTERY_LOW_V` | 2 |
| `node_sensor_faults` | `faults` > 0 in the newest status | 2 |
| `node_outbox_drops` | `dropped` rose within `DROPS_WINDOW_S` | 1 |
| `gateway_spool_backlog` | oldest spooled uplink older than `SPOOL_BACKLOG_S` | 2 |
| `gateway_store_down` | the store did not answer the last write or query | 3 |

None of them expires: a node or a gateway stays worth fixing until it is fixed.

Levels. A silent node loses nothing at first (its outbox keeps about a month of samples,
firmware/config.py `outbox_max_records`), so it is a job for the next round (2: it waits for
the end of quiet hours, one reminder a day). After a whole day the field has gone through a
morning forecast without readings and its own alerts are muted behind the silence (inhibit.py):
the farmer is deciding blind, which is act-now (3). A failing sensor or a low battery is
fixed on the next round too (2); drops are data already lost, said once (1). A store that
answers nothing stops every dashboard, forecast and alert of the site (3); a spool backlog
while the store answers is a slow or stuck writer (2), and while the store is down it is only
that outage's consequence, so it gives no verdict and the store-down alert speaks alone.

No verdict (None) for a node that never reported: a freshly provisioned node waiting for its
installation is not an emergency, and from its first report on it is judged. While a node
is silent, its battery, faults and drops give no verdict either: those values are stale, and
the one alert about it is `node_offline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from backend.alerts.inhibit import GATEWAY_STORE_DOWN, NODE_OFFLINE
from backend.alerts.model import Observation, Subject
from backend.alerts.rules import SITE_TIMEZONE, alert_of, now_ms, when
from backend.i18n import Message
from backend.node_health import BATTERY_LOW_V
from backend.store.base import FieldValue

# the interval `ruong node flash` writes when the technician gives none (ruong/node_config.py
# REQUIRED_CONFIG); a node's flashed config is not in the registry, only its remote versions
DEFAULT_INTERVAL_S = 900.0
MISSED_REPORTS = 3  # silent longer than three of its own sleeps: a sleeping node is not offline
# firmware/config.py `_duty`'s defaults: on a critical battery a node sleeps
# `interval_critical_s` = 4 x interval_s, bounded by `interval_max_s` = max(3600, 4 x interval_s)
# (the tests hold these to the firmware's own defaults)
CRITICAL_FACTOR = 4.0
MAX_INTERVAL_FLOOR_S = 3600.0
OFFLINE_URGENT_S = 24 * 3600.0  # a day: one morning forecast made without the node
DROPS_WINDOW_S = 24 * 3600.0  # drops of the last day: said once, over a day after the last
# 10 min: the writer drains the spool within seconds and an InfluxDB restart takes under a
# minute; longer, and the dashboard is visibly behind
SPOOL_BACKLOG_S = 600.0


@dataclass(frozen=True)
class NodeReport:
    """A node's newest report, as the engine read it from the store and the registry.

    subject: the node (kind `node`); field: the name of the field it measures (its tags).
    last_ms: the newest `readings` or `node_status` time (Unix ms, when it sampled); None:
        it never reported.
    status: the fields of its newest `node_status` point (battery V, faults, dropped counts).
        Of the newest point, not the newest value of each field: `faults` and `dropped` are
        sent only when > 0, so their absence from the newest point is a zero. None: none yet.
    dropped_before: `dropped` of the newest status at least `DROPS_WINDOW_S` before now (0
        when that status has none); None: no status that old (the count starts at 0 when the
        node is flashed).
    settings: its newest remote config (`Registry.configs()`, `NodeConfig.settings`); None:
        it has none.
    """

    subject: Subject
    field: str
    last_ms: int | None
    status: Mapping[str, FieldValue] | None = None
    dropped_before: float | None = None
    settings: Mapping[str, object] | None = None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _setting(settings: Mapping[str, object] | None, key: str, default: float) -> float:
    value = _number((settings or {}).get(key))
    return value if value is not None and value > 0 else default


def sleep_s(settings: Mapping[str, object] | None, battery_v: float | None) -> float:
    """The longest the node sleeps between reports (s), as its firmware chooses it
    (firmware/duty.py): its `interval_s`, or, once its newest battery (V) is at or below its
    `battery_low_v`, its critical-battery interval. The critical one, not the low one: the
    node may have crossed into critical after its last report, which nobody can see yet,
    and a window shorter than its sleep would make it "offline" every cycle."""
    interval = _setting(settings, "interval_s", DEFAULT_INTERVAL_S)
    if battery_v is None or battery_v > _setting(settings, "battery_low_v", BATTERY_LOW_V):
        return interval
    critical = _setting(settings, "interval_critical_s", CRITICAL_FACTOR * interval)
    longest = max(MAX_INTERVAL_FLOOR_S, CRITICAL_FACTOR * interval)
    return max(interval, min(critical, _setting(settings, "interval_max_s", longest)))


def _battery(report: NodeReport) -> float | None:
    return _number((report.status or {}).get("battery"))


def offline_after_s(report: NodeReport) -> float:
    """How long the node may be silent before it is `node_offline` (s)."""
    return MISSED_REPORTS * sleep_s(report.settings, _battery(report))


def _silent_s(report: NodeReport, now: datetime) -> float | None:
    return None if report.last_ms is None else (now_ms(now) - report.last_ms) / 1000


def _words(report: NodeReport, what: Message) -> Message:
    """The node's own advice (the dashboard's words) with which node and field it is."""
    name = report.subject.name or report.subject.id
    return Message("alert.node_says", {"node": name, "field": report.field, "what": what})


def node_offline(
    report: NodeReport, now: datetime, timezone: str = SITE_TIMEZONE
) -> Observation | None:
    """Not reporting for longer than `offline_after_s`; None: it never reported."""
    alert = alert_of(NODE_OFFLINE, report.subject)
    silent = _silent_s(report, now)
    if silent is None or report.last_ms is None:
        return None
    if silent <= offline_after_s(report):
        return Observation(alert, False)
    name = report.subject.name or report.subject.id
    params: dict[str, str | Message] = {"node": name, "field": report.field}
    params["what"] = Message("offline")  # the dashboard's words for it
    words = Message("alert.node_offline", {**params, **when(report.last_ms, timezone)})
    return Observation(alert, True, 3 if silent > OFFLINE_URGENT_S else 2, words)


def _current_status(report: NodeReport, now: datetime) -> Mapping[str, FieldValue] | None:
    """The newest status while the node reports (its values are today's), else None."""
    silent = _silent_s(report, now)
    if report.status is None or silent is None or silent > offline_after_s(report):
        return None
    return report.status


def node_battery_low(report: NodeReport, now: datetime) -> Observation | None:
    """The newest battery below `BATTERY_LOW_V`; None: silent, or no battery reading."""
    alert = alert_of("node_battery_low", report.subject)
    status = _current_status(report, now)
    volts = None if status is None else _number(status.get("battery"))
    if volts is None:
        return None
    if volts >= BATTERY_LOW_V:
        return Observation(alert, False)
    return Observation(
        alert, True, 2, _words(report, Message("battery_low", {"v": round(volts, 2)}))
    )


def node_sensor_faults(report: NodeReport, now: datetime) -> Observation | None:
    """Sensor faults in the newest status; None: silent, or no status yet."""
    alert = alert_of("node_sensor_faults", report.subject)
    status = _current_status(report, now)
    if status is None:
        return None
    faults = _number(status.get("faults")) or 0.0
    if faults <= 0:
        return Observation(alert, False)
    return Observation(alert, True, 2, _words(report, Message("sensor_faults", {"n": int(faults)})))


def node_outbox_drops(report: NodeReport, now: datetime) -> Observation | None:
    """The outbox dropped samples within `DROPS_WINDOW_S`; None: silent, or no status yet.
    A count lower than before is a reflashed node starting again from 0, not a drop."""
    alert = alert_of("node_outbox_drops", report.subject)
    status = _current_status(report, now)
    if status is None:
        return None
    rose = (_number(status.get("dropped")) or 0.0) - (report.dropped_before or 0.0)
    if rose <= 0:
        return Observation(alert, False)
    return Observation(alert, True, 1, _words(report, Message("dropped", {"n": int(rose)})))


def node_observations(
    report: NodeReport, now: datetime, timezone: str = SITE_TIMEZONE
) -> list[Observation]:
    """Every node rule's verdict on `report` at `now` (aware); no verdict left out."""
    made = (
        node_offline(report, now, timezone),
        node_battery_low(report, now),
        node_sensor_faults(report, now),
        node_outbox_drops(report, now),
    )
    return [o for o in made if o is not None]


def gateway_store_down(subject: Subject, store_ok: bool | None) -> Observation | None:
    """The store did not answer the last write or query; None: not tried yet."""
    alert = alert_of(GATEWAY_STORE_DOWN, subject)
    if store_ok is None:
        return None
    if store_ok:
        return Observation(alert, False)
    words = Message("alert.gateway_store_down", {"gateway": subject.name or subject.id})
    return Observation(alert, True, 3, words)


def gateway_spool_backlog(
    subject: Subject, spool_age_s: float | None, store_ok: bool | None
) -> Observation | None:
    """The gateway's oldest spooled uplink (s; `ruong_spool_oldest_age_seconds`, 0: empty)
    waited longer than `SPOOL_BACKLOG_S`. None: its age is unknown, or the store is down
    (the backlog is then that outage's consequence, which `gateway_store_down` says)."""
    alert = alert_of("gateway_spool_backlog", subject)
    if spool_age_s is None or store_ok is False:
        return None
    if spool_age_s <= SPOOL_BACKLOG_S:
        return Observation(alert, False)
    params: dict[str, str | int] = {"gateway": subject.name or subject.id}
    params["minutes"] = round(spool_age_s / 60)
    return Observation(alert, True, 2, Message("alert.gateway_spool_backlog", params))


def gateway_observations(
    subject: Subject, spool_age_s: float | None, store_ok: bool | None
) -> list[Observation]:
    """Both gateway rules' verdicts; no verdict left out."""
    made = (
        gateway_store_down(subject, store_ok),
        gateway_spool_backlog(subject, spool_age_s, store_ok),
    )
    return [o for o in made if o is not None]
