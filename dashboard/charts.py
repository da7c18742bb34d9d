"""The field page's charts as plain plotly.js figure dicts (pure).

Plain dicts, not plotly.graph_objects: a graph_objects figure carries plotly.py's whole
default template (~9 KB of JSON per chart) into every callback answer, and the page must
stay light on 3G (issue budget: 20 KB per answer). Times are the province's local clock
as "YYYY-MM-DD HH:MM" strings, which plotly.js reads as dates without a timezone; values
are rounded to what a reader can see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from backend.i18n import t
from backend.node_health import AWD_REFLOOD_M
from dashboard.ui import LOCAL

Series = Sequence[tuple[int, float]]  # (Unix ms, value)

BLUE, GREEN, BROWN, GREY = "#1f77b4", "#2ca02c", "#8c564b", "#888888"


def local(time_ms: int) -> str:
    return dt.datetime.fromtimestamp(time_ms / 1000, LOCAL).strftime("%Y-%m-%d %H:%M")


def _xy(series: Series, factor: float = 1.0, decimals: int = 1) -> dict[str, list[Any]]:
    return {
        "x": [local(t_ms) for t_ms, _ in series],
        "y": [round(v * factor, decimals) for _, v in series],
    }


def base_layout(lang: str, height: int = 260) -> dict[str, Any]:
    """Margins for a 360 px phone, the reader's number format (Vietnamese 1.013,2) and dates
    as dd/mm; the legend under the chart, where it does not cover the lines."""
    return {
        "height": height,
        "margin": {"l": 52, "r": 8, "t": 8, "b": 8},
        "separators": ",." if lang == "vi" else ".,",
        "legend": {"orientation": "h", "y": -0.18, "font": {"size": 11}},
        "xaxis": {"type": "date", "tickformat": "%d/%m", "hoverformat": "%d/%m/%Y %H:%M"},
        "hovermode": "x unified",
        "dragmode": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }


def _hline(y: float, colour: str, dash: str, yref: str = "y") -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": yref,
        "y0": y,
        "y1": y,
        "line": {"color": colour, "width": 1.5, "dash": dash},
    }


def moisture_figure(
    lang: str,
    vwc: Series,
    rain_daily: Series,
    irrigation: Series,
    fc_pct: float | None = None,
    refill_pct: float | None = None,
    band: Sequence[tuple[int, float, float, float]] = (),
) -> dict[str, Any]:
    """Soil moisture (%) with its field-capacity and refill lines and the forecast band
    (lo, mid, hi at future times) above; daily rain and recorded irrigation (mm) as bars
    below, on the same time axis."""
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": t("chart.vwc", lang),
            **_xy(vwc),
            "line": {"color": BROWN},
            "yaxis": "y",
        },
    ]
    if band:
        times = [local(b[0]) for b in band]
        data += [
            {
                "type": "scatter",
                "mode": "lines",
                "x": times,
                "y": [round(b[3], 1) for b in band],
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
                "yaxis": "y",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": times,
                "y": [round(b[1], 1) for b in band],
                "fill": "tonexty",
                "fillcolor": "rgba(140,86,75,0.2)",
                "line": {"width": 0},
                "name": t("chart.forecast_band", lang),
                "yaxis": "y",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": times,
                "y": [round(b[2], 1) for b in band],
                "line": {"color": BROWN, "dash": "dot"},
                "showlegend": False,
                "yaxis": "y",
            },
        ]
    data += [
        {
            "type": "bar",
            "name": t("chart.rain", lang),
            **_xy(rain_daily),
            "marker": {"color": BLUE},
            "yaxis": "y2",
        },
        {
            "type": "bar",
            "name": t("chart.irrigation", lang),
            **_xy(irrigation),
            "marker": {"color": GREEN},
            "yaxis": "y2",
        },
    ]
    layout = base_layout(lang, height=320)
    layout["yaxis"] = {"domain": [0.38, 1], "ticksuffix": "%", "title": {"text": ""}}
    layout["yaxis2"] = {"domain": [0, 0.28], "ticksuffix": " mm", "rangemode": "tozero"}
    layout["barmode"] = "group"
    shapes = []
    annotations = []
    for value, colour, dash, name in (
        (fc_pct, BLUE, "dash", t("chart.field_capacity", lang)),
        (refill_pct, "#d62728", "dash", t("chart.refill", lang)),
    ):
        if value is not None:
            shapes.append(_hline(value, colour, dash))
            annotations.append(
                {
                    "xref": "paper",
                    "x": 0,
                    "xanchor": "left",
                    "yref": "y",
                    "y": value,
                    "yanchor": "bottom",
                    "text": name,
                    "showarrow": False,
                    "font": {"size": 10, "color": colour},
                }
            )
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def water_figure(
    lang: str, level_m: Series, flowering: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A paddy's water level (cm, against the soil surface at 0) with the −15 cm safe-AWD
    re-flood line (IRRI; backend.node_health.AWD_REFLOOD_M) and the flowering window, when
    the field must stay flooded, shaded."""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": t("chart.water_level", lang),
            **_xy(level_m, factor=100.0, decimals=0),
            "line": {"color": BLUE},
        },
    ]
    layout = base_layout(lang, height=220)
    layout["yaxis"] = {"ticksuffix": " cm", "zeroline": False}
    shapes = [
        _hline(0.0, BROWN, "solid"),
        _hline(round(AWD_REFLOOD_M * 100), "#d62728", "dash"),
    ]
    annotations = [
        {
            "xref": "paper",
            "x": 0,
            "xanchor": "left",
            "yref": "y",
            "y": 0,
            "yanchor": "bottom",
            "text": t("chart.soil_surface", lang),
            "showarrow": False,
            "font": {"size": 10, "color": BROWN},
        },
        {
            "xref": "paper",
            "x": 0,
            "xanchor": "left",
            "yref": "y",
            "y": round(AWD_REFLOOD_M * 100),
            "yanchor": "top",
            "text": t("chart.awd_limit", lang),
            "showarrow": False,
            "font": {"size": 10, "color": "#d62728"},
        },
    ]
    if flowering is not None:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "x0": flowering[0],
                "x1": flowering[1],
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "fillcolor": "rgba(255,193,7,0.2)",
                "line": {"width": 0},
                "layer": "below",
            }
        )
        annotations.append(
            {
                "xref": "x",
                "x": flowering[0],
                "xanchor": "left",
                "yref": "paper",
                "y": 1,
                "text": t("chart.flowering", lang),
                "showarrow": False,
                "font": {"size": 10},
            }
        )
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def graph_config(lang: str) -> Any:
    """No mode bar (it is all tiny buttons on a phone), plotly.js's own words in `lang`
    (the vi locale in assets/plotly-2-locale-vi.js). Typed Any: dcc.Graph types `config`
    as its own TypedDict, which has no `locale`."""
    return {"displayModeBar": False, "locale": lang, "responsive": True}
