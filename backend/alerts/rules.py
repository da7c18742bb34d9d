"""Every source of alerts as a rule with a stable id and a version (issue 14, "Model" ->
"Sources"): the registry `RULES` and what each rule needs, read by the engine that feeds them.

The rules themselves are pure functions from already-read inputs to
:class:`~backend.alerts.model.Observation` s, one per (rule, subject) and evaluation:

- :mod:`backend.alerts.rules_forecast`: the newest `forecasts` rows of a field (pest risk,
  irrigation due, AWD re-flood);
- :mod:`backend.alerts.rules_health`: a node's newest report and configured interval (not
  reporting, battery, sensor faults, outbox drops) and the gateway's spool and store;
- :mod:`backend.alerts.rules_threshold`: the reading thresholds an officer or farmer sets.

Each returns `None` where it has no verdict (no data yet, or data too old to say anything):
`lifecycle.step` then keeps the alert's state as it is, so stale data neither fires nor
resolves an alert. Here: the registry, the id helpers shared by those modules, and the
inhibition `Topology` built from the registry's nodes. No I/O; time comes in as aware datetimes
and Unix milliseconds, the site's time zone as a name (`[site] timezone`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from backend.alerts.inhibit import GATEWAY_STORE_DOWN, NODE_OFFLINE, Topology
from backend.alerts.model import LEVELS, Alert, Subject, SubjectKind, require_aware
from backend.alerts.routing import SITE_TIMEZONE

# how the words and the record say when a rule's alert can no longer be acted on
Expiry = Literal["never", "end_of_day", "next_forecast"]
THRESHOLD_PREFIX = "threshold:"  # + the threshold's registry id: one rule per threshold


@dataclass(frozen=True)
class RuleSpec:
    """One source of alerts.

    id: stable; part of every alert's fingerprint, so it is never renamed (a renamed rule
        would resolve every alert it has firing and fire each again under the new name).
    version: raised when what the rule decides changes (a threshold, a level); the words name
        it (`irrigation v1`), the fingerprint does not (model.Alert.fingerprint).
    subject: the kind of subject its alerts are about.
    needs: what the engine reads for it (measurement:kind or field, registry table, gauge).
    levels: the levels it gives while active (1 information .. 3 act now).
    expires: when its alert stops being actionable: never, at the end of the local day the
        advice is for, or when the forecast it comes from is too old to be a verdict.
    """

    id: str
    version: int
    subject: SubjectKind
    needs: tuple[str, ...]
    levels: tuple[int, ...]
    expires: Expiry = "never"

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError(f"{self.id}: a rule version starts at 1, not {self.version}")
        if not self.levels or not set(self.levels) <= set(LEVELS):
            raise ValueError(f"{self.id}: levels are among {LEVELS}, not {self.levels}")


def _pest(kind: str) -> RuleSpec:
    return RuleSpec(kind, 1, "field", (f"forecasts:{kind}",), (2, 3), "next_forecast")


# the pest kinds `forecasting.advice.pest_advice` writes (`pest_` + the second part of each
# rule id of forecasting.pest.rules.REGISTRY; the tests hold the two lists together). A kind
# added there before it is added here still alerts, under PEST_FALLBACK's version.
PEST_KINDS = ("pest_blast", "pest_sheath_blight", "pest_blb", "pest_bph", "pest_leaf_folder")
PEST_FALLBACK = _pest("pest_*")

RULES: dict[str, RuleSpec] = {
    spec.id: spec
    for spec in (
        *(_pest(kind) for kind in PEST_KINDS),
        RuleSpec("irrigation", 1, "field", ("forecasts:irrigation",), (3,), "end_of_day"),
        RuleSpec("awd", 1, "field", ("forecasts:awd",), (3,), "end_of_day"),
        RuleSpec(
            NODE_OFFLINE,
            1,
            "node",
            ("readings:time", "node_status:time,battery", "node_configs:interval_s"),
            (2, 3),
        ),
        RuleSpec("node_battery_low", 1, "node", ("node_status:battery",), (2,)),
        RuleSpec("node_sensor_faults", 1, "node", ("node_status:faults",), (2,)),
        RuleSpec("node_outbox_drops", 1, "node", ("node_status:dropped (now, 24 h ago)",), (1,)),
        RuleSpec("gateway_spool_backlog", 1, "gateway", ("spool:oldest_age_s",), (2,)),
        RuleSpec(GATEWAY_STORE_DOWN, 1, "gateway", ("store:answered",), (3,)),
        # the family of the per-field thresholds: each threshold's rule id is
        # `threshold:<id>` and its version the threshold's own (rules_threshold.py)
        RuleSpec("threshold", 1, "field", ("thresholds", "readings:<quantity>"), (1, 2, 3)),
    )
}


def spec_of(rule_id: str) -> RuleSpec:
    """The spec of `rule_id`, families included (`threshold:17` -> `threshold`, a pest kind
    not listed yet -> PEST_FALLBACK); KeyError for an id no rule makes.

    Label metrics with `spec_of(rule).id`, not the rule id: one label per threshold would
    grow with every threshold an officer sets."""
    if rule_id in RULES:
        return RULES[rule_id]
    if rule_id.startswith(THRESHOLD_PREFIX):
        return RULES["threshold"]
    if rule_id.startswith("pest_"):
        return PEST_FALLBACK
    raise KeyError(f"no alert rule {rule_id!r}; rules: {', '.join(RULES)}")


def alert_of(rule_id: str, subject: Subject, version: int | None = None) -> Alert:
    """The alert of `rule_id` about `subject`, at the rule's version (or `version`)."""
    spec = spec_of(rule_id)
    if subject.kind != spec.subject:
        raise ValueError(f"{rule_id} is about a {spec.subject}, not {subject.ref}")
    return Alert(rule_id, spec.version if version is None else version, subject)


@cache
def site_zone(name: str = SITE_TIMEZONE) -> ZoneInfo:
    """The IANA zone `name` (ZoneInfoNotFoundError for an unknown name)."""
    return ZoneInfo(name)


def local(time_ms: int, timezone: str = SITE_TIMEZONE) -> datetime:
    """Unix milliseconds as an aware datetime in the site's zone."""
    return datetime.fromtimestamp(time_ms / 1000, site_zone(timezone))


def end_of_day(moment: datetime, timezone: str = SITE_TIMEZONE) -> datetime:
    """The local midnight that ends `moment`'s site day (aware, in the site's zone)."""
    day = require_aware(moment, "moment").astimezone(site_zone(timezone)).date()
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=site_zone(timezone))


def when(time_ms: int, timezone: str = SITE_TIMEZONE) -> dict[str, str]:
    """The `at` (ISO local time, rendered `{at:time}`) and `day` (ISO date, `{day:date}`)
    parameters of a message that says when something was last seen."""
    moment = local(time_ms, timezone)
    return {"at": moment.isoformat(timespec="minutes"), "day": moment.date().isoformat()}


def now_ms(now: datetime) -> int:
    """`now` (aware) as Unix milliseconds."""
    return round(require_aware(now, "now").timestamp() * 1000)


class NodePlace(Protocol):
    """Where a node is, as `backend.registry.NodeInfo` has it."""

    @property
    def node(self) -> str: ...
    @property
    def farm(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def revoked(self) -> bool: ...


def topology(
    nodes: Iterable[NodePlace],
    field_ids: Mapping[tuple[str, str], str],
    gateways: Iterable[str] = (),
) -> Topology:
    """The inhibition topology of the registry's nodes.

    field_ids: (farm, field name) -> the field's id (its alerts' subject id); a node on a
        field without an id measures nothing an alert is about, and is left out.
    gateways: the gateways' ids. Each takes any node's uplinks (a node posts to the site's
        gateway over CoAP; several gateways share one MQTT subscription, docs/protocol.md
        "Several gateways"), so each maps to every node.
    Revoked nodes are left out: the gateway refuses their uplinks, so their silence says
    nothing about a field and their offline alert is not raised.
    """
    field_nodes: dict[str, set[str]] = {}
    live: set[str] = set()
    for info in nodes:
        if info.revoked:
            continue
        live.add(info.node)
        field_id = field_ids.get((info.farm, info.field))
        if field_id is not None:
            field_nodes.setdefault(field_id, set()).add(info.node)
    return Topology(
        field_nodes={k: frozenset(v) for k, v in field_nodes.items()},
        gateway_nodes={gw: frozenset(live) for gw in gateways},
    )
