"""The measured quantities: SenML names, units (RFC 8428 units registry), physical ranges.

One table for the whole system (docs/vocabulary.md): the gateway validates against it, the
store's schema follows it, the dashboard labels it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    name: str
    unit: str
    low: float
    high: float
    measurement: str  # InfluxDB measurement the value lands in
    meaning: str


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("soil_vwc", "%", 0.0, 100.0, "readings", "volumetric soil water content"),
        Quantity("soil_temp", "Cel", -20.0, 70.0, "readings", "soil temperature at sensor depth"),
        Quantity("air_temp", "Cel", -40.0, 70.0, "readings", "air temperature"),
        Quantity("air_rh", "%RH", 0.0, 100.0, "readings", "relative humidity of the air"),
        Quantity("air_pressure", "Pa", 30_000.0, 110_000.0, "readings", "barometric pressure"),
        Quantity("rain", "mm", 0.0, 500.0, "readings", "rain since the previous sample"),
        Quantity("leaf_wet", "/", 0.0, 1.0, "readings", "leaf wetness, 0 dry .. 1 wet"),
        Quantity(
            "water_level",
            "m",
            -2.0,
            2.0,
            "readings",
            "paddy water level, negative below the soil surface",
        ),
        Quantity("battery", "V", 0.0, 15.0, "node_status", "battery voltage"),
        Quantity("rssi", "dBm", -150.0, 0.0, "node_status", "radio signal strength"),
        Quantity(
            "dropped",
            "count",
            0.0,
            1e9,
            "node_status",
            "samples the node's full outbox had to drop since it was flashed (sent when > 0)",
        ),
        Quantity(
            "faults",
            "count",
            0.0,
            64.0,
            "node_status",
            "quantities the node's sensors failed to give in this sample (sent when > 0)",
        ),
    )
}

# the node's health counts (sent only when not zero), as opposed to what its sensors measure
HEALTH = frozenset({"dropped", "faults"})
