"""`GET /api/v1/reports/season`: the season report (backend/report/season.py) as JSON, CSV or
PDF, scoped by the caller's role on the server: a farmer gets their fields, an officer their
communes, an admin or technician their organisation (a province's, the province), a viewer
the aggregates only (no field rows, no charts). An asked commune, organisation or field the
caller may not see answers 404, as one that does not exist."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.report.season import (
    OutOfScope,
    ReportParameters,
    ScopeError,
    aggregates_only,
    build_season_report,
)
from backend.report.seasons import check_window, season_window
from dashboard import site_clock
from dashboard.api.context import require_principal, services

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Season reports")

FORMATS = ("json", "csv", "pdf")


class SeasonQuery(Schema):
    season = fields.String(metadata={"description": "YYYY-spring or YYYY-summer"})
    date_from = fields.Date(data_key="from", metadata={"description": "first day (with `to`)"})
    date_to = fields.Date(data_key="to", metadata={"description": "last day, included"})
    scope = fields.String(
        load_default="province",
        metadata={"description": "province, commune:NAME, org:NAME or field:ID|FARM/FIELD"},
    )
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    lang = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))
    gwp = fields.String(load_default="ar6", validate=validate.OneOf(["ar6", "ar5"]))

    @validates_schema
    def one_window(self, data: dict[str, Any], **_: Any) -> None:
        has_dates = "date_from" in data or "date_to" in data
        if "season" in data and has_dates:
            raise ValidationError("give season, or from and to, not both")
        if "season" not in data and not ("date_from" in data and "date_to" in data):
            raise ValidationError("give season=YYYY-spring|YYYY-summer, or both from and to")


def _window(query: dict[str, Any]) -> tuple[dt.date, dt.date]:
    try:
        if "season" in query:
            return season_window(query["season"])
        return check_window(query["date_from"], query["date_to"])
    except ValueError as exc:
        abort(422, message=str(exc))
        raise  # abort raises; this keeps the type checker's flow


@blp.route("/reports/season", methods=["GET"])
@blp.arguments(SeasonQuery, location="query")
@blp.response(200, description="the report: JSON (default), text/csv or application/pdf")
@blp.alt_response(401, description="not logged in")
@blp.alt_response(404, description="the scope names nothing the caller may see")
def season_report(query: dict[str, Any]) -> Any:
    principal = require_principal()
    api = services()
    window = _window(query)
    now = dt.datetime.fromtimestamp(site_clock.site_clock().now_s(), dt.UTC)
    parameters = ReportParameters(
        drainage_min_days=api.report.drainage_min_days,
        gwp=query["gwp"],
        timezone=api.report.timezone,
        escalate_after_s=api.report.escalate_after_s,
    )
    only_totals = aggregates_only(principal)
    try:
        report = build_season_report(
            api.engine,
            api.store,
            window,
            query["scope"],
            principal,
            parameters,
            now,
            charts=query["format"] == "pdf" and not only_totals,
        )
    except ScopeError as exc:
        abort(422, message=str(exc))
    except OutOfScope:
        abort(404, message=f"no {query['scope']} in what you may see")
    data = report.to_json(aggregates_only=only_totals)
    name = f"ruong-{data['season'] or f'{window[0]}_{window[1]}'}"
    if query["format"] == "csv":
        if only_totals:
            abort(403, message="the CSV has one row per field; a viewer gets the aggregates")
        return Response(
            report.to_csv(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if query["format"] == "pdf":
        from backend.report import pdf  # fpdf2 and the fonts load only for a PDF

        return Response(
            pdf.render(data, lang=query["lang"]),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return data
