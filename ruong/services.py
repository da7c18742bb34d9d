"""Start the real servers (InfluxDB 1.x, Mosquitto 2) in a private directory on free ports.

Used by `ruong demo` and by the test fixtures, so both run exactly the programs an operator
installs from Debian (`influxdb`, `mosquitto`). Each `Managed*` owns one child process: it waits
until the server answers and stops exactly what it started.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

INSTALL_HINT = {
    "influxd": "install the Debian package 'influxdb' (sudo apt-get install influxdb), or run 'make test'",
    "mosquitto": "install the Debian package 'mosquitto' (sudo apt-get install mosquitto), or run 'make test'",
    "coap-client-notls": "install the Debian package 'libcoap3-bin' (sudo apt-get install libcoap3-bin)",
}


class ServiceError(RuntimeError):
    """A server could not be found or did not come up."""


def find_binary(name: str) -> str | None:
    """Absolute path of `name` on PATH or in /usr/sbin (where Debian puts mosquitto), or None."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def require_binary(name: str) -> str:
    """Absolute path of `name` (see find_binary), else ServiceError with the install hint."""
    path = find_binary(name)
    if path is None:
        raise ServiceError(f"'{name}' not found: {INSTALL_HINT.get(name, 'install it')}")
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that is free right now (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ManagedProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ServiceError(
                f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def wait_for_log(self, text: str, timeout: float, occurrences: int = 1) -> None:
        """Wait until `text` is in the log `occurrences` times (logs append across restarts).

        Raises ServiceError when the process exits or the time runs out first.
        """
        deadline = time.monotonic() + timeout
        while self.log_path.read_text(errors="replace").count(text) < occurrences:
            self.check_alive()
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{self.name}: no {text!r} after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)


def spawn(name: str, argv: list[str], workdir: Path, cwd: Path | None = None) -> ManagedProcess:
    """Start `argv` with stdout and stderr going to `<workdir>/<name>.log`."""
    log_path = workdir / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child; a restart appends
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd or workdir)
    log.close()
    return ManagedProcess(name, proc, log_path)


@dataclass
class InfluxServer(ManagedProcess):
    port: int = 0
    database: str = "ruong"

    @property
    def url(self) -> str:
        """The store URL the rest of Ruộng takes (`influxdb://host:port/db`)."""
        return f"influxdb://127.0.0.1:{self.port}/{self.database}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_influxd(
    workdir: Path, database: str = "ruong", timeout: float = 30.0, port: int | None = None
) -> InfluxServer:
    """Run `influxd -config <workdir>/influxdb.conf` on a loopback port; wait for /ping.

    `port` (default: a free one) lets a test restart the server where its clients expect it.
    """
    binary = require_binary("influxd")
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, rpc_port = port or free_port(), free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""
    )
    base = spawn("influxd", [binary, "-config", str(conf)], workdir)
    server = InfluxServer(base.name, base.proc, base.log_path, port=http_port, database=database)
    deadline = time.monotonic() + timeout
    while True:
        server.check_alive()
        try:
            if httpx.get(f"{server.http}/ping", timeout=1.0).status_code == 204:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise ServiceError(f"influxd did not answer /ping in {timeout} s:\n{server.log_tail()}")
        time.sleep(0.1)
    return server


@dataclass
class MosquittoServer(ManagedProcess):
    port: int = 0

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


def start_mosquitto(
    workdir: Path, timeout: float = 15.0, port: int | None = None
) -> MosquittoServer:
    """Run `mosquitto -c <workdir>/mosquitto.conf` on a loopback port; wait for TCP accept.

    Sessions persist in `workdir` across a restart. `user` is this process's user: started as
    root, mosquitto would otherwise drop to user `mosquitto` and fail to save them.
    """
    binary = require_binary("mosquitto")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"""listener {port} 127.0.0.1
user {getpass.getuser()}
allow_anonymous true
persistence true
persistence_location {workdir}/
log_dest stdout
log_type error
log_type warning
log_type notice
max_queued_messages 100000
"""
    )
    base = spawn("mosquitto", [binary, "-c", str(conf)], workdir)
    server = MosquittoServer(base.name, base.proc, base.log_path, port=port)
    deadline = time.monotonic() + timeout
    while True:
        server.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise ServiceError(
                    f"mosquitto did not listen in {timeout} s:\n{server.log_tail()}"
                ) from None
            time.sleep(0.05)
    return server
