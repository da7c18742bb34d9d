"""The technician's view of the fleet (`ruong node list`): every provisioned node, when it
last reported, its battery and signal, and what to do about it.

Who should report comes from the registry, who did from the store's newest `readings` and
`node_status` rows; the advice is the node rules the dashboard applies too
(backend/node_health.py: not reporting for an hour, battery under 3.5 V, failing sensors,
readings dropped) in the catalogue's words (backend/i18n.py), so a farmer's phone and a
technician's laptop say the same thing.
Pure functions: the CLI does the reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.i18n import N_, ago, t
from backend.node_health import Advice, NodeView, node_advice
from backend.registry import NodeInfo


@dataclass(frozen=True)
class NodeHealth:
    """A provisioned node and what the store knows of it (None: never reported; `known`
    False: the store could not be read, so nothing is known)."""

    info: NodeInfo
    known: bool
    last_report_ms: int | None
    battery_v: float | None
    rssi_dbm: float | None
    advice: tuple[Advice, ...]  # empty for a revoked node: it is meant to be silent


def fleet_health(
    nodes: Sequence[NodeInfo], views: Sequence[NodeView] | None, now_ms: int
) -> list[NodeHealth]:
    """Each of `nodes` (registry order) joined with its newest store view by node id;
    `views` None: the store could not be read."""
    if views is None:
        return [NodeHealth(info, False, None, None, None, ()) for info in nodes]
    by_node = {view.node: view for view in views}
    out = []
    for info in nodes:
        view = by_node.get(info.node)
        told: tuple[Advice, ...]
        if info.revoked:
            told = ()
        elif view is None:
            told = (Advice(N_("never_reported"), "warning", {}),)
        else:
            told = tuple(node_advice(view, now_ms))
        values = view.values if view is not None else {}
        out.append(
            NodeHealth(
                info,
                True,
                view.time_ms if view is not None else None,
                values.get("battery"),
                values.get("rssi"),
                told,
            )
        )
    return out


def _last_report(health: NodeHealth, now_ms: int, lang: str) -> str:
    if not health.known:
        return "?"
    if health.last_report_ms is None:
        return "never"
    return ago((now_ms - health.last_report_ms) / 1000, lang)


def _advice_text(health: NodeHealth, lang: str) -> str:
    if health.info.revoked or not health.known:
        return "-"
    return "; ".join(t(a.key, lang, **a.values) for a in health.advice)


def render(rows: Sequence[NodeHealth], now_ms: int, lang: str) -> str:
    """A plain-text table, one node a line; the last column says what to do."""
    table = [("node", "field", "transport", "state", "last report", "battery", "rssi", "advice")]
    for h in rows:
        table.append(
            (
                h.info.node,
                f"{h.info.farm}/{h.info.field}",
                h.info.transport,
                "revoked" if h.info.revoked else "active",
                _last_report(h, now_ms, lang),
                "-" if h.battery_v is None else f"{h.battery_v:.2f} V",
                "-" if h.rssi_dbm is None else f"{h.rssi_dbm:.0f} dBm",
                _advice_text(h, lang),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in table
    )


def as_json(health: NodeHealth) -> dict[str, object]:
    """The node's registry entry (without its key) and its health, for `--json`."""
    out: dict[str, object] = {k: v for k, v in health.info.as_json().items() if k != "key"}
    if not health.known:
        return out
    out["last_report_ms"] = health.last_report_ms
    out["battery_v"] = health.battery_v
    out["rssi_dbm"] = health.rssi_dbm
    out["advice"] = [a.key for a in health.advice]
    return out
