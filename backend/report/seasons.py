"""The season calendar of the season report: a season's name (`2026-spring`, `2026-summer`) and
the window of dates it covers.

Place in the data path: `ruong report season --season` and the API turn the name into the
report's window (:func:`season_window`); a field belongs to the season when its planting's
transplanting date is inside it (:func:`in_window`).

Why these windows: the Red River Delta has two rice seasons, named by the month of sowing or
transplanting, as `forecasting/varieties.py` (`SEASON_MONTHS`) documents them from Ninh Bình's
cropping calendar and Vinaseed's variety sheets for the Delta: vụ xuân (spring) transplanted
January-April, vụ mùa (summer) transplanted May-September. A window must also hold the
harvest, 100-140 days later for the Delta's varieties (`forecasting/data/rice_varieties.csv`):
spring runs 1 January - 30 June (a mid-April transplanting is harvested by late June or
early July: harvested is then null, the report says the crop was still growing), summer
1 May - 30 November (a September transplanting is harvested in November; October-December
is vụ đông, the winter upland crops, which belong to no rice season here). The two windows
overlap in May-June: a field transplanted in May is a summer field (its transplanting month),
which is what decides membership, not the window's span.
"""

from __future__ import annotations

import datetime as dt
import re

SEASON_NAME = re.compile(r"^(\d{4})-(spring|summer)$")
# season -> ((first month, first day), (last month, last day)), both days included
WINDOWS = {"spring": ((1, 1), (6, 30)), "summer": ((5, 1), (11, 30))}
# the transplanting months of each season (forecasting/varieties.py SEASON_MONTHS)
TRANSPLANT_MONTHS = {"spring": range(1, 5), "summer": range(5, 10)}


def season_window(name: str) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the season `name`, `YYYY-spring` or `YYYY-summer`, both
    included; ValueError naming the form for anything else."""
    match = SEASON_NAME.match(name.strip())
    if match is None:
        raise ValueError(f"season {name!r}: use YYYY-spring or YYYY-summer, e.g. 2026-spring")
    year, season = int(match.group(1)), match.group(2)
    (m0, d0), (m1, d1) = WINDOWS[season]
    return dt.date(year, m0, d0), dt.date(year, m1, d1)


def season_of_window(window: tuple[dt.date, dt.date]) -> str | None:
    """The season's name when `window` is exactly a season's; None for another window."""
    first = window[0]
    for season in WINDOWS:
        name = f"{first.year}-{season}"
        if season_window(name) == window:
            return name
    return None


def in_window(transplanted: dt.date, window: tuple[dt.date, dt.date]) -> bool:
    """The planting belongs to the report: transplanted inside the window (both days in).

    For a named season's window, the transplanting month must also be the season's (a May
    transplanting is summer, not spring, though the spring window runs to June)."""
    first, last = window
    if not first <= transplanted <= last:
        return False
    season = season_of_window(window)
    if season is None:
        return True
    return transplanted.month in TRANSPLANT_MONTHS[season.split("-")[1]]


def check_window(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last) when first <= last; ValueError otherwise."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    return first, last
