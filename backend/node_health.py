"""The rules on a node's newest readings that the dashboard and `ruong node list` both apply:
is the node reporting, is its battery low, do its sensors fail, did it drop readings (pure
after the store read).

Sources:
- `AWD_REFLOOD_M`: re-flood a paddy when the perched water table is 15 cm below the soil
  surface: IRRI "safe AWD" (Bouman et al. 2007, Water Management in Irrigated Rice; IRRI Rice
  Knowledge Bank). `forecasting.awd` applies it with the crop's stage, the field page draws
  it; the firmware's default `water_level_alert_m` (firmware/config.py) is checked against it
  by the tests.
- A Li-ion cell below 3.5 V has under ~10 % charge left: ask for a battery change (the
  firmware's default `battery_low_v` and `ruong node check` use the same value).

Each rule's words are message ids of the catalogue (backend/i18n.py), rendered by the caller in
the reader's language.
"""

from __future__ import annotations

# dataclasses.field under another name: NodeView has an attribute `field` (the farm's field)
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from backend.i18n import N_
from backend.store import Store

AWD_REFLOOD_M = -0.15  # m, water level relative to the soil surface (negative below)
BATTERY_LOW_V = 3.5  # V, a 1S Li-ion cell
OFFLINE_AFTER_S = 3600  # four missed reports at the default 15-minute interval


@dataclass
class NodeView:
    """A node's newest values (SenML units, docs/vocabulary.md) and when it last reported."""

    node: str
    field: str
    farm: str
    time_ms: int
    values: dict[str, float] = dataclass_field(default_factory=dict)


@dataclass(frozen=True)
class Advice:
    """One rule that fired: its message id, a Bootstrap colour, the message's parameters."""

    key: str  # message id (backend/i18n.py)
    level: str  # bootstrap colour: success / warning / danger
    values: dict[str, object]


def latest_by_node(store: Store) -> list[NodeView]:
    """The newest reading and node status of every node, by field then node id."""
    views: dict[str, NodeView] = {}
    for measurement in ("readings", "node_status"):
        for row in store.latest(measurement, group_by="node"):
            node = row.tags.get("node", "?")
            view = views.setdefault(
                node,
                NodeView(node, row.tags.get("field", ""), row.tags.get("farm", ""), row.time_ms),
            )
            view.time_ms = max(view.time_ms, row.time_ms)
            view.values.update(
                {k: float(v) for k, v in row.fields.items() if isinstance(v, int | float)}
            )
    return sorted(views.values(), key=lambda v: (v.field, v.node))


def node_advice(view: NodeView, now_ms: int) -> list[Advice]:
    """What the technician or farmer should do about the node itself (`ruong node list`, the
    fleet page): reporting, battery, sensor faults, dropped readings.

    There is no field rule here: whether a field needs water depends on its crop and stage,
    which the forecasts know (`forecasting.awd` re-floods a paddy at `AWD_REFLOOD_M`; an upland
    field has no water level at all), so a bare threshold on the newest reading would tell a
    maize grower to flood a paddy (issue 16).
    """
    out: list[Advice] = []
    if now_ms - view.time_ms > OFFLINE_AFTER_S * 1000:
        out.append(Advice(N_("offline"), "danger", {}))
    battery = view.values.get("battery")
    if battery is not None and battery < BATTERY_LOW_V:
        out.append(Advice(N_("battery_low"), "warning", {"v": battery}))
    faults = view.values.get("faults")
    if faults:  # the newest status has it only while a sensor fails (docs/vocabulary.md)
        out.append(Advice(N_("sensor_faults"), "warning", {"n": int(faults)}))
    dropped = view.values.get("dropped")
    if dropped:
        out.append(Advice(N_("dropped"), "info", {"n": int(dropped)}))
    return out or [Advice(N_("all_good"), "success", {})]
