"""Pieces every page uses: numbers in the reader's locale, the colour of a level, how fresh
data is, the stale banner, and the caller's language. Words come from the catalogue
(backend/i18n.py); nothing here reads the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from backend.i18n import LANGUAGES, N_, ago, t
from dashboard.reads import Answer

# the province's clock: a farmer reads "cập nhật lúc 14:05" in Ninh Bình time, whatever the
# server's timezone is (a cloud VM runs in UTC)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
# data older than this is "old" on every page (a node reports every 15 min; four missed)
OLD_AFTER_S = 3600

# Bootstrap contextual colours of a level: 3 act now, 2 soon, 1 watch, 0 fine, None unknown
LEVEL_COLOUR = {3: "danger", 2: "warning", 1: "info", 0: "success"}


def attr(name: str, value: str) -> dict[str, Any]:
    """One wildcard attribute (`data-*`) to pass as `**attr(name, value)` to a component.

    Dash takes wildcard attributes through an untyped **kwargs; typed Any, so that mypy does
    not match the value against each of the component's named (typed) properties.
    """
    return {name: value}


def language(lang: object) -> str:
    """The reader's language: one of backend.i18n.LANGUAGES, Vietnamese by default."""
    return lang if isinstance(lang, str) and lang in LANGUAGES else "vi"


def number(value: float, decimals: int, lang: str) -> str:
    """Vietnamese writes 1.013,2 (comma decimal, dot thousands); English 1,013.2."""
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def colour(level: int | None) -> str:
    return LEVEL_COLOUR.get(level if level is not None else -1, "secondary")


def clock(time_ms: int) -> str:
    """HH:MM in the province's time."""
    return dt.datetime.fromtimestamp(time_ms / 1000, LOCAL).strftime("%H:%M")


def day_month(time_ms: int) -> str:
    """dd/mm in the province's time."""
    return dt.datetime.fromtimestamp(time_ms / 1000, LOCAL).strftime("%d/%m")


def same_day(time_ms: int, now_ms: int) -> bool:
    """Whether two times fall on one day of the province's calendar."""
    local = (dt.datetime.fromtimestamp(ms / 1000, LOCAL).date() for ms in (time_ms, now_ms))
    return next(local) == next(local)


def moment(time_ms: int, now_ms: int, lang: str) -> str:
    """'14:05' today, '14:05 ngày 02/12' another day (the province's time; now_ms the
    site's now)."""
    if same_day(time_ms, now_ms):
        return clock(time_ms)
    return t("event.when", lang, hhmm=clock(time_ms), day=day_month(time_ms))


def reading_note(reading_ms: int | None, now_ms: int, lang: str) -> str | None:
    """'theo số đo lúc 14:05' (with its date when not today): the newest reading a piece of
    advice was computed from (its `reading_ms`); None for advice that does not say."""
    if reading_ms is None or reading_ms <= 0:
        return None
    if same_day(reading_ms, now_ms):
        return t("advice.from_reading", lang, hhmm=clock(reading_ms))
    return t("advice.from_reading_day", lang, hhmm=clock(reading_ms), day=day_month(reading_ms))


def freshness(time_ms: int | None, now_ms: int, lang: str) -> html.Span:
    """'Cập nhật: 5 phút trước', red when older than OLD_AFTER_S, 'no data' without any."""
    if time_ms is None:
        return html.Span(t("ui.no_data", lang), className="text-danger small")
    seconds = max(0.0, (now_ms - time_ms) / 1000)
    old = seconds > OLD_AFTER_S
    return html.Span(
        t("updated", lang, ago=ago(seconds, lang)),
        className="small " + ("text-danger" if old else "text-muted"),
    )


def stale_banner(answers: Iterable[Answer[Any]], lang: str) -> html.Div | None:
    """The banner (element id `stale-banner`) when any answer is not this moment's: the
    store is slow or down, and the page shows the last values the server had."""
    stale = [a for a in answers if a.stale]
    if not stale:
        return None
    times = [a.at_ms for a in stale if a.at_ms is not None]
    text = t("ui.stale", lang, hhmm=clock(min(times))) if times else t("ui.stale_never", lang)
    return html.Div(
        text, id="stale-banner", className="alert alert-warning py-2 mb-2", role="alert"
    )


def level_dot(level: int | None) -> html.Span:
    """A coloured dot for a row: the level at a glance, with the words beside it."""
    return html.Span(
        className=f"ruong-dot bg-{colour(level)} me-2", **attr("data-level", str(level))
    )


# the crops of forecasting/data/crops.csv and the FAO-56 stages (forecasting.crops), by name
CROP_NAMES = {
    "rice_spring": N_("crop.rice_spring"),
    "rice_summer": N_("crop.rice_summer"),
    "maize": N_("crop.maize"),
    "cabbage": N_("crop.cabbage"),
    "tomato": N_("crop.tomato"),
}
STAGE_NAMES = {
    "initial": N_("stage.initial"),
    "development": N_("stage.development"),
    "mid": N_("stage.mid"),
    "late": N_("stage.late"),
}


def crop_stage(crop: str | None, stage: str | None, lang: str) -> str:
    """'Lúa xuân · đẻ nhánh'-like: the crop and, when known, its growth stage today."""
    if crop is None:
        return t("crop.none", lang)
    name = t(CROP_NAMES[crop], lang) if crop in CROP_NAMES else crop
    if stage in STAGE_NAMES:
        return f"{name} · {t(STAGE_NAMES[stage], lang)}"
    return name


def not_for_you(lang: str) -> html.Div:
    """What a page says to someone whose roles it is not for (no data of it is sent)."""
    return html.Div(t("ui.not_for_you", lang), className="alert alert-secondary", id="not-for-you")
