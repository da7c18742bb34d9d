"""The demo's farmer and its narrator: follow the advice on the dashboard, say what happens.

`ruong demo` runs a season fast (`--speed N`); for a new user to see the whole loop (a field
dries, the advice changes, an alert goes out, the farmer acts and records it, the advice
changes back) someone has to act. :class:`DemoFarmer` does what a farmer who follows Ruộng's
advice does: some site hours after a field's advice says to irrigate today or to re-flood the
paddy, he opens the pump (the simulated field of the node gets the water: the firmware's host
HAL reads `<node state dir>/sim_irrigate`, firmware/hal_host.py) and records it as the
dashboard's "Tôi đã tưới" would (`backend.records.add_record`, which the forecasts then take
as an input). :class:`Narrator` prints one console line each time a field's most urgent
advice changes, with the time of the reading it was computed from, so the demo's console tells
the story the dashboard shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from backend.clock import Clock
from backend.i18n import render
from backend.records import add_record
from backend.store import Store
from dashboard.data import ForecastView, latest_forecasts

DELAY_S = 2 * 3600.0  # site seconds between reading the advice and opening the pump
REST_S = 12 * 3600.0  # after watering a field, the farmer lets it be this long (site s)
PADDY_TOP_UP_MM = 80.0  # a re-flood to +5 cm from -15 cm: 50 mm ponded + the soil's pores


def _stamp(ms: int, clock_tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, clock_tz).strftime("%d/%m %H:%M")


def needs_water(view: ForecastView) -> float | None:
    """The mm the advice asks for now (irrigate today, re-flood the paddy), or None."""
    if view.level != 3:
        return None
    if view.kind == "awd" and view.values.get("action") == "irrigate":
        return view.number("apply_mm") or PADDY_TOP_UP_MM
    if view.kind == "irrigation" and view.number("days_ahead") == 0:
        return view.number("gross_mm")
    return None


@dataclass
class DemoFarmer:
    """Acts on the advice of the demo's fields (see the module notes).

    engine: the registry's engine; field_ids: field name -> registry id; node_dirs: field
    name -> the state dir of its node; farmer_id: the demo farmer's user id (the recorder).
    """

    engine: Engine
    clock: Clock
    field_ids: dict[str, int]
    node_dirs: dict[str, Path]
    farmer_id: int | None
    tz: dt.tzinfo
    planned: dict[str, tuple[float, float, str]] = field(default_factory=dict)  # due s, mm, kind
    rest_until: dict[str, float] = field(default_factory=dict)  # field -> site s
    records: int = 0  # irrigations recorded

    def step(self, views: dict[tuple[str, str], list[ForecastView]]) -> list[str]:
        """Plan or carry out the farmer's work; the console lines of what he did."""
        now_s = self.clock.now_s()
        lines = []
        for (_farm, name), field_views in views.items():
            if name not in self.field_ids or name in self.planned:
                continue
            if now_s < self.rest_until.get(name, 0.0):
                continue
            for view in field_views:
                mm = needs_water(view)
                if mm is not None:
                    self.planned[name] = (now_s + DELAY_S, mm, view.kind)
                    break
        for name, (due_s, mm, kind) in list(self.planned.items()):
            if now_s < due_s:
                continue
            del self.planned[name]
            self.rest_until[name] = now_s + REST_S
            (self.node_dirs[name] / "sim_irrigate").write_text(f"{mm:.0f}\n")
            when = dt.datetime.fromtimestamp(now_s, dt.UTC)
            self.records += 1
            add_record(
                self.engine,
                self.field_ids[name],
                "irrigation",
                time=when,
                amount_mm=round(mm, 1),
                note="demo farmer, following the advice" + (" (re-flood)" if kind == "awd" else ""),
                recorded_by=self.farmer_id,
            )
            lines.append(
                f"[{_stamp(int(now_s * 1000), self.tz)}] farmer: {name}: pumped {mm:.0f} mm "
                "and recorded it (Tôi đã tưới)"
            )
        return lines


@dataclass
class Narrator:
    """One line per change of a field's most urgent advice."""

    store: Store
    clock: Clock
    tz: dt.tzinfo
    lang: str = "en"
    said: dict[str, str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)

    def step(self) -> tuple[dict[tuple[str, str], list[ForecastView]], list[str]]:
        views = latest_forecasts(self.store, self.clock.now_ms())
        lines = []
        for (_farm, name), field_views in sorted(views.items()):
            acting = [
                v
                for v in field_views
                if v.kind in ("awd", "irrigation") or v.kind.startswith("pest_")
            ]
            message = acting[0].message if acting else None
            if message is None:
                continue
            top = acting[0]
            words = render(message, self.lang)
            # what the farmer is told to do, not its numbers (a level's cm, an estimate's days)
            key = f"{top.kind}|{top.level}|{message.msgid}|{top.values.get('action', '')}"
            if self.said.get(name) == key:
                continue
            self.said[name] = key
            reading = top.reading_ms
            basis = f" (from the reading at {_stamp(reading, self.tz)})" if reading else ""
            line = (
                f"[{_stamp(self.clock.now_ms(), self.tz)}] advice {name} {top.kind} "
                f"level {top.level}: {words}{basis}"
            )
            lines.append(line)
            self.changes.append(line)
        return views, lines
