"""The commune page's map of fields as a plain plotly.js figure dict (pure).

No tile service: farms and commune offices sit behind slow or no uplinks, and the partial
plotly.js bundle in assets/ has only scatter, bar and pie traces (no scattergeo, no mapbox).
The fields' registry coordinates are drawn as a plain scatter, x = longitude and y =
latitude (WGS 84 degrees), on a local equirectangular projection: at a commune's scale (a few
km) the earth is flat enough that only the shrinking of a degree of longitude matters.

A plain dict, not plotly.graph_objects, for the same reason as dashboard/charts.py: a
graph_objects figure carries plotly.py's whole default template into every callback answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.ui import colour, number

# Bootstrap 5.3's default colours of ui.LEVEL_COLOUR, so that a dot on the map is the dot of
# its row in the list
BOOTSTRAP_HEX = {
    "danger": "#dc3545",
    "warning": "#ffc107",
    "info": "#0dcaf0",
    "success": "#198754",
    "secondary": "#6c757d",
}
M_PER_DEG_LAT = 111_320.0  # one degree of latitude on the ground (m), nearly the same anywhere
# the smallest half-width of the map (degrees, ~220 m): one field alone is not zoomed to a dot
MIN_HALF_SPAN_DEG = 0.002
MAP_HEIGHT_PX = 280
SCALE_BARS_M = (50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)


@dataclass(frozen=True)
class MapPoint:
    """A field on the map: where it is (degrees), its level (ui.LEVEL_COLOUR) and its short
    action in the reader's words (shown on hover or tap)."""

    field_id: int
    name: str
    latitude: float
    longitude: float
    level: int | None
    action: str


def scale_ratio(latitude_deg: float) -> float:
    """Pixels of a degree of latitude per pixel of a degree of longitude, for true distances.

    A degree of longitude is cos(latitude) times as long on the ground as a degree of
    latitude (the meridians meet at the poles), so a degree of latitude must be drawn
    1 / cos(latitude) times as tall as a degree of longitude is wide: 1.066 at Ninh Bình
    (20.2° N). plotly.js's yaxis `scaleratio` is exactly that ratio, with `scaleanchor` "x".
    """
    return 1.0 / math.cos(math.radians(latitude_deg))


def _range(values: Sequence[float], min_half: float) -> tuple[float, float]:
    """The span of `values` with a margin of 15 % on each side, at least ±`min_half`."""
    lo, hi = min(values), max(values)
    half = max((hi - lo) * 0.65, min_half)
    mid = (lo + hi) / 2
    return mid - half, mid + half


def _scale_bar(lon0: float, lon1: float, lat: float) -> int:
    """A round length (m) about a third of the map's width at `lat`, for the scale bar."""
    width_m = (lon1 - lon0) * M_PER_DEG_LAT * math.cos(math.radians(lat))
    fitting = [m for m in SCALE_BARS_M if m <= width_m / 3]
    return fitting[-1] if fitting else SCALE_BARS_M[0]


def _metres(length_m: int, lang: str) -> str:
    return f"{number(length_m / 1000, 0, lang)} km" if length_m >= 1000 else f"{length_m} m"


def map_figure(
    points: Sequence[MapPoint], lang: str, height: int = MAP_HEIGHT_PX
) -> dict[str, Any]:
    """One scatter trace of the fields (markers coloured by level, the field name above
    each), equal-distance axes, a scale bar in the lower left; no axes' numbers (degrees
    mean nothing to the reader), no zoom or drag (a thumb scrolls the page, not the map)."""
    if not points:
        return {"data": [], "layout": {"height": height}}
    lats = [p.latitude for p in points]
    lons = [p.longitude for p in points]
    mid_lat = (min(lats) + max(lats)) / 2
    ratio = scale_ratio(mid_lat)
    y0, y1 = _range(lats, MIN_HALF_SPAN_DEG)
    x0, x1 = _range(lons, MIN_HALF_SPAN_DEG * ratio)
    trace = {
        "type": "scatter",
        "mode": "markers+text",
        # 5 decimals of a degree: about 1 m, what a phone's GPS gives
        "x": [round(p.longitude, 5) for p in points],
        "y": [round(p.latitude, 5) for p in points],
        "text": [p.name for p in points],
        "customdata": [p.action for p in points],
        "textposition": "top center",
        "textfont": {"size": 11},
        "hovertemplate": "<b>%{text}</b><br>%{customdata}<extra></extra>",
        "marker": {
            "size": 14,
            "color": [BOOTSTRAP_HEX[colour(p.level)] for p in points],
            "line": {"color": "#ffffff", "width": 1.5},
        },
        "cliponaxis": False,
    }
    bar_m = _scale_bar(x0, x1, mid_lat)
    bar_deg = bar_m / (M_PER_DEG_LAT * math.cos(math.radians(mid_lat)))
    bx, by = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.06
    axis = {"showticklabels": False, "zeroline": False, "fixedrange": True, "gridcolor": "#e6e9e2"}
    layout = {
        "height": height,
        "margin": {"l": 4, "r": 4, "t": 4, "b": 4},
        "separators": ",." if lang == "vi" else ".,",
        "xaxis": {**axis, "range": [round(x0, 5), round(x1, 5)]},
        "yaxis": {
            **axis,
            "range": [round(y0, 5), round(y1, 5)],
            "scaleanchor": "x",
            "scaleratio": round(ratio, 4),
        },
        "showlegend": False,
        "hovermode": "closest",
        "dragmode": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#f5f7f2",
        "shapes": [
            {
                "type": "line",
                "xref": "x",
                "yref": "y",
                "x0": round(bx, 5),
                "x1": round(bx + bar_deg, 5),
                "y0": round(by, 5),
                "y1": round(by, 5),
                "line": {"color": "#495057", "width": 3},
            }
        ],
        "annotations": [
            {
                "xref": "x",
                "yref": "y",
                "x": round(bx, 5),
                "y": round(by, 5),
                "xanchor": "left",
                "yanchor": "bottom",
                "text": _metres(bar_m, lang),
                "showarrow": False,
                "font": {"size": 10, "color": "#495057"},
            }
        ],
    }
    return {"data": [trace], "layout": layout}
