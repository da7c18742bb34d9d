"""Home page: one card per node with its newest readings and what to do about them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html

from backend.i18n import ago, label, t
from backend.node_health import NodeView, advice, latest_by_node
from backend.store import Store
from dashboard.api.context import current_principal, services
from dashboard.data import DISPLAY, ForecastView, latest_forecasts

REFRESH_MS = 5000


def _attr(name: str, value: str) -> dict[str, Any]:
    """One wildcard attribute (`data-*`) to pass as `**_attr(name, value)` to a component.

    Dash takes wildcard attributes through an untyped **kwargs; typed Any, so that mypy does
    not match the value against each of the component's named (typed) properties.
    """
    return {name: value}


def number(value: float, decimals: int, lang: str) -> str:
    """Vietnamese writes 1.013,2 (comma decimal, dot thousands); English 1,013.2."""
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def forecast_items(forecasts: list[ForecastView], lang: str) -> list:
    """The field's forecasts: what to do first, each with the model that produced it.

    Pest rules at level 0 are folded into one line, so the card stays short on a phone.
    """
    items = []
    quiet = [f for f in forecasts if f.kind.startswith("pest_") and f.level == 0]
    for f in forecasts:
        if f in quiet:
            continue
        alert = dbc.Alert(
            [
                html.Div(f.text(lang)),
                html.Div(t("source", lang, model=f.model), className="small text-muted"),
            ],
            color=f.colour,
            className="py-2 mb-2",
        )
        items.append(html.Div(alert, **_attr("data-kind", f.kind)))
    if quiet:
        items.append(
            html.Div(
                t("pests_quiet", lang, n=len(quiet)),
                className="small text-success mb-2",
                **_attr("data-kind", "pest_quiet"),
            )
        )
    return items


def node_card(
    view: NodeView, lang: str, now_ms: int, forecasts: list[ForecastView] | None = None
) -> dbc.Card:
    forecasts = forecasts or []
    items = []
    for quantity, unit, factor, decimals in DISPLAY:
        if quantity in view.values:
            items.append(
                html.Div(
                    [
                        html.Span(label(quantity, lang), className="text-muted small d-block"),
                        html.Span(
                            f"{number(view.values[quantity] * factor, decimals, lang)} {unit}",
                            className="fs-5 fw-semibold",
                            **_attr("data-quantity", quantity),
                        ),
                    ],
                    className="col-6 mb-2",
                )
            )
    alerts = [
        dbc.Alert(
            t(
                a.key,
                lang,
                **{
                    k: number(v, 2, lang) if isinstance(v, float) else v
                    for k, v in a.values.items()
                },
            ),
            color=a.level,
            className="py-2 mb-2",
        )
        for a in advice(view, now_ms, any(f.kind == "awd" for f in forecasts))
    ]
    header = html.Div(
        [
            html.Strong(t("field", lang, field=view.field)),
            html.Span(" · " + t("node", lang, node=view.node), className="text-muted small"),
        ]
    )
    return dbc.Card(
        [
            dbc.CardHeader(header),
            dbc.CardBody(
                [
                    *alerts,
                    *forecast_items(forecasts, lang),
                    html.Div(items, className="row g-1"),
                    html.Div(
                        t("updated", lang, ago=ago((now_ms - view.time_ms) / 1000, lang)),
                        className="text-muted small",
                    ),
                ]
            ),
        ],
        className="h-100 node-card",
        id={"type": "node-card", "node": view.node},
    )


def cards(store: Store, lang: str, visible: set[tuple[str, str]]) -> list:
    """The node cards of the fields in `visible` ((farm, field) names: the caller's scope)."""
    views = [v for v in latest_by_node(store) if (v.farm, v.field) in visible]
    now_ms = int(time.time() * 1000)
    if not views:
        return [dbc.Alert(t("no_nodes", lang), color="info", id="no-nodes")]
    forecasts = latest_forecasts(store, now_ms)
    return [
        dbc.Col(
            node_card(v, lang, now_ms, forecasts.get(v.field)), xs=12, md=6, lg=4, className="mb-3"
        )
        for v in views
    ]


def layout() -> dbc.Container:
    return dbc.Container(
        [
            dcc.Location(id="url"),
            dcc.Store(id="lang", storage_type="local", data="vi"),
            dcc.Interval(id="refresh", interval=REFRESH_MS),
            html.Div(
                [
                    html.H1(id="title", className="h4 my-3 flex-grow-1"),
                    dbc.Button(id="lang-toggle", color="link", size="sm", className="p-0"),
                ],
                className="d-flex align-items-center",
            ),
            dbc.Row(id="node-cards"),
        ],
        fluid=True,
        className="pb-3",
    )


def visible_fields() -> set[tuple[str, str]]:
    """(farm, field) of every field the caller of this callback may see; none without a
    session (a callback is an HTTP endpoint like any other: backend/access.py)."""
    principal = current_principal()
    if principal is None:
        return set()
    return {(f.farm, f.name) for f in services().scope.fields(principal)}


def register_callbacks(app: Dash, store_factory: Callable[[], Store]) -> None:
    """Callbacks bound to the store the app was created with."""
    store = store_factory()

    @app.callback(
        Output("lang", "data"),
        Input("lang-toggle", "n_clicks"),
        Input("url", "search"),
        Input("lang", "data"),
    )
    def choose_language(n_clicks: int | None, search: str | None, current: str | None) -> str:
        from dash import ctx

        if ctx.triggered_id == "lang-toggle" and n_clicks:
            return "en" if current == "vi" else "vi"
        if search and "lang=en" in search:
            return "en"
        if search and "lang=vi" in search:
            return "vi"
        return current if current in ("vi", "en") else "vi"

    @app.callback(
        Output("title", "children"),
        Output("lang-toggle", "children"),
        Output("node-cards", "children"),
        Input("refresh", "n_intervals"),
        Input("lang", "data"),
    )
    def refresh(_n: int | None, lang: str | None) -> tuple[str, str, list]:
        lang = lang if lang in ("vi", "en") else "vi"
        return t("title", lang), t("language", lang), cards(store, lang, visible_fields())
