"""The technician's fleet (`/fleet`; `/` for a technician): every node of the caller's
organisations, the worst first: when it last reported, its battery and the battery's 7-day
trend, its signal, sensor faults and dropped readings, and what to do, in the same words as
`ruong node list` (backend/node_health.py node_advice), at 360 px as on a desktop.

Who should report comes from the registry (backend.access Scope.nodes), who did from the
store's newest values (dashboard.shell latest_nodes, filtered to those nodes), the trend from a
store-side daily mean (Store.aggregate), all read through dashboard.reads (within a deadline,
else the last answer under the stale banner).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import Dash, Input, Output, html

from backend.i18n import N_, ago, label, t
from backend.node_health import OFFLINE_AFTER_S, Advice, NodeView, node_advice
from backend.store import Store
from dashboard import site_clock
from dashboard.api.context import current_principal, services
from dashboard.reads import Answer
from dashboard.shell import latest_nodes, reads
from dashboard.ui import attr, language, not_for_you, number, stale_banner

PATH = "/fleet"
ROLES = ("technician", "admin")

DAY_MS = 86_400_000
TREND_DAYS = 7
# fewer complete days than this give no trend: two daily means are a line through any noise
TREND_MIN_DAYS = 3
# A battery falling faster than this (V/day, over the daily means of the last 7 days) is a
# fault, not the weather. The default paddy node (`python -m hardware.power`: esp32-devkitc,
# 2 x 18650, 3900 mAh usable) lasts 34.9 days with no sun at all, i.e. from a full 4.2 V cell
# to BATTERY_LOW_V (3.5 V) at about 0.7 V / 35 d = 0.02 V/day, and with its 2 W panel it is
# energy-neutral in every month. 0.05 V/day is 2.5 times that no-sun rate: no run of overcast
# days explains it; something draws more than the budget (a sensor rail left on, Wi-Fi
# retries) or the panel, charger or cell has failed.
FALLING_V_PER_DAY = 0.05
# under this (V/day) the trend is flat (→): a daily mean averages ~96 ADC readings, and its
# day-to-day wander with the temperature of the cell is of this order
FLAT_V_PER_DAY = 0.01

HEALTH_RANK = {"bad": 2, "warn": 1, "ok": 0}
# the Bootstrap colour of an Advice (backend.node_health) -> the row's health
LEVEL_HEALTH = {"danger": "bad", "warning": "warn", "info": "ok", "success": "ok"}
HEALTH_COLOUR = {"bad": "danger", "warn": "warning", "ok": "success"}


@dataclass(frozen=True)
class FleetRow:
    """One node of the caller's organisations and what the store knows of it.

    view: its newest values (None: it never reported, or the store was never read: `known`).
    trend_v_day: the battery's change per day over the last complete days (V/day; None: too
        few days).
    advice: what to do (message ids, backend.node_health); empty for a revoked node.
    health: `ok`, `warn` or `bad`, the worst of its advice.
    """

    node: str
    farm: str
    field: str
    revoked: bool
    known: bool
    view: NodeView | None
    trend_v_day: float | None
    advice: tuple[Advice, ...]
    health: str


def battery_trend(daily: Sequence[tuple[int, float]]) -> float | None:
    """The least-squares slope (V/day) of daily mean battery voltages, (window start in Unix
    ms, V); None with fewer than TREND_MIN_DAYS of them. Daily means, so that a day's solar
    charge and night's drain cancel out."""
    if len(daily) < TREND_MIN_DAYS:
        return None
    xs = [ms / DAY_MS for ms, _ in daily]
    ys = [v for _, v in daily]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def fleet_rows(
    nodes: Sequence[Mapping[str, object]],
    views: Sequence[NodeView] | None,
    trends: Mapping[str, float | None],
    now_ms: int,
) -> list[FleetRow]:
    """The registry's `nodes` (Scope.nodes) joined with their newest `views` by node id and
    their battery `trends` (V/day), the worst first; `views` None: the store was never read.

    The join is `ruong node list`'s (ruong/fleet.py fleet_health): a revoked node is meant to
    be silent (no advice), a node without a view never reported."""
    by_node = {v.node: v for v in views or ()}
    out = []
    for node in nodes:
        node_id = str(node["node"])
        revoked = bool(node.get("revoked"))
        view = by_node.get(node_id)
        trend = trends.get(node_id)
        advice: tuple[Advice, ...]
        if revoked or views is None:
            advice = ()
        elif view is None:
            advice = (Advice(N_("never_reported"), "warning", {}),)
        else:
            told = [a for a in node_advice(view, now_ms) if a.key != "all_good"]
            if trend is not None and trend < -FALLING_V_PER_DAY:
                told.append(Advice(N_("fleet.battery_falling"), "warning", {"v": -trend}))
            advice = tuple(told) or (Advice(N_("all_good"), "success", {}),)
        health = max(
            (LEVEL_HEALTH.get(a.level, "warn") for a in advice),
            key=HEALTH_RANK.__getitem__,
            default="ok" if revoked else "warn",
        )
        out.append(
            FleetRow(
                node_id,
                str(node.get("farm", "")),
                str(node.get("field", "")),
                revoked,
                views is not None,
                view,
                trend,
                advice,
                health,
            )
        )
    return sorted(out, key=_worst_first)


def _worst_first(row: FleetRow) -> tuple[object, ...]:
    """Revoked last; then bad, warn, ok; within one, more to do first, then the longest
    silent, then the lowest battery."""
    battery = row.view.values.get("battery") if row.view else None
    return (
        row.revoked,
        -HEALTH_RANK[row.health],
        -sum(a.level != "success" for a in row.advice),
        row.view.time_ms if row.view else -1,
        battery if battery is not None else float("inf"),
        row.node,
    )


def read_trends(node_ids: Sequence[str], now_ms: int) -> Answer[dict[str, float | None]]:
    """The battery trend of each node over the last TREND_DAYS complete days (UTC days, as
    the store's windows are aligned on the epoch), in one read: one deadline for the fleet."""
    until_ms = now_ms // DAY_MS * DAY_MS  # today is not over: its mean is half a day's
    since_ms = until_ms - TREND_DAYS * DAY_MS

    def fetch(store: Store) -> dict[str, float | None]:
        return {
            node: battery_trend(
                store.aggregate(
                    "node_status", "battery", {"node": node}, since_ms, until_ms, DAY_MS // 1000
                )
            )
            for node in node_ids
        }

    key: Hashable = ("fleet.battery_trend", until_ms, tuple(sorted(node_ids)))
    return reads().get(key, fetch)


def _words(advice: Advice, lang: str) -> str:
    """An advice in the reader's words, its volts with the reader's decimal mark."""
    params: dict[str, object] = {
        k: number(v, 2, lang) if isinstance(v, float) else v for k, v in advice.values.items()
    }
    return t(advice.key, lang, **params)


def _last_seen(row: FleetRow, now_ms: int, lang: str) -> html.Span:
    """'12 phút trước', red past node_health's OFFLINE_AFTER_S."""
    if row.view is None:
        text = t("fleet.never", lang) if row.known else t("ui.no_data", lang)
        return html.Span(text, className="small ms-auto text-muted fleet-seen")
    silent_s = max(0.0, (now_ms - row.view.time_ms) / 1000)
    colour = "text-danger fw-semibold" if silent_s > OFFLINE_AFTER_S else "text-muted"
    return html.Span(ago(silent_s, lang), className=f"small ms-auto {colour} fleet-seen")


def signed(value: float, decimals: int, lang: str) -> str:
    """ui.number with a typographic minus (−0,06) and, for a change, a plus."""
    text = number(abs(value), decimals, lang)
    return ("−" if value < 0 and text.strip("0,.") else "+") + text


def _trend(row: FleetRow, lang: str) -> str:
    if row.trend_v_day is None:
        return ""
    change = row.trend_v_day
    arrow = "↓" if change < -FLAT_V_PER_DAY else "↑" if change > FLAT_V_PER_DAY else "→"
    return " " + t("fleet.trend", lang, arrow=arrow, v=signed(change, 2, lang))


def _stats(row: FleetRow, lang: str) -> str:
    """'Pin: 3,32 V ↓ −0,06 V/ngày · Sóng: -97 dBm · ...': one line of text (a few bytes a
    node), wrapping only between its items (no-break spaces inside them)."""
    values = row.view.values if row.view else {}
    items = []
    battery = values.get("battery")
    if battery is not None:
        items.append(f"{label('battery', lang)}: {number(battery, 2, lang)} V{_trend(row, lang)}")
    rssi = values.get("rssi")
    if rssi is not None:
        items.append(f"{label('rssi', lang)}: {signed(rssi, 0, lang).lstrip('+')} dBm")
    faults = values.get("faults")
    if faults:
        items.append(t("fleet.faults", lang, n=int(faults)))
    dropped = values.get("dropped")
    if dropped:
        items.append(t("fleet.dropped", lang, n=int(dropped)))
    return " · ".join(item.replace(" ", "\u00a0") for item in items)


def row_item(row: FleetRow, lang: str, now_ms: int) -> html.Div:
    """A node's row: health, id, farm/field, last seen; values; what to do."""
    advice = [t("fleet.revoked", lang)] if row.revoked else [_words(a, lang) for a in row.advice]
    colour = "secondary" if row.revoked else HEALTH_COLOUR[row.health]
    return html.Div(
        [
            html.Div(
                [
                    html.Span(className=f"ruong-dot bg-{colour} me-2"),
                    html.Strong(row.node, className="me-2 font-monospace"),
                    html.Span(f"{row.farm}/{row.field}", className="small text-muted me-2"),
                    _last_seen(row, now_ms, lang),
                ],
                className="d-flex flex-wrap align-items-center",
            ),
            html.Div(_stats(row, lang), className="small"),
            html.Ul(
                [html.Li(text) for text in advice],
                className="small mb-0 ps-3 fleet-advice",
            ),
        ],
        className="list-group-item fleet-row",
        **attr("data-node", row.node),
        **attr("data-health", row.health),
    )


def body(lang: str | None) -> list[Any]:
    lang = language(lang)
    principal = current_principal()
    if principal is None or not principal.has(*ROLES):
        return [not_for_you(lang)]
    nodes = services().scope.nodes(principal)
    now_ms = site_clock.now_ms()
    out: list[Any] = [html.H1(t("fleet.title", lang), className="h5 my-2")]
    if not nodes:
        out.append(html.P(t("fleet.none", lang), id="fleet-none"))
        return out
    ids = {str(n["node"]) for n in nodes}
    latest = latest_nodes()
    views = None if latest.value is None else [v for v in latest.value if v.node in ids]
    reporting = sorted(v.node for v in views or ())
    trends = read_trends(reporting, now_ms) if reporting else Answer({}, None, False)
    rows = fleet_rows(nodes, views, trends.value or {}, now_ms)
    banner = stale_banner((latest, trends), lang)
    if banner is not None:
        out.insert(0, banner)
    count = {h: sum(r.health == h and not r.revoked for r in rows) for h in HEALTH_RANK}
    out.append(
        html.P(
            [
                t("fleet.summary", lang, **count),
                html.Br(),
                t("fleet.offline_rule", lang, min=OFFLINE_AFTER_S // 60),
            ],
            className="small text-muted mb-2",
            id="fleet-summary",
        )
    )
    out.append(
        html.Div(
            [row_item(r, lang, now_ms) for r in rows], className="list-group", id="fleet-nodes"
        )
    )
    return out


def layout(lang: str | None = None, **_: object) -> html.Div:
    return html.Div(body(lang), id="fleet-body")


def register(app: Dash) -> None:
    @app.callback(
        Output("fleet-body", "children"),
        Input("pulse", "data"),
        Input("lang", "data"),
        prevent_initial_call=True,
    )
    def refresh(_pulse: object, lang: str | None) -> list[Any]:
        """The same body, redrawn when new data arrived or the reader switched language;
        the caller's scope is checked again on the server."""
        return body(lang)
