"""The farmer's "Hôm nay" (today): one row per own field, the most urgent first: the crop and
its growth stage, a colour, the one thing to do and by when, how fresh the data is. A tap
opens the field's page.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, html

from backend.i18n import render, t
from dashboard import site_clock
from dashboard.api.context import current_principal, services
from dashboard.shell import forecasts, latest_nodes
from dashboard.summary import FieldRow, field_rows
from dashboard.ui import (
    attr,
    crop_stage,
    freshness,
    language,
    level_dot,
    not_for_you,
    reading_note,
    stale_banner,
)

PATH = "/today"
ROLES = ("farmer",)


def row_item(row: FieldRow, lang: str, now_ms: int) -> html.A:
    """A field's row: a link to its page. Under the action, the reading it rests on ("theo
    số đo lúc 14:05") when its advice says."""
    reading = reading_note(row.reading_ms, now_ms, lang)
    return html.A(
        [
            html.Div(
                [
                    level_dot(row.level),
                    html.Strong(row.field.name, className="me-2"),
                    html.Span(
                        crop_stage(row.field.crop, row.stage, lang), className="small text-muted"
                    ),
                ],
                className="d-flex align-items-center",
            ),
            html.Div(render(row.action, lang), className="fs-6 fw-semibold my-1 today-action"),
            *([html.Div(reading, className="small advice-reading")] if reading else []),
            freshness(row.last_ms, now_ms, lang),
        ],
        href=f"/field/{row.field.id}",
        className="list-group-item list-group-item-action today-row",
        **attr("data-field", str(row.field.id)),
    )


def body(lang: str | None) -> list[Any]:
    lang = language(lang)
    principal = current_principal()
    if principal is None or not principal.has(*ROLES):
        return [not_for_you(lang)]
    fields = [f for f in services().scope.fields(principal) if f.owned]
    nodes, advice = latest_nodes(), forecasts()
    now_ms = site_clock.now_ms()
    rows = field_rows(fields, advice.value or {}, nodes.value or [])
    out: list[Any] = [html.H1(t("today.title", lang), className="h5 my-2")]
    banner = stale_banner((nodes, advice), lang)
    if banner is not None:
        out.insert(0, banner)
    if not rows:
        out.append(html.P(t("today.no_fields", lang), id="no-fields"))
        return out
    out.append(
        html.Div([row_item(r, lang, now_ms) for r in rows], className="list-group", id="today-rows")
    )
    return out


def layout(lang: str | None = None, **_: object) -> html.Div:
    return html.Div(body(lang), id="today-body")


def register(app: Dash) -> None:
    @app.callback(
        Output("today-body", "children"),
        Input("pulse", "data"),
        Input("lang", "data"),
        prevent_initial_call=True,
    )
    def refresh(_pulse: object, lang: str | None) -> list[Any]:
        return body(lang)
