"""What the dashboard shows, read from the store and turned into advice (pure after the read).

Advice rules and their sources:
- Re-flood a paddy when the perched water table is 15 cm below the soil surface: IRRI "safe
  AWD" (Bouman et al. 2007, Water Management in Irrigated Rice; IRRI Rice Knowledge Bank).
- A Li-ion cell below 3.5 V has under ~10 % charge left: ask for a battery change.
- Irrigation, AWD, pest and soil-moisture forecasts: the `forecasts` measurement written by
  `ruong forecast run` (forecasting.field_forecast); each carries its `model` tag, which the
  page shows so every number can be traced to its equation or model version.
"""

from __future__ import annotations

# dataclasses.field under another name: NodeView has an attribute `field` (the farm's field)
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from backend.store import Store

AWD_REFLOOD_M = -0.15
BATTERY_LOW_V = 3.5
OFFLINE_AFTER_S = 3600  # four missed reports at the default 15-minute interval
FORECAST_MAX_AGE_S = 36 * 3600  # a forecast older than a day and a half is not shown
# forecast kinds a farmer acts on, in display order (et0 is for officers and researchers)
FORECAST_ORDER = ("irrigation", "awd", "soil_vwc", "pest_")

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
    values: dict[str, float] = dataclass_field(default_factory=dict)


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


@dataclass(frozen=True)
class ForecastView:
    """The newest forecast of one kind for a field (see forecasting.field_forecast.Advice)."""

    field: str
    kind: str
    model: str
    level: int | None
    text_vi: str
    text_en: str
    time_ms: int

    @property
    def colour(self) -> str:
        """Bootstrap colour: 3 act now, 2 soon, 1 watch, 0 fine, None unknown."""
        return {3: "danger", 2: "warning", 1: "info", 0: "light"}.get(
            self.level if self.level is not None else -1, "secondary"
        )


def _order(kind: str) -> int:
    return next((i for i, k in enumerate(FORECAST_ORDER) if kind.startswith(k)), 99)


def latest_forecasts(store: Store, now_ms: int) -> dict[str, list[ForecastView]]:
    """Per field, the newest forecast of each kind a farmer acts on, by importance."""
    newest: dict[tuple[str, str], ForecastView] = {}
    for row in store.rows("forecasts", since_ms=now_ms - FORECAST_MAX_AGE_S * 1000):
        kind = row.tags.get("kind", "")
        if _order(kind) == 99:
            continue
        level = row.fields.get("level")
        view = ForecastView(
            field=row.tags.get("field", ""),
            kind=kind,
            model=row.tags.get("model", ""),
            level=int(level) if isinstance(level, int | float) else None,
            text_vi=str(row.fields.get("text_vi", "")),
            text_en=str(row.fields.get("text_en", "")),
            time_ms=row.time_ms,
        )
        key = (view.field, kind)
        if key not in newest or view.time_ms >= newest[key].time_ms:
            newest[key] = view
    by_field: dict[str, list[ForecastView]] = {}
    for view in sorted(newest.values(), key=lambda v: (_order(v.kind), -(v.level or 0))):
        by_field.setdefault(view.field, []).append(view)
    return by_field


def advice(view: NodeView, now_ms: int, has_awd_forecast: bool = False) -> list[Advice]:
    """What the farmer should do about this node's field and the node itself.

    has_awd_forecast: the field has an AWD forecast, which says more than the bare
    re-flood threshold (it knows the crop stage), so the threshold rule stays silent.
    """
    out: list[Advice] = []
    if now_ms - view.time_ms > OFFLINE_AFTER_S * 1000:
        out.append(Advice("offline", "danger", {}))
    level = view.values.get("water_level")
    if level is not None and level <= AWD_REFLOOD_M and not has_awd_forecast:
        out.append(Advice("reflood", "warning", {"cm": round(-level * 100)}))
    battery = view.values.get("battery")
    if battery is not None and battery < BATTERY_LOW_V:
        out.append(Advice("battery_low", "warning", {"v": battery}))
    faults = view.values.get("faults")
    if faults:  # the newest status has it only while a sensor fails (docs/vocabulary.md)
        out.append(Advice("sensor_faults", "warning", {"n": int(faults)}))
    dropped = view.values.get("dropped")
    if dropped:
        out.append(Advice("dropped", "info", {"n": int(dropped)}))
    return out or [Advice("all_good", "success", {})]
