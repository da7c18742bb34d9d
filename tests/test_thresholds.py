"""One definition of each threshold that several parts act on (backend/node_health.py): the
firmware, which cannot import it, must default to the same values, and the host code must
not restate them."""

from __future__ import annotations

import re
from pathlib import Path

from backend.firmware_src import firmware_module
from backend.node_health import AWD_REFLOOD_M, BATTERY_LOW_V
from forecasting.awd import AwdSchedule
from ruong.node_config import REQUIRED_CONFIG

ROOT = Path(__file__).resolve().parents[1]
HOST_PACKAGES = ("backend", "dashboard", "forecasting", "gateway", "hardware", "ruong")


def firmware_duty_defaults() -> dict[str, object]:
    """The duty-cycle settings a node runs with when its config names only the required keys."""
    config = firmware_module("config")
    settings = config.parse_config(REQUIRED_CONFIG)
    return dict(zip(config.DUTY_KEYS, settings["duty"], strict=True))


def test_the_firmware_defaults_to_the_hosts_thresholds() -> None:
    duty = firmware_duty_defaults()
    assert duty["battery_low_v"] == BATTERY_LOW_V
    assert duty["water_level_alert_m"] == AWD_REFLOOD_M


def test_the_awd_schedule_refloods_at_the_shared_threshold() -> None:
    assert AwdSchedule(season_days=120).reflood_level_m == AWD_REFLOOD_M


def test_no_host_module_restates_a_threshold() -> None:
    pattern = re.compile(r"^\s*[A-Z_]+\s*(:\s*float)?\s*=\s*(-0\.15|3\.[45])\b", re.MULTILINE)
    restated = [
        str(path.relative_to(ROOT))
        for package in HOST_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "node_health.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not restated
