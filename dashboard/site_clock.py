"""The site's clock as the dashboard reads it (backend/clock.py): `create_app` installs the
clock `ruong serve` built from the settings, and every "now" of the site's data asks it: the
freshness of a reading ("Cập nhật: 5 giây trước"), the 14-day windows of the charts, the
forecasts' maximum age, the age of an alert. On the demo's faster clock those are simulated
times, hours or days ahead of the real clock. Logins, sessions, throttles, cookies and signed
links stay on the real clock: they are credentials, not the site's data.

Ask in the request, not in a read handed to dashboard/reads.py: those run on its pool's
threads, outside the app, where this module can only answer with the real clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app, has_app_context

from backend.clock import Clock

EXTENSION = "ruong_clock"
REAL = Clock()


def install(server: Flask, clock: Clock) -> None:
    server.extensions[EXTENSION] = clock


def site_clock() -> Clock:
    """The app's clock; the real one outside an app (a pure function called by a test)."""
    if not has_app_context():
        return REAL
    found: Clock = current_app.extensions.get(EXTENSION, REAL)
    return found


def now_ms() -> int:
    """The site's now, Unix milliseconds."""
    return site_clock().now_ms()


def now() -> datetime:
    """The site's now, aware (UTC)."""
    return datetime.fromtimestamp(site_clock().now_s(), UTC)
