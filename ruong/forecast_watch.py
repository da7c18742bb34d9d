"""`ruong forecast watch`: advice that follows the readings, within one reporting interval.

A cron'd `ruong forecast run` leaves a field's advice as old as the last run: the soil can pass
the irrigation point, or a paddy's water fall below -15 cm, while the card beside the fresh
reading still says all is well (issue 16). The watch keeps the soil-moisture model loaded and
polls the store every `every_s` (real) seconds for readings newer than the last it saw; each
field with new readings is forecast again at once, so its advice rests on its newest reading
(`reading_ms`). What it writes:

- a piece of advice whose level or words changed, at once;
- every piece of a field's advice at least every `refresh_s` (real) seconds, so the advice's
  reading time follows the readings without writing eight points per field per reading;
- the whole farm every `full_every_s` (real) seconds, as `ruong forecast run` would (fields
  whose node went silent keep their advice up to date too).

"Now" is the site's clock (`backend.clock.Clock`: the demo's may run N times faster); the
polling and refresh periods are real time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from backend.clock import Clock
from backend.config import Settings
from backend.registry import Registry
from backend.store import Store, StoreError
from forecasting.advice import Advice, WeatherAhead
from forecasting.field_forecast import SoilMoistureModel
from ruong.forecast_job import FieldResult, run

log = logging.getLogger("ruong.forecast.watch")


def _signature(advice: Advice) -> str:
    """What a reader sees of a piece of advice: its level and its words."""
    return f"{advice.level}|{json.dumps(advice.text.as_json(), sort_keys=True)}"


@dataclass
class Watch:
    """The watch's state between polls (see the module notes)."""

    settings: Settings
    registry: Registry
    store: Store
    model: SoilMoistureModel | None
    clock: Clock = field(default_factory=Clock)
    weather: Callable[[int], WeatherAhead | None] = lambda now_ms: None
    refresh_s: float = 3600.0
    full_every_s: float = 6 * 3600.0
    seen_ms: int = 0  # the newest reading time seen
    shown: dict[tuple[str, str], str] = field(default_factory=dict)  # (field, kind) -> signature
    written_at: dict[str, float] = field(default_factory=dict)  # field -> monotonic s
    last_full: float | None = None
    runs: int = 0
    failures: int = 0

    def _keep(self, field_: str, advice: Advice) -> bool:
        """Write this advice: its words changed, or the field's advice is due a refresh."""
        changed = self.shown.get((field_, advice.kind)) != _signature(advice)
        due = time.monotonic() - self.written_at.get(field_, float("-inf")) >= self.refresh_s
        return changed or due

    def _forecast(self, fields: set[str] | None, full: bool) -> list[FieldResult]:
        now_ms = self.clock.now_ms()
        now = pd.Timestamp(now_ms, unit="ms", tz="UTC")
        results = run(
            self.settings,
            self.registry,
            self.store,
            now=now.to_pydatetime(),
            model=self.model,
            weather=self.weather(now_ms),
            fields=fields,
            keep=None if full else self._keep,
        )
        moment = time.monotonic()
        for result in results:
            name = result.planting.field
            refreshed = full or moment - self.written_at.get(name, float("-inf")) >= self.refresh_s
            if refreshed:
                self.written_at[name] = moment
            for advice in result.advice:
                self.shown[(name, advice.kind)] = _signature(advice)
        self.runs += 1
        return results

    def new_readings(self) -> set[str]:
        """The fields with readings sampled after the newest one seen, and move on."""
        since = self.seen_ms + 1 if self.seen_ms else self.clock.now_ms() - 3_600_000
        rows = self.store.rows("readings", where={"farm": self.settings.farm}, since_ms=since)
        if rows:
            self.seen_ms = max(self.seen_ms, max(r.time_ms for r in rows))
        return {r.tags["field"] for r in rows if r.tags.get("field")}

    def step(self) -> list[FieldResult]:
        """One poll: the whole farm when due, else the fields with new readings."""
        if self.last_full is None or time.monotonic() - self.last_full >= self.full_every_s:
            self.new_readings()  # what the full run covers
            self.last_full = time.monotonic()
            return self._forecast(None, full=True)
        changed = self.new_readings()
        if not changed:
            return []
        log.info("new readings on %s: forecasting them again", ", ".join(sorted(changed)))
        return self._forecast(changed, full=False)


def watch(the: Watch, every_s: float, stop: threading.Event | None = None) -> None:
    """Poll every `every_s` real seconds until `stop` is set; a failed poll (the store or
    the registry down) is logged and counted, and the next poll tries again."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            the.step()
        except (StoreError, SQLAlchemyError, OSError) as exc:  # the store or registry down
            the.failures += 1
            log.error("forecast watch: poll failed (%d so far): %s", the.failures, exc)
        stop.wait(every_s)
