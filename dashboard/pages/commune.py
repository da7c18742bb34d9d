"""The officer's commune overview, `/commune` (and `/` for an officer): every field of the
officer's communes across organisations, the most urgent first, filtered and sorted on the
server; a map of the fields from the registry's coordinates (no tile service); and the
inbox of the alerts firing on those fields, each acknowledged here with what was done
(dashboard/inbox.py).

Scouting is recorded on the field page (a row opens it). Every callback resolves the caller
on the server and answers only about the fields of the caller's communes: an alert or a
filter value outside them gets nothing of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from dash import ALL, Dash, Input, Output, ctx, dcc, html

from backend.access import FieldInfo
from backend.i18n import N_, render, t
from backend.identity import Principal
from dashboard import charts, inbox, site_clock
from dashboard.api.context import current_principal, services
from dashboard.map_chart import MAP_HEIGHT_PX, MapPoint, map_figure
from dashboard.reads import Answer
from dashboard.shell import forecasts, latest_nodes
from dashboard.summary import FieldRow, field_rows, is_old
from dashboard.ui import (
    OLD_AFTER_S,
    STAGE_NAMES,
    attr,
    crop_stage,
    freshness,
    language,
    level_dot,
    not_for_you,
    stale_banner,
)

PATH = "/commune"
ROLES = ("officer",)
# rows drawn per "show more": an answer stays within the 3G budget of 20 KB (a row is ~0.9 KB
# of JSON with its Vietnamese escaped); the map shows every field the filters let through (a
# point is ~0.1 KB)
PAGE_ROWS = 15
TEXT = "commune-text"  # the pattern-matching id type of the page's fixed words
# the page's fixed words (marked for extraction; the title, with a parameter, is apart)
WORDS = (
    N_("commune.filters"),
    N_("commune.filter.level"),
    N_("commune.filter.crop"),
    N_("commune.filter.stage"),
    N_("commune.filter.data"),
    N_("commune.sort"),
    N_("commune.more"),
    N_("map.title"),
    N_("map.hint"),
    N_("inbox.title"),
)
# the level filter's values: the lowest level a row must have ("all": any, also unknown)
LEVEL_MIN = {"all": None, "2": 2, "3": 3}
NO_CROP = "none"  # the crop filter's value of a field with no planting


@dataclass(frozen=True)
class Filters:
    """What the officer chose: level (LEVEL_MIN), crop (a crop code, NO_CROP or "all"), stage
    (a FAO-56 stage or "all"), old ("old": only fields without a reading for OLD_AFTER_S,
    or "all"), sort ("urgency", "name", "freshness"). A crafted value matches nothing or
    sorts by urgency."""

    level: str = "all"
    crop: str = "all"
    stage: str = "all"
    old: str = "all"
    sort: str = "urgency"


# the filters' elements, the message id of each one's label, its Filters attribute
FILTER_IDS = (
    ("commune-filter-level", "commune.filter.level", "level"),
    ("commune-filter-crop", "commune.filter.crop", "crop"),
    ("commune-filter-stage", "commune.filter.stage", "stage"),
    ("commune-filter-old", "commune.filter.data", "old"),
    ("commune-sort", "commune.sort", "sort"),
)


def _principal() -> Principal | None:
    principal = current_principal()
    return principal if principal is not None and principal.has(*ROLES) else None


def commune_fields(principal: Principal) -> list[FieldInfo]:
    """The fields of the principal's communes (an officer who also farms or administers sees
    their other fields on those pages, not here)."""
    communes = principal.communes()
    return [f for f in services().scope.fields(principal) if f.commune in communes]


def _rows(principal: Principal) -> tuple[list[FieldInfo], list[FieldRow], list[Answer[Any]]]:
    """The commune's fields, their rows, and the store reads they came from."""
    fields = commune_fields(principal)
    nodes, advice = latest_nodes(), forecasts()
    return fields, field_rows(fields, advice.value or {}, nodes.value or []), [nodes, advice]


def chosen(rows: Sequence[FieldRow], filters: Filters, now_ms: int) -> list[FieldRow]:
    """The rows the filters let through, in the chosen order (`rows` come most urgent
    first: summary.field_rows)."""
    lowest = LEVEL_MIN.get(filters.level, 4)
    out = [
        r
        for r in rows
        if (lowest is None or (r.level is not None and r.level >= lowest))
        and filters.crop in ("all", r.field.crop or NO_CROP)
        and filters.stage in ("all", r.stage)
        and (filters.old != "old" or is_old(r, now_ms, OLD_AFTER_S))
    ]
    if filters.sort == "name":
        out.sort(key=lambda r: (r.field.name.casefold(), r.field.commune or "", r.field.id))
    elif filters.sort == "freshness":  # the oldest data first, no data at all before it
        out.sort(key=lambda r: (r.last_ms is not None, r.last_ms or 0, r.field.name))
    return out


def _limit(n_more: object) -> int:
    """The rows drawn after `n_more` taps on "show more" (a crafted count is bounded)."""
    taps = n_more if isinstance(n_more, int) and 0 <= n_more < 1000 else 0
    return PAGE_ROWS * (1 + taps)


# --- the words and the filters


def _word(key: str, lang: str, principal: Principal | None) -> str:
    if principal is None:
        return ""
    if key == "commune.title":
        return t("commune.title", lang, communes=", ".join(sorted(principal.communes())))
    return t(key, lang) if key in WORDS else ""


def _text(key: str, lang: str, principal: Principal, tag: Any = html.Span, **kw: Any) -> Any:
    """A fixed word of the page, relabelled in place when the reader changes language."""
    return tag(_word(key, lang, principal), id={"type": TEXT, "key": key}, **kw)


def _options(
    fields: Sequence[FieldInfo], rows: Sequence[FieldRow], lang: str
) -> tuple[list[dict[str, str]], ...]:
    """The choices of the filters of FILTER_IDS in `lang`; the crops and stages are those of
    the commune's fields."""
    every = {"label": t("commune.all", lang), "value": "all"}
    crops = sorted({f.crop or NO_CROP for f in fields})
    stages = {r.stage for r in rows}
    return (
        [
            every,
            {"label": t("commune.level.soon", lang), "value": "2"},
            {"label": t("commune.level.now", lang), "value": "3"},
        ],
        [every]
        + [
            {"label": crop_stage(None if c == NO_CROP else c, None, lang), "value": c}
            for c in crops
        ],
        [every]
        + [{"label": t(n, lang), "value": s} for s, n in STAGE_NAMES.items() if s in stages],
        [every, {"label": t("commune.data.old", lang), "value": "old"}],
        [
            {"label": t("commune.sort.urgency", lang), "value": "urgency"},
            {"label": t("commune.sort.name", lang), "value": "name"},
            {"label": t("commune.sort.freshness", lang), "value": "freshness"},
        ],
    )


def _filter_panel(
    principal: Principal, fields: Sequence[FieldInfo], rows: Sequence[FieldRow], lang: str
) -> html.Details:
    """The filters, folded under one line on a phone (a tap opens them)."""
    groups = [
        html.Div(
            [
                _text(label, lang, principal, className="fw-semibold me-2"),
                dcc.RadioItems(
                    id=element,
                    options=options,
                    value=getattr(Filters(), name),
                    inline=True,
                    inputClassName="me-1",
                    labelClassName="me-3 text-nowrap",
                ),
            ],
            className="d-flex flex-wrap align-items-baseline small mb-1",
        )
        for (element, label, name), options in zip(
            FILTER_IDS, _options(fields, rows, lang), strict=True
        )
    ]
    summary = _text("commune.filters", lang, principal, html.Summary, className="small mb-1")
    return html.Details([summary, *groups], className="mb-2", id="commune-filters")


# --- the fields and the map


def row_item(row: FieldRow, lang: str, now_ms: int) -> html.A:
    """A field's row, a link to its page (where scouting is recorded). Flat, without a
    wrapper per line: every component is ~0.1 KB of JSON in the answer."""
    place = (row.field.commune, crop_stage(row.field.crop, row.stage, lang))
    return html.A(
        [
            level_dot(row.level),
            html.Strong(row.field.name, className="me-2"),
            html.Span(" · ".join(p for p in place if p), className="small text-muted"),
            html.Div(render(row.action, lang), className="fw-semibold my-1"),
            freshness(row.last_ms, now_ms, lang),
        ],
        href=f"/field/{row.field.id}",
        className="list-group-item list-group-item-action commune-row",
        **attr("data-field", str(row.field.id)),
    )


def fields_view(
    rows: Sequence[FieldRow], shown: Sequence[FieldRow], lang: str, now_ms: int, limit: int
) -> list[Any]:
    """The children of `commune-fields`: how many of the commune's fields the filters let
    through, then the first `limit` of their rows."""
    if not rows:
        return [html.P(t("commune.no_fields", lang), id="commune-no-fields")]
    count = t("commune.count", lang, shown=len(shown), total=len(rows))
    out: list[Any] = [html.Div(count, className="small text-muted mb-1", id="commune-count")]
    if not shown:
        out.append(html.P(t("commune.none_match", lang), id="commune-none-match"))
        return out
    items = [row_item(r, lang, now_ms) for r in shown[:limit]]
    out.append(html.Div(items, className="list-group"))
    if len(shown) > limit:
        out.append(html.P(t("commune.capped", lang, n=limit), className="small mt-1 mb-0"))
    return out


def map_view(shown: Sequence[FieldRow], lang: str) -> tuple[dict[str, Any], bool, list[Any]]:
    """The map's figure, whether it is hidden (no field has a place), and the names of the
    fields that have no coordinates in the registry."""
    points = [
        MapPoint(
            r.field.id,
            r.field.name,
            r.field.latitude,
            r.field.longitude,
            r.level,
            render(r.action, lang),
        )
        for r in shown
        if r.field.latitude is not None and r.field.longitude is not None
    ]
    missing = sorted(
        r.field.name for r in shown if r.field.latitude is None or r.field.longitude is None
    )
    unplaced = [t("map.no_location", lang, fields=", ".join(missing))] if missing else []
    return map_figure(points, lang), not points, unplaced


# --- the page


def layout(lang: str | None = None, **_: object) -> html.Div:
    lang = language(lang)
    principal = _principal()
    if principal is None:
        return html.Div(not_for_you(lang), id="commune-body")
    fields, rows, answers = _rows(principal)
    now_ms = site_clock.now_ms()
    shown = chosen(rows, Filters(), now_ms)
    figure, hidden, unplaced = map_view(shown, lang)
    graph = dcc.Graph(
        id="commune-map",
        figure=figure,
        config=cast(Any, charts.graph_config(lang)),  # a plain dict; the stub wants its TypedDict
        # the figure's height, held by the element too: else the plot overflows its box
        style={"height": f"{MAP_HEIGHT_PX}px"},
    )
    more = html.Button(
        _text("commune.more", lang, principal),
        id="commune-more",
        className="btn btn-outline-secondary btn-sm mt-2",
        hidden=len(shown) <= PAGE_ROWS,
    )
    return html.Div(
        [
            html.Div(stale_banner(answers, lang), id="commune-stale"),
            _text("commune.title", lang, principal, html.H1, className="h5 my-2"),
            _text("inbox.title", lang, principal, html.H2, className="h6 mt-2"),
            inbox.inbox_panel(principal, fields, lang),
            html.Div(
                [
                    html.Div(
                        [
                            _filter_panel(principal, fields, rows, lang),
                            html.Div(
                                fields_view(rows, shown, lang, now_ms, PAGE_ROWS),
                                id="commune-fields",
                            ),
                            more,
                        ],
                        className="col-12 col-lg-7 mb-3",
                    ),
                    html.Div(
                        [
                            _text("map.title", lang, principal, html.H2, className="h6"),
                            html.Div(
                                [
                                    graph,
                                    _text(
                                        "map.hint",
                                        lang,
                                        principal,
                                        html.Div,
                                        className="small text-muted",
                                    ),
                                ],
                                id="commune-map-box",
                                hidden=hidden,
                            ),
                            html.Div(unplaced, id="commune-no-location", className="small mt-1"),
                        ],
                        className="col-12 col-lg-5 mb-3",
                    ),
                ],
                className="row",
            ),
        ],
        id="commune-body",
    )


def register(app: Dash) -> None:
    @app.callback(
        Output({"type": TEXT, "key": ALL}, "children"),
        *(Output(element, "options") for element, _, _ in FILTER_IDS),
        Input("lang", "data"),
        Input("pulse", "data"),
        prevent_initial_call=True,
    )
    def relabel(lang: str | None, _pulse: object) -> tuple[Any, ...]:
        """The page's fixed words in the reader's language; the crops and stages of the
        commune's fields as they are now."""
        lang = language(lang)
        principal = _principal()
        words = [_word(str(o["id"]["key"]), lang, principal) for o in ctx.outputs_list[0]]
        if principal is None:
            return (words, *([] for _ in FILTER_IDS))
        fields, rows, _answers = _rows(principal)
        return (words, *_options(fields, rows, lang))

    @app.callback(
        Output("commune-stale", "children"),
        Output("commune-fields", "children"),
        Output("commune-map", "figure"),
        Output("commune-map-box", "hidden"),
        Output("commune-no-location", "children"),
        Output("commune-more", "hidden"),
        Input("pulse", "data"),
        Input("lang", "data"),
        *(Input(element, "value") for element, _, _ in FILTER_IDS),
        Input("commune-more", "n_clicks"),
        prevent_initial_call=True,
    )
    def refresh(_pulse: object, lang: str | None, *args: object) -> tuple[Any, ...]:
        """The rows and the map of the fields the filters let through."""
        lang = language(lang)
        principal = _principal()
        if principal is None:
            return None, [not_for_you(lang)], map_figure([], lang), True, [], True
        *values, n_more = args
        filters = Filters(*(str(v) for v in values))
        _fields, rows, answers = _rows(principal)
        now_ms = site_clock.now_ms()
        shown, limit = chosen(rows, filters, now_ms), _limit(n_more)
        return (
            stale_banner(answers, lang),
            fields_view(rows, shown, lang, now_ms, limit),
            *map_view(shown, lang),
            len(shown) <= limit,
        )

    inbox.register(app, _principal, commune_fields)
