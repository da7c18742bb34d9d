"""The site's clock: real time, or the demo's simulated time running N times faster.

`ruong demo --speed N` runs its nodes, gateway, forecasts, alerts, weather source and
dashboard on one simulated clock, so a new user watches days of a season go by in minutes.
Each process builds its `Clock` from the settings' `[clock]` table (the demo writes it into
the config it hands its children) and asks it, never `time.time()`, for "now" where the answer
is a time of the site's data (sample times, forecast times, alert times). Timeouts, sleeps
and deadlines stay on the real monotonic clock: a socket does not wait N times faster.

Site time (Unix seconds) = start + (real time - origin) x speed; speed 1 with start 0 is the
real clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """speed: simulated seconds per real second; start: the site time (Unix s) at `origin`,
    a real Unix time (s). The default is the real clock."""

    speed: float = 1.0
    start: float = 0.0
    origin: float = 0.0

    @classmethod
    def of(cls, settings: object) -> Clock:
        """The clock of a `backend.config.Settings` (its clock_* attributes)."""
        return cls(
            float(getattr(settings, "clock_speed", 1.0)),
            float(getattr(settings, "clock_start", 0.0)),
            float(getattr(settings, "clock_origin", 0.0)),
        )

    @classmethod
    def simulated(cls, speed: float, start_s: float | None = None) -> Clock:
        """A clock at `start_s` (default: now) from this moment, `speed` times faster."""
        real = time.time()
        return cls(float(speed), real if start_s is None else float(start_s), real)

    @property
    def real(self) -> bool:
        return self.speed == 1.0 and self.start == 0.0

    def now_s(self) -> float:
        """Site time, Unix seconds."""
        real = time.time()
        if self.real:
            return real
        return self.start + (real - self.origin) * self.speed

    def now_ms(self) -> int:
        """Site time, Unix milliseconds."""
        return int(self.now_s() * 1000)

    def site_seconds(self, real_seconds: float) -> float:
        """How much site time passes in `real_seconds` of real time."""
        return real_seconds * self.speed

    def real_seconds(self, site_seconds: float) -> float:
        """How long (real s) until `site_seconds` of site time have passed."""
        return site_seconds / self.speed
