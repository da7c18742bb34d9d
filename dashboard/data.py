"""What the dashboard shows, read from the store and turned into advice (pure after the read).

Advice rules and their sources:
- Re-flood a paddy when the perched water table is 15 cm below the soil surface: IRRI "safe
  AWD" (Bouman et al. 2007, Water Management in Irrigated Rice; IRRI Rice Knowledge Bank).
- A Li-ion cell below 3.5 V has under ~10 % charge left: ask for a battery change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.store import Store

AWD_REFLOOD_M = -0.15
BATTERY_LOW_V = 3.5
OFFLINE_AFTER_S = 3600  # four missed reports at the default 15-minute interval

# Display order and format: (quantity, unit shown, factor from SenML unit, decimals)
DISPLAY = (
    ("soil_vwc", "%", 1.0, 1),
    ("water_level", "cm", 100.0, 0),
    ("air_temp", "°C", 1.0, 1),
    ("air_rh", "%", 1.0, 0),
    ("rain", "mm", 1.0, 1),
    ("soil_temp", "°C", 1.0, 1),
    ("leaf_wet", "%", 100.0, 0),
    ("air_pressure", "hPa", 0.01, 0),
    ("battery", "V", 1.0, 2),
    ("rssi", "dBm", 1.0, 0),
)


@dataclass
class NodeView:
    node: str
    field: str
    farm: str
    time_ms: int
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Advice:
    key: str  # i18n key
    level: str  # bootstrap colour: success / warning / danger
    values: dict[str, object]


def latest_by_node(store: Store) -> list[NodeView]:
    """The newest reading and node status of every node, newest first."""
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


def advice(view: NodeView, now_ms: int) -> list[Advice]:
    """What the farmer should do about this node's field and the node itself."""
    out: list[Advice] = []
    if now_ms - view.time_ms > OFFLINE_AFTER_S * 1000:
        out.append(Advice("offline", "danger", {}))
    level = view.values.get("water_level")
    if level is not None and level <= AWD_REFLOOD_M:
        out.append(Advice("reflood", "warning", {"cm": round(-level * 100)}))
    battery = view.values.get("battery")
    if battery is not None and battery < BATTERY_LOW_V:
        out.append(Advice("battery_low", "warning", {"v": battery}))
    return out or [Advice("all_good", "success", {})]
