"""A field in one line (pure): what to do, by when, how urgent, and how fresh the data is.

The farmer's "Hôm nay" and the officer's overview show one row per field. The row's action
is the most urgent of the field's newest forecasts (irrigation, AWD, pests: forecasting via
`ruong forecast run`), said short ("Tưới 25 mm trước thứ Năm"); the full sentence and its
source are on the field page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backend.access import FieldInfo
from backend.i18n import N_, Message
from backend.node_health import NodeView
from dashboard.data import ForecastView

# the kinds a row's action comes from, in the order they win a tie of levels
ACTION_KINDS = ("awd", "irrigation", "pest_")
# a pest forecast's kind (pest_ + its rule's section, forecasting.advice) -> its name's id
PEST_NAMES = {
    "pest_blast": N_("pest.blast.name"),
    "pest_sheath_blight": N_("pest.sheath_blight.name"),
    "pest_blb": N_("pest.bacterial_leaf_blight.name"),
    "pest_bph": N_("pest.brown_planthopper.name"),
    "pest_leaf_folder": N_("pest.leaf_folder.name"),
}


@dataclass(frozen=True)
class FieldRow:
    """One field as a row: `level` 3 act now, 2 soon, 1 watch, 0 nothing to do, None unknown."""

    field: FieldInfo
    level: int | None
    action: Message
    stage: str | None  # FAO-56 stage of the crop today, from the irrigation advice
    last_ms: int | None  # the newest reading of any of the field's nodes (Unix ms)
    risks: tuple[str, ...]  # the pest kinds at level >= 2
    # the newest reading the row's action was computed from (Unix ms; None: not said)
    reading_ms: int | None = None


def _rank(view: ForecastView) -> tuple[int, int]:
    order = next((i for i, k in enumerate(ACTION_KINDS) if view.kind.startswith(k)), 9)
    return (-(view.level or 0), order)


def short_action(view: ForecastView) -> Message:
    """The forecast as a short instruction with its deadline, from its stored values."""
    values = view.values
    if view.kind == "irrigation":
        mm, due = view.number("gross_mm"), values.get("due")
        rain = view.number("postponed_for_rain_mm")
        if rain is not None:  # due now, but forecast rain can stand in for it
            return Message(N_("do.wait_for_rain"), {"mm": round(rain)})
        if mm is not None and isinstance(due, str):
            if values.get("days_ahead") == 0:
                return Message(N_("do.irrigate_today"), {"mm": round(mm)})
            return Message(N_("do.irrigate_by"), {"mm": round(mm), "due": due})
    if view.kind == "awd":
        action = values.get("action")
        if action == "irrigate" and "recorded_ms" in values:  # the farmer said it is done
            return Message(N_("do.wait_for_water"))
        if action == "irrigate":
            return Message(N_("do.reflood_today"))
        if action == "drain":
            return Message(N_("do.drain"))
    if view.kind.startswith("pest_"):
        name = PEST_NAMES.get(view.kind)
        if name is not None:
            return Message(N_("do.scout"), {"pest": Message(name)})
    return Message(N_("do.see_field"))


def field_row(
    field: FieldInfo, forecasts: Iterable[ForecastView], nodes: Iterable[NodeView]
) -> FieldRow:
    """The row of `field` from its newest forecasts and its nodes' newest values."""
    views = list(forecasts)
    times = [n.time_ms for n in nodes]
    acting = sorted(
        (v for v in views if v.kind.startswith(ACTION_KINDS) and (v.level or 0) >= 1), key=_rank
    )
    irrigation = next((v for v in views if v.kind == "irrigation"), None)
    stage = irrigation.values.get("stage") if irrigation is not None else None
    known = [v.level for v in views if v.kind.startswith(ACTION_KINDS) and v.level is not None]
    reading_ms: int | None = None
    if acting:
        level: int | None = acting[0].level
        action = short_action(acting[0])
        reading_ms = acting[0].reading_ms
    elif known:
        level, action = 0, Message(N_("do.nothing"))
    else:
        level, action = None, Message(N_("do.no_advice"))
    return FieldRow(
        field=field,
        level=level,
        action=action,
        stage=stage if isinstance(stage, str) else None,
        last_ms=max(times) if times else None,
        risks=tuple(v.kind for v in views if v.kind.startswith("pest_") and (v.level or 0) >= 2),
        reading_ms=reading_ms,
    )


def field_rows(
    fields: Iterable[FieldInfo],
    forecasts: Mapping[tuple[str, str], list[ForecastView]],
    nodes: Iterable[NodeView],
) -> list[FieldRow]:
    """A row per field, the most urgent first, then by name."""
    by_field: dict[tuple[str, str], list[NodeView]] = {}
    for node in nodes:
        by_field.setdefault((node.farm, node.field), []).append(node)
    rows = [
        field_row(f, forecasts.get((f.farm, f.name), []), by_field.get((f.farm, f.name), []))
        for f in fields
    ]
    return sorted(rows, key=lambda r: (-(r.level if r.level is not None else -1), r.field.name))


def is_old(row: FieldRow, now_ms: int, old_after_s: int) -> bool:
    """No reading within `old_after_s` (s): the row's advice rests on old data."""
    return row.last_ms is None or now_ms - row.last_ms > old_after_s * 1000
