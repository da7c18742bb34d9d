"""The season report page (`/report`), for officers, viewers and admins: what the season
achieved in the caller's scope (an officer's communes, a viewer's or admin's organisation or
the province): paddy fields by water regime, the methane avoided against continuous flooding
(IPCC 2019 Tier 1, with its range), irrigation water, alerts acted on; per commune, and per
field for those who may see fields; and the PDF and CSV of the same report
(`GET /api/v1/reports/season`).

The report is built on the server for the caller (backend/report/season.py checks the
caller's scope: a viewer gets the aggregates only) and read through dashboard.reads, so a slow
store answers with the last report under the stale banner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, dcc, html

from backend.i18n import t
from backend.identity import Principal
from backend.report.pdf import REGIME_WORDS, REGIMES, SEASON_WORDS
from backend.report.season import aggregates_only, build_season_report
from backend.report.seasons import season_window
from backend.store import Store
from dashboard import site_clock
from dashboard.api.context import ApiServices, current_principal, services
from dashboard.shell import reads
from dashboard.ui import language, not_for_you, number, stale_banner

PATH = "/report"
ROLES = ("officer", "viewer", "admin")


def seasons(today: dt.date) -> list[str]:
    """The four most recent seasons that have begun by `today`, newest first."""
    out = []
    for year in (today.year, today.year - 1, today.year - 2):
        for part in ("summer", "spring"):
            name = f"{year}-{part}"
            if season_window(name)[0] <= today:
                out.append(name)
    return out[:4]


def season_name(name: str, lang: str) -> str:
    year, part = name.split("-")
    return t(SEASON_WORDS[part], lang, year=year)


def _report(
    api: ApiServices, principal: Principal, season: str, store: Store, now: dt.datetime
) -> dict[str, Any]:
    """The caller's report (runs on dashboard.reads' pool: no app context, all passed in)."""
    report = build_season_report(
        api.engine, store, season_window(season), "province", principal, api.report, now
    )
    return report.to_json(aggregates_only=aggregates_only(principal))


def _value(x: object, decimals: int, lang: str) -> str:
    return "–" if not isinstance(x, int | float) else number(float(x), decimals, lang)


def _summary(totals: Mapping[str, Any], lang: str) -> html.Table:
    regimes = totals.get("regimes") or {}
    low, high = (totals.get("avoided_t_co2e_range") or [None, None])[:2]
    alerts = totals.get("alerts") or {}
    rows = [
        (t("report.pdf.row.paddy_fields", lang), _value(totals.get("paddy_fields"), 0, lang)),
        (t("report.pdf.row.area", lang), _value(totals.get("area_ha"), 2, lang)),
        *(
            (
                t("report.pdf.row.regime", lang, regime=t(REGIME_WORDS[r], lang)),
                _value(regimes.get(r, 0), 0, lang),
            )
            for r in REGIMES
        ),
        (
            t("report.pdf.row.avoided", lang),
            t(
                "report.pdf.value_range",
                lang,
                value=_value(totals.get("avoided_t_co2e"), 2, lang),
                low=_value(low, 2, lang),
                high=_value(high, 2, lang),
            ),
        ),
        (t("report.pdf.row.irrigation", lang), _value(totals.get("irrigation_m3"), 0, lang)),
        (t("report.pdf.row.alerts", lang), _value(alerts.get("total"), 0, lang)),
        (t("report.pdf.row.acknowledged", lang), _share(alerts.get("acknowledged_share"), lang)),
        (t("report.pdf.row.followed", lang), _share(alerts.get("followed_48h_share"), lang)),
    ]
    return html.Table(
        [html.Tbody([html.Tr([html.Td(k), html.Td(v, className="text-end")]) for k, v in rows])],
        className="table table-sm",
        id="report-summary",
    )


def _share(value: object, lang: str) -> str:
    return "–" if not isinstance(value, int | float) else f"{number(value * 100, 0, lang)} %"


def _table(
    items: list[Mapping[str, Any]], columns: list[tuple[str, str, int]], lang: str, id_: str
) -> html.Table:
    head = html.Thead(html.Tr([html.Th(t(word, lang)) for word, _, _ in columns]))
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(
                        t(REGIME_WORDS.get(str(item.get(key)), "report.pdf.regime.no_data"), lang)
                        if key == "water_regime"
                        else (
                            _value(item.get(key), decimals, lang)
                            if decimals >= 0
                            else str(item.get(key) or "–")
                        )
                    )
                    for _, key, decimals in columns
                ]
            )
            for item in items
        ]
    )
    return html.Table([head, body], className="table table-sm small", id=id_)


def body(lang: str | None, season: str | None) -> list[Any]:
    lang = language(lang)
    principal = current_principal()
    if principal is None or not principal.has(*ROLES):
        return [not_for_you(lang)]
    now = dt.datetime.fromtimestamp(site_clock.site_clock().now_s(), dt.UTC)
    choices = seasons(now.date())
    season = season if season in choices else choices[0]
    key = ("report", season, principal.login, tuple(sorted(principal.roles())))
    api = services()
    answer = reads().get(key, lambda store: _report(api, principal, season, store, now))
    out: list[Any] = [stale_banner((answer,), lang)]
    report = answer.value
    if report is None:
        return out
    province = report["province"]
    out += [
        html.H2(t("report.pdf.summary.heading", lang), className="h5"),
        _summary(province, lang),
    ]
    query = {"season": season, "lang": lang}
    links = [
        html.A(
            "PDF",
            href=f"/api/v1/reports/season?{urlencode({**query, 'format': 'pdf'})}",
            id="report-pdf",
            className="btn btn-outline-primary btn-sm me-2",
        )
    ]
    if "fields" in report:
        links.append(
            html.A(
                "CSV",
                href=f"/api/v1/reports/season?{urlencode({**query, 'format': 'csv'})}",
                id="report-csv",
                className="btn btn-outline-secondary btn-sm",
            )
        )
    out.append(html.Div(links, className="mb-3"))
    communes = [
        ("report.pdf.col.commune", "name", -1),
        ("report.pdf.col.fields", "paddy_fields", 0),
        ("report.pdf.col.area", "area_ha", 2),
        ("report.pdf.col.avoided", "avoided_t_co2e", 2),
    ]
    out += [
        html.H2(t("report.pdf.by_commune", lang), className="h6"),
        _table(report["communes"], communes, lang, "report-communes"),
    ]
    if "fields" in report:
        columns = [
            ("report.pdf.col.field", "field", -1),
            ("report.pdf.col.regime", "water_regime", 0),
            ("report.pdf.col.days", "days", 0),
            ("report.pdf.col.avoided", "avoided_t_co2e", 3),
        ]
        out += [
            html.H2(t("report.pdf.fields.heading", lang), className="h6"),
            _table(report["fields"], columns, lang, "report-fields"),
        ]
    else:
        out.append(
            html.P(t("report.pdf.fields.aggregates_only", lang), className="text-muted small")
        )
    return out


def layout(lang: str | None = None, **_: object) -> html.Div:
    lang = language(lang)
    today = dt.datetime.fromtimestamp(site_clock.site_clock().now_s(), dt.UTC).date()
    options = [{"label": season_name(s, lang), "value": s} for s in seasons(today)]
    return html.Div(
        [
            dcc.Dropdown(
                options, options[0]["value"], id="report-season", clearable=False, className="mb-2"
            ),
            html.Div(id="report-body"),
        ]
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("report-body", "children"), Input("report-season", "value"), Input("lang", "data")
    )
    def show(season: str | None, lang: str | None) -> list[Any]:
        """The report of the chosen season, built for the caller on the server."""
        return body(lang, season)
