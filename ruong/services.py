"""Start the real servers (InfluxDB 1.x, Mosquitto 2; PostgreSQL is ruong/postgres.py) in a
private directory on free ports.

Used by `ruong demo` and by the test fixtures, so both run exactly the programs an operator
installs from Debian (`influxdb`, `mosquitto`). Each `Managed*` owns one child process: it waits
until the server answers and stops exactly what it started.
"""

from __future__ import annotations

import getpass
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from backend.mqtt_auth import DEFAULT_GATEWAY_USER, write_broker_files
from backend.registry import NodeInfo, Registry

INSTALL_HINT = {
    "influxd": "install the Debian package 'influxdb' (sudo apt-get install influxdb), or run 'make test'",
    "mosquitto": "install the Debian package 'mosquitto' (sudo apt-get install mosquitto), or run 'make test'",
    "coap-client-notls": "install the Debian package 'libcoap3-bin' (sudo apt-get install libcoap3-bin)",
    "postgres": "install the Debian package 'postgresql' (sudo apt-get install postgresql), or run 'make test'",
    "initdb": "install the Debian package 'postgresql' (sudo apt-get install postgresql), or run 'make test'",
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
    """A Mosquitto 2 with authentication on (docs/mqtt-broker.md): no anonymous clients, a
    password file and an ACL in `workdir`, written from the gateway account and the nodes it
    was told of (`allow`, `sync`), plus an optional TLS listener.

    `url` is the broker's address with no credentials (what a node's config names: the node
    logs in with its own account); `gateway_url` carries the gateway account, as `[mqtt] url`.
    """

    port: int = 0
    workdir: Path = field(default_factory=Path)
    gateway_user: str = DEFAULT_GATEWAY_USER
    gateway_password: str = field(default="", repr=False)
    tls_port: int | None = None
    nodes: dict[str, NodeInfo] = field(default_factory=dict)  # the nodes with an account

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def gateway_url(self) -> str:
        return self._with_gateway_account(self.url)

    @property
    def tls_url(self) -> str:
        """`mqtts://127.0.0.1:<tls port>`; ServiceError without a TLS listener."""
        if self.tls_port is None:
            raise ServiceError("this mosquitto has no TLS listener (start_mosquitto tls=...)")
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def gateway_tls_url(self) -> str:
        return self._with_gateway_account(self.tls_url)

    def _with_gateway_account(self, url: str) -> str:
        scheme, host = url.split("://")
        return f"{scheme}://{quote(self.gateway_user)}:{quote(self.gateway_password)}@{host}"

    @property
    def passwd_path(self) -> Path:
        return self.workdir / "passwd"

    @property
    def acl_path(self) -> Path:
        return self.workdir / "acl"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_files(self) -> None:
        """The password file and the ACL for the gateway and `nodes` (backend/mqtt_auth.py)."""
        write_broker_files(
            self.passwd_path,
            self.acl_path,
            self.nodes.values(),
            self.gateway_user,
            self.gateway_password,
        )

    def allow(self, nodes: Iterable[NodeInfo]) -> None:
        """Give these nodes their accounts (a revoked one loses its), then reload the broker."""
        for node in nodes:
            self.nodes[node.node] = node
        self.write_files()
        self.reload()

    def sync(self, registry: Registry) -> None:
        """What `ruong mqtt sync` does, then a reload: accounts for exactly the registry's
        nodes (every farm's; revoked ones get none)."""
        self.nodes = {node.node: node for node in registry.nodes()}
        self.write_files()
        self.reload()

    def reload(self, timeout: float = 10.0) -> None:
        """SIGHUP: Mosquitto rereads the password file and the ACL (connected clients stay).
        Returns once it has logged the reload: it reloads in its one loop before serving
        anything else, so a CONNECT sent from now on meets the new files."""
        before = self.log_path.read_text(errors="replace").count(RELOADED)
        self.check_alive()
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for_log(RELOADED, timeout, occurrences=before + 1)

    def start(self, timeout: float = 15.0) -> None:
        """(Re)start with the same config, files and ports; sessions persist in `workdir`."""
        ports = [self.port] + ([self.tls_port] if self.tls_port is not None else [])
        started = _run_mosquitto(self.conf_path, ports, timeout)
        self.proc, self.log_path = started.proc, started.log_path


def _run_mosquitto(conf: Path, ports: list[int], timeout: float) -> ManagedProcess:
    """`mosquitto -c conf`, once it accepts TCP connections on every one of `ports`."""
    binary = require_binary("mosquitto")
    process = spawn("mosquitto", [binary, "-c", str(conf)], conf.parent)
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            process.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    process.stop()
                    raise ServiceError(
                        f"mosquitto did not listen on {port} in {timeout} s:\n{process.log_tail()}"
                    ) from None
                time.sleep(0.05)
    return process


RELOADED = "Reloading config."  # Mosquitto's log line (information) on SIGHUP


def start_mosquitto(
    workdir: Path,
    timeout: float = 15.0,
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
    gateway_password: str | None = None,
) -> MosquittoServer:
    """Run `mosquitto -c <workdir>/mosquitto.conf` on a loopback port; wait for TCP accept.

    Authentication is on (`allow_anonymous false`, `password_file`, `acl_file`): the gateway
    account `ruong-gateway` gets `gateway_password`, by default a new random one per start
    (`secrets.token_urlsafe`); nodes get theirs through `allow` or `sync`. `tls` is
    (certificate chain PEM, private key PEM) for a second listener speaking MQTT over TLS on
    another free port. Sessions persist in `workdir` across a restart (`MosquittoServer.start`).
    `user` is this process's user: started as root, mosquitto would otherwise drop to user
    `mosquitto` and fail to save them. It logs to `<workdir>/mosquitto.log` itself (a log
    file is written line by line; its redirected stdout would be buffered).
    """
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    tls_port = free_port() if tls is not None else None
    gateway_password = gateway_password or secrets.token_urlsafe(24)
    passwd, acl, log_file = workdir / "passwd", workdir / "acl", workdir / "mosquitto.log"
    write_broker_files(passwd, acl, [], DEFAULT_GATEWAY_USER, gateway_password)
    tls_listener = ""
    if tls is not None:
        certfile, keyfile = tls
        tls_listener = (
            f"listener {tls_port} 127.0.0.1\n"
            f"certfile {Path(certfile).resolve()}\n"
            f"keyfile {Path(keyfile).resolve()}\n"
        )
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"""allow_anonymous false
password_file {passwd}
acl_file {acl}
listener {port} 127.0.0.1
{tls_listener}user {getpass.getuser()}
persistence true
persistence_location {workdir}/
log_dest file {log_file}
log_type error
log_type warning
log_type notice
log_type information
max_queued_messages 100000
"""
    )
    ports = [port] + ([tls_port] if tls_port is not None else [])
    started = _run_mosquitto(conf, ports, timeout)
    return MosquittoServer(
        started.name,
        started.proc,
        started.log_path,
        port=port,
        workdir=workdir,
        gateway_password=gateway_password,
        tls_port=tls_port,
    )
