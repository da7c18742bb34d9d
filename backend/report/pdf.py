"""The season report as a PDF for the province (issue 17, "Interfaces"): Vietnamese by default,
DejaVu Sans embedded so that every diacritic prints and extracts, no map.

Place in the data path: the season report's JSON (built by `backend.report.season`, whose
shape is the contract in the issue) goes in, the PDF's bytes come out; `ruong report season
--format pdf` writes them. The report must have been built with its `charts` (hourly water
level of the sampled paddy fields) for the water level pages to have anything to draw.

Pages: (1) the title and the scope's summary table with a plain-language paragraph, and the
per-commune and per-organisation tables; (2) the per-field table (absent from a viewer's
report, which holds aggregates only); (3) one water level chart per sampled field, at most
:data:`MAX_CHARTS`; (4) the method: every factor with its value, range and source, the
equations (IPCC 2019 Refinement, Vol. 4, Ch. 5, eq. 5.1-5.3), the water regime rules and the
coverage caveat. Words come from the catalogue (`backend.i18n`), numbers are written by Babel
in the reader's locale (Vietnamese: 1.234,5).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from fpdf import FPDF, FontFace

from backend.i18n import DEFAULT, LANGUAGES, N_, t

# fontTools (fpdf2's subsetter) logs every glyph table at INFO: noise in an operator's console
logging.getLogger("fontTools").setLevel(logging.WARNING)

MAX_CHARTS = 6
AWD_THRESHOLD_CM = -15.0  # the AWD "safe" dry-down depth the dashboard's advice uses
GAP_MS = 2 * 3600 * 1000  # hourly points further apart than this are a gap, not a line
# the report's times are unix ms; without an offset in `generated_at`, Viet Nam's (UTC+7)
LOCAL_FALLBACK = dt.timezone(dt.timedelta(hours=7))

FONT = "DejaVu"
FONT_PACKAGE = "fonts-dejavu-core"
# where Debian/Ubuntu (fonts-dejavu-core), Arch (ttf-dejavu) and Fedora (dejavu-sans-fonts)
# put DejaVu Sans; fontconfig is asked after these
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu"),
)

REGIMES = ("continuously_flooded", "single_drainage", "multiple_drainage", "no_data")
REGIME_WORDS = {
    "continuously_flooded": N_("report.pdf.regime.continuously_flooded"),
    "single_drainage": N_("report.pdf.regime.single_drainage"),
    "multiple_drainage": N_("report.pdf.regime.multiple_drainage"),
    "no_data": N_("report.pdf.regime.no_data"),
    "upland": N_("report.pdf.regime.upland"),
}
SEASON_WORDS = {"spring": N_("report.pdf.season.spring"), "summer": N_("report.pdf.season.summer")}
SCOPE_WORDS = {
    "commune": N_("report.pdf.scope.commune"),
    "org": N_("report.pdf.scope.org"),
    "field": N_("report.pdf.scope.field"),
}

_HEADING_FILL = (226, 236, 222)
_LEVEL_COLOUR = (31, 97, 141)
_AWD_COLOUR = (202, 111, 30)
_GRID_COLOUR = (215, 215, 215)


class FontMissing(RuntimeError):
    """DejaVu Sans is not installed: the PDF cannot embed a font with Vietnamese glyphs."""


@cache
def find_font(bold: bool = False) -> Path:
    """The DejaVu Sans TrueType file (its bold face if `bold`): the usual paths, then fontconfig.

    Raises FontMissing naming the Debian package when neither finds it; fc-match's fallback
    to another family is refused, as its glyphs and metrics would not be DejaVu's."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    pattern = "DejaVu Sans:bold" if bold else "DejaVu Sans"
    try:
        answer = subprocess.run(
            ["fc-match", "-f", "%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        answer = ""
    found = Path(answer) if answer else None
    if found is not None and found.name == name and found.is_file():
        return found
    raise FontMissing(
        f"the season report's PDF needs the DejaVu Sans font ({name}), found neither in "
        f"{', '.join(map(str, FONT_DIRS))} nor by fc-match: install the Debian package "
        f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE})"
    )


def render(report: Mapping[str, Any], lang: str = DEFAULT) -> bytes:
    """The season report `report` (the issue 17 JSON) as a PDF in `lang` ("vi" or "en")."""
    lang = lang if lang in LANGUAGES else DEFAULT
    pdf = _Document(lang)
    title = t("report.pdf.title", lang, season=_season(report, lang), scope=_scope(report, lang))
    pdf.set_title(title)
    pdf.set_lang(lang)
    pdf.set_creator("Ruộng")
    pdf.add_page()
    _title_block(pdf, report, title)
    aggregate = report.get("province") or {}
    if not aggregate.get("fields"):
        _paragraph(
            pdf,
            t(
                "report.pdf.no_fields",
                lang,
                scope=_scope(report, lang),
                start=_day(report["from"], lang),
                end=_day(report["to"], lang),
            ),
            size=12,
        )
    else:
        _summary(pdf, report, aggregate)
        _areas(pdf, report.get("communes") or [], N_("report.pdf.by_commune"))
        _areas(pdf, report.get("organisations") or [], N_("report.pdf.by_org"))
        pdf.add_page()
        _fields(pdf, report)
        _charts(pdf, report)
    pdf.add_page()
    _method(pdf, report)
    return bytes(pdf.output())


class _Document(FPDF):
    """A4 portrait with the embedded fonts and a numbered footer."""

    def __init__(self, lang: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        self.add_font(FONT, "", str(find_font()))
        self.add_font(FONT, "B", str(find_font(bold=True)))
        self.set_font(FONT, size=10)
        self.set_auto_page_break(True, margin=15)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 5, t("report.pdf.page", self.lang, page=self.page_no(), pages="{nb}"))
        self.set_font(FONT, size=10)


# --- words and numbers -------------------------------------------------------------------


def _num(value: float | None, decimals: int, lang: str) -> str:
    """`value` with `decimals` decimals and the reader's separators; "–" when unknown."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(round(value, decimals), format=pattern, locale=lang)


def _pct(share: float | None, lang: str) -> str:
    return "–" if share is None else format_percent(share, locale=lang)


def _with_range(value: float | None, span: Sequence[float] | None, decimals: int, lang: str) -> str:
    if value is None:
        return "–"
    if not span:
        return _num(value, decimals, lang)
    return t(
        "report.pdf.value_range",
        lang,
        value=_num(value, decimals, lang),
        low=_num(span[0], decimals, lang),
        high=_num(span[1], decimals, lang),
    )


def _day(iso: str, lang: str) -> str:
    """An ISO date with its year, as the reader writes it (01/06/2026, 1 Jun 2026)."""
    pattern = "dd/MM/yyyy" if lang == "vi" else "d MMM yyyy"
    return format_date(dt.date.fromisoformat(iso[:10]), pattern, locale=lang)


def _season(report: Mapping[str, Any], lang: str) -> str:
    season = report.get("season")
    if not season:
        return f"{_day(report['from'], lang)}–{_day(report['to'], lang)}"
    year, _, part = str(season).partition("-")
    return t(SEASON_WORDS[part], lang, year=year) if part in SEASON_WORDS else str(season)


def _scope(report: Mapping[str, Any], lang: str) -> str:
    kind, _, name = str(report.get("scope", "province")).partition(":")
    if kind in SCOPE_WORDS and name:
        return t(SCOPE_WORDS[kind], lang, name=name)
    return t("report.pdf.scope.province", lang)


def _regime(field: Mapping[str, Any], lang: str) -> str:
    regime = field.get("water_regime") or "no_data"
    if regime == "no_data" and not str(field.get("crop", "rice")).startswith("rice"):
        regime = "upland"
    return t(REGIME_WORDS.get(regime, REGIME_WORDS["no_data"]), lang)


def _local_zone(report: Mapping[str, Any]) -> dt.tzinfo:
    """The zone of the report's clock (its `generated_at` offset): the farms' local days."""
    stamp = report.get("generated_at")
    zone = dt.datetime.fromisoformat(stamp).tzinfo if stamp else None
    return zone or LOCAL_FALLBACK


# --- layout ------------------------------------------------------------------------------


def _heading(pdf: _Document, text: str, size: int = 13) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_font(FONT, size=10)


def _paragraph(pdf: _Document, text: str, size: int = 10) -> None:
    pdf.set_font(FONT, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, size=10)


def _table(
    pdf: _Document,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    align: Sequence[str],
    size: int = 9,
) -> None:
    """A ruled table, its header repeated on each page it runs onto."""
    pdf.set_font(FONT, size=size)
    with pdf.table(
        col_widths=tuple(widths),
        width=sum(widths),
        align="LEFT",
        text_align=tuple(align),
        line_height=size * 0.5,
        headings_style=FontFace(emphasis="BOLD", fill_color=_HEADING_FILL),
    ) as table:
        for cells in (header, *rows):
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.ln(4)
    pdf.set_font(FONT, size=10)


def _title_block(pdf: _Document, report: Mapping[str, Any], title: str) -> None:
    lang = pdf.lang
    _heading(pdf, title, size=17)
    period = t(
        "report.pdf.period",
        lang,
        start=_day(report["from"], lang),
        end=_day(report["to"], lang),
    )
    stamp = report.get("generated_at")
    if stamp:
        at = format_datetime(dt.datetime.fromisoformat(stamp), "dd/MM/yyyy HH:mm xxx", locale=lang)
        period += "\n" + t("report.pdf.generated", lang, at=at)
    _paragraph(pdf, period)


def _summary(pdf: _Document, report: Mapping[str, Any], agg: Mapping[str, Any]) -> None:
    lang = pdf.lang
    regimes = agg.get("regimes") or {}
    alerts = agg.get("alerts") or {}
    network = report.get("network") or []
    nodes = sum(n.get("nodes", 0) for n in network)
    expected = sum(n.get("expected_reports", 0) for n in network)
    received = sum(n.get("received_reports", 0) for n in network)
    # uptime weighted by nodes: a cooperative of 20 nodes weighs more than one of 2
    uptimes = [(n["uptime"], n.get("nodes", 0)) for n in network if n.get("uptime") is not None]
    weight = sum(w for _, w in uptimes)
    uptime = sum(u * w for u, w in uptimes) / weight if weight else None
    rows = [
        (t("report.pdf.row.fields", lang), _num(agg.get("fields"), 0, lang)),
        (t("report.pdf.row.paddy_fields", lang), _num(agg.get("paddy_fields"), 0, lang)),
        (t("report.pdf.row.area", lang), _num(agg.get("area_ha"), 2, lang)),
        *[
            (
                t("report.pdf.row.regime", lang, regime=t(REGIME_WORDS[r], lang)),
                _num(regimes.get(r, 0), 0, lang),
            )
            for r in REGIMES
        ],
        (t("report.pdf.row.ch4", lang), _num(agg.get("ch4_kg"), 0, lang)),
        (t("report.pdf.row.baseline", lang), _num(agg.get("baseline_ch4_kg"), 0, lang)),
        (
            t("report.pdf.row.avoided", lang),
            _with_range(agg.get("avoided_t_co2e"), agg.get("avoided_t_co2e_range"), 2, lang),
        ),
        (t("report.pdf.row.irrigation", lang), _num(agg.get("irrigation_m3"), 0, lang)),
        (t("report.pdf.row.advice", lang), _num(agg.get("advice_delivered"), 0, lang)),
        (t("report.pdf.row.alerts", lang), _num(alerts.get("total"), 0, lang)),
        (t("report.pdf.row.acknowledged", lang), _pct(alerts.get("acknowledged_share"), lang)),
        (t("report.pdf.row.median_ack", lang), _num(alerts.get("median_ack_minutes"), 0, lang)),
        (t("report.pdf.row.followed", lang), _pct(alerts.get("followed_48h_share"), lang)),
        (t("report.pdf.row.escalations", lang), _num(alerts.get("escalations"), 0, lang)),
        (t("report.pdf.row.coverage", lang), _pct(agg.get("coverage"), lang)),
    ]
    if nodes:
        rows.append((t("report.pdf.row.uptime", lang), _pct(uptime, lang)))
        share = received / expected if expected else None
        counts = f"{_num(received, 0, lang)} / {_num(expected, 0, lang)}"
        rows.append((t("report.pdf.row.received", lang), f"{counts} ({_pct(share, lang)})"))
    _heading(pdf, t("report.pdf.summary.heading", lang))
    header = (t("report.pdf.col.item", lang), t("report.pdf.col.value", lang))
    _table(pdf, header, rows, (95, 75), ("LEFT", "RIGHT"))
    _paragraph(pdf, _meaning(agg, lang))


def _meaning(agg: Mapping[str, Any], lang: str) -> str:
    """What the summary says, in a sentence or two a council member reads."""
    regimes = agg.get("regimes") or {}
    drained = regimes.get("single_drainage", 0) + regimes.get("multiple_drainage", 0)
    avoided = agg.get("avoided_t_co2e") or 0.0
    if drained and avoided > 0:
        low, high = agg.get("avoided_t_co2e_range") or (avoided, avoided)
        text = t(
            "report.pdf.meaning.avoided",
            lang,
            n=drained,
            t=avoided,
            low=low,
            high=high,
            kg=agg.get("avoided_ch4_kg") or 0.0,
        )
    else:
        text = t("report.pdf.meaning.none", lang)
    if agg.get("coverage") is not None:
        text += " " + t("report.pdf.meaning.coverage", lang, pct=_pct(agg["coverage"], lang))
    return text


def _areas(pdf: _Document, areas: Sequence[Mapping[str, Any]], heading: str) -> None:
    if not areas:
        return
    lang = pdf.lang
    _heading(pdf, t(heading, lang), size=11)
    header = [
        t(msgid, lang)
        for msgid in (
            N_("report.pdf.col.name"),
            N_("report.pdf.col.fields"),
            N_("report.pdf.col.area"),
            N_("report.pdf.col.avoided"),
            N_("report.pdf.col.coverage"),
        )
    ]
    rows = [
        (
            str(a.get("name", "")),
            _num(a.get("fields"), 0, lang),
            _num(a.get("area_ha"), 2, lang),
            _with_range(a.get("avoided_t_co2e"), a.get("avoided_t_co2e_range"), 2, lang),
            _pct(a.get("coverage"), lang),
        )
        for a in areas
    ]
    _table(pdf, header, rows, (50, 18, 25, 55, 22), ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))


def _fields(pdf: _Document, report: Mapping[str, Any]) -> None:
    lang = pdf.lang
    _heading(pdf, t("report.pdf.fields.heading", lang))
    if "fields" not in report:
        _paragraph(pdf, t("report.pdf.fields.aggregates_only", lang))
        return
    header = [
        t(msgid, lang)
        for msgid in (
            N_("report.pdf.col.field"),
            N_("report.pdf.col.commune"),
            N_("report.pdf.col.regime"),
            N_("report.pdf.col.days"),
            N_("report.pdf.col.drainages"),
            N_("report.pdf.col.coverage"),
            N_("report.pdf.col.ch4"),
            N_("report.pdf.col.avoided"),
        )
    ]
    fields = sorted(report["fields"], key=lambda f: (f.get("commune") or "", f["field"]))
    rows = [
        (
            str(f["field"]),
            str(f.get("commune") or "–"),
            _regime(f, lang),
            _num(f.get("days"), 0, lang),
            _num(len(f.get("drainage_periods") or []), 0, lang),
            _pct(f.get("coverage"), lang),
            _num(f.get("ch4_kg"), 0, lang),
            _num(f.get("avoided_t_co2e"), 2, lang),
        )
        for f in fields
    ]
    widths = (36, 28, 34, 14, 18, 16, 20, 24)
    align = ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
    _table(pdf, header, rows, widths, align, size=8)


# --- charts ------------------------------------------------------------------------------


def _charts(pdf: _Document, report: Mapping[str, Any]) -> None:
    charts: Mapping[str, Sequence[Sequence[float | None]]] = report.get("charts") or {}
    if not charts:
        return
    lang = pdf.lang
    by_name = {f["field"]: f for f in report.get("fields") or []}
    zone = _local_zone(report)
    pdf.add_page()
    _heading(pdf, t("report.pdf.charts.heading", lang))
    _paragraph(pdf, t("report.pdf.charts.note", lang), size=9)
    for name in list(charts)[:MAX_CHARTS]:
        field = by_name.get(name, {})
        title = f"{name} · {field['commune']}" if field.get("commune") else name
        if field:
            title += f" · {_regime(field, lang)}"
        _chart(pdf, title, charts[name], zone)
    if len(charts) > MAX_CHARTS:
        more = t("report.pdf.charts.more", lang, n=len(charts) - MAX_CHARTS, max=MAX_CHARTS)
        _paragraph(pdf, more, size=9)


def _chart(
    pdf: _Document, title: str, points: Sequence[Sequence[float | None]], zone: dt.tzinfo
) -> None:
    """One field's water level (m in the report, cm on the chart) against local dates."""
    lang = pdf.lang
    height, axis_w = 55.0, 14.0
    if pdf.get_y() + height + 22 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(FONT, "B", 10)
    pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
    top, left = pdf.get_y() + 2, pdf.l_margin + axis_w
    width = pdf.epw - axis_w - 32  # room on the right for the two lines' labels
    series = [
        (int(ms), level * 100.0)  # m -> cm
        for ms, level in ((p[0], p[1]) for p in points)
        if ms is not None and level is not None and math.isfinite(level)
    ]
    pdf.set_font(FONT, size=7)
    if not series:
        pdf.set_y(top)
        _paragraph(pdf, t("report.pdf.chart.no_data", lang), size=9)
        return
    start = min(ms for ms, _ in series)
    end = max(max(ms for ms, _ in series), start + 3600 * 1000)
    low = 5 * math.floor(min(min(cm for _, cm in series), AWD_THRESHOLD_CM - 5) / 5)
    high = 5 * math.ceil((max(max(cm for _, cm in series), 5.0) + 1) / 5)  # headroom

    def x_of(ms: float) -> float:
        return left + (ms - start) / (end - start) * width

    def y_of(cm: float) -> float:
        return top + (high - cm) / (high - low) * height

    pdf.set_draw_color(*_GRID_COLOUR)
    pdf.set_line_width(0.1)
    step = 5 if high - low <= 40 else 10
    for tick_cm in range(int(low), int(high) + 1, step):
        pdf.line(left, y_of(tick_cm), left + width, y_of(tick_cm))
        pdf.text(pdf.l_margin + 4, y_of(tick_cm) + 1, _num(tick_cm, 0, lang))
    _date_ticks(pdf, start, end, zone, x_of, top + height)
    pdf.set_draw_color(90, 90, 90)
    pdf.rect(left, top, width, height)
    axis_label = t("report.pdf.chart.axis", lang)
    centre_x, centre_y = pdf.l_margin + 1.5, top + height / 2
    with pdf.rotation(90, centre_x, centre_y):
        pdf.text(centre_x - pdf.get_string_width(axis_label) / 2, centre_y + 1, axis_label)
    # the soil surface and the AWD threshold, labelled at the right end
    pdf.set_line_width(0.35)
    pdf.line(left, y_of(0), left + width, y_of(0))
    pdf.text(left + width + 1.5, y_of(0) + 1, t("report.pdf.chart.surface", lang))
    pdf.set_draw_color(*_AWD_COLOUR)
    pdf.set_dash_pattern(dash=1.5, gap=1.0)
    pdf.line(left, y_of(AWD_THRESHOLD_CM), left + width, y_of(AWD_THRESHOLD_CM))
    pdf.set_dash_pattern()
    pdf.set_text_color(*_AWD_COLOUR)
    pdf.text(left + width + 1.5, y_of(AWD_THRESHOLD_CM) + 1, t("report.pdf.chart.awd", lang))
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(*_LEVEL_COLOUR)
    pdf.set_line_width(0.3)
    for segment in _segments(series):
        if len(segment) == 1:
            ms, cm = segment[0]
            pdf.line(x_of(ms) - 0.3, y_of(cm), x_of(ms) + 0.3, y_of(cm))
        else:
            pdf.polyline([(x_of(ms), y_of(cm)) for ms, cm in segment])
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_font(FONT, size=10)
    pdf.set_y(top + height + 9)


def _segments(series: Sequence[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """The series split where readings are missing, so that a gap is drawn as a gap."""
    segments: list[list[tuple[int, float]]] = []
    for point in sorted(series):
        if segments and point[0] - segments[-1][-1][0] <= GAP_MS:
            segments[-1].append(point)
        else:
            segments.append([point])
    return segments


def _date_ticks(
    pdf: _Document,
    start_ms: int,
    end_ms: int,
    zone: dt.tzinfo,
    x_of: Any,
    baseline_y: float,
) -> None:
    """Local midnights as dd/mm under the chart: the 1st and 15th of each month over a season,
    about eight evenly spaced days over a shorter span."""
    first = dt.datetime.fromtimestamp(start_ms / 1000, zone)
    last = dt.datetime.fromtimestamp(end_ms / 1000, zone)
    span_days = max((last - first).days, 1)
    every = max(1, math.ceil(span_days / 8))
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= last:
        on_tick = day.day in (1, 15) if span_days > 45 else (day - first).days % every == 0
        if day >= first and on_tick:
            x = x_of(day.timestamp() * 1000)
            pdf.line(x, baseline_y, x, baseline_y + 1.2)
            label = format_date(day.date(), "dd/MM", locale=pdf.lang)
            pdf.text(x - pdf.get_string_width(label) / 2, baseline_y + 4, label)
        day += dt.timedelta(days=1)


# --- method ------------------------------------------------------------------------------


def _method(pdf: _Document, report: Mapping[str, Any]) -> None:
    lang = pdf.lang
    parameters = report.get("parameters") or {}
    _heading(pdf, t("report.pdf.method.heading", lang))
    _paragraph(pdf, t("report.pdf.method.intro", lang))
    _paragraph(pdf, t("report.pdf.method.eq_ch4", lang))
    _paragraph(pdf, t("report.pdf.method.eq_sfo", lang))
    gwp = parameters.get("gwp100")
    _paragraph(
        pdf,
        t(
            "report.pdf.method.avoided",
            lang,
            gwp=_factor(gwp, lang),
            source=str(parameters.get("gwp_source", "")),
        ),
    )
    _heading(pdf, t("report.pdf.method.factors", lang), size=11)
    header = [
        t(msgid, lang)
        for msgid in (
            N_("report.pdf.col.factor"),
            N_("report.pdf.col.value"),
            N_("report.pdf.col.range"),
            N_("report.pdf.col.source"),
        )
    ]
    rows = [
        (
            str(f.get("name", "")),
            _factor(f.get("value"), lang),
            "–".join(_factor(v, lang) for v in f["range"]) if f.get("range") else "–",
            str(f.get("source", "")),
        )
        for f in report.get("method") or []
    ]
    _table(pdf, header, rows, (40, 18, 26, 106), ("LEFT", "RIGHT", "RIGHT", "LEFT"), size=8)
    days = parameters.get("drainage_min_days", 3.0)
    days_text = _num(days, 0 if float(days).is_integer() else 1, lang)
    _paragraph(pdf, t("report.pdf.method.rules", lang, days=days_text))
    _paragraph(pdf, t("report.pdf.method.coverage", lang))
    _paragraph(pdf, t("report.pdf.method.upland", lang))


def _factor(value: float | None, lang: str) -> str:
    """A factor as its table prints it: two decimals (1,22; 0,71), whole numbers whole (27)."""
    if value is None:
        return "–"
    whole = float(value).is_integer() and abs(value) >= 10
    return _num(value, 0 if whole else 2, lang)
