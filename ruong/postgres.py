"""PostgreSQL for the registry's tests on the database a province runs (backend/db.py):
Debian's server binaries in a private directory on a free loopback port, stopped by whoever
started it, as ruong/services.py does for InfluxDB and Mosquitto."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ruong.services import (
    INSTALL_HINT,
    ManagedProcess,
    ServiceError,
    free_port,
    require_binary,
    spawn,
)

if TYPE_CHECKING:  # psycopg is imported where a server is started: not at `ruong` start
    import psycopg

# PostgreSQL, for the registry's tests on the database a province runs (backend/db.py)

POSTGRES_ROLE = "ruong"
_DEBIAN_POSTGRES = Path("/usr/lib/postgresql")


def postgres_bindir() -> Path:
    """The bin dir of the newest PostgreSQL server: Debian's /usr/lib/postgresql/<major>/bin
    (several majors can be installed side by side), else the one of `postgres` on PATH."""
    majors = [
        bindir
        for bindir in _DEBIAN_POSTGRES.glob("*/bin")
        if bindir.parent.name.replace(".", "").isdigit() and (bindir / "postgres").is_file()
    ]
    if majors:
        return max(majors, key=lambda b: tuple(int(p) for p in b.parent.name.split(".")))
    return Path(require_binary("postgres")).resolve().parent


def _postgres_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The argv prefix that runs a PostgreSQL program, and the user it runs as (None: us).

    PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server run as
    the `postgres` system user Debian's package creates. `setpriv` execs the program in
    place, so the process we wait on and signal is the server itself, not a wrapper.
    """
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(
            "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as: "
            + INSTALL_HINT["postgres"]
        ) from None
    setpriv = require_binary("setpriv")
    ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    return [setpriv, *ids, "--"], user


@dataclass
class PostgresServer(ManagedProcess):
    """A PostgreSQL server of our own; `home` (data dir, socket dir) goes away with stop()."""

    port: int = 0
    password: str = ""
    home: Path = Path()

    def database_url(self, database: str) -> str:
        """The registry URL of `database` (TCP, the test role with its password)."""
        return f"postgresql://{POSTGRES_ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The URL of the maintenance database `postgres`."""
        return self.database_url("postgres")

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A psycopg connection (autocommit) to `database`, as the test role."""
        import psycopg  # only the tests and their fixtures start a server: not at `ruong` start

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=POSTGRES_ROLE,
            password=self.password,
            dbname=database,
            connect_timeout=2,
            autocommit=True,
        )

    def new_database(self) -> str:
        """A new, empty database; its URL. They all go when the server stops."""
        name = f"ruong_{uuid.uuid4().hex[:12]}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGINT: ends the sessions still open, where SIGTERM's smart shutdown
        would wait for them), then remove the data dir."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        shutil.rmtree(self.home, ignore_errors=True)


def start_postgres(workdir: Path, timeout: float = 30.0, port: int | None = None) -> PostgresServer:
    """initdb a fresh cluster and run `postgres` on a loopback port; wait until it accepts
    connections. The log is `<workdir>/postgres.log`.

    The cluster (data dir and Unix socket dir) is in a new directory under the system's temp
    dir, not in `workdir`: run as the `postgres` user, the server cannot enter pytest's 0700
    dirs of root, and a socket path must stay under 108 bytes. Role `ruong` is the superuser,
    with a random password over TCP (the way a registry URL carries one); fsync is off: a
    test's data does not need to survive a power cut.
    """
    import psycopg

    bindir = postgres_bindir()
    initdb = bindir / "initdb"
    if not initdb.is_file():
        raise ServiceError(f"'initdb' not found in {bindir}: {INSTALL_HINT['initdb']}")
    prefix, user = _postgres_user()
    workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="ruong-pg-"))
    try:
        data, sockets, pwfile = home / "data", home / "sockets", home / "pwfile"
        sockets.mkdir()
        password = secrets.token_urlsafe(16)
        pwfile.write_text(password + "\n")
        if user is not None:
            for path in (home, sockets, pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        result = subprocess.run(
            [
                *prefix,
                str(initdb),
                f"--pgdata={data}",
                f"--username={POSTGRES_ROLE}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise ServiceError(f"initdb failed ({result.returncode}):\n{result.stderr.strip()}")
        port = port or free_port()
        argv = [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        base = spawn("postgres", argv, workdir, cwd=home)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    server = PostgresServer(
        base.name, base.proc, base.log_path, port=port, password=password, home=home
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.check_alive()
            with server.connect():
                break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise ServiceError(
                    f"postgres did not accept connections in {timeout} s:\n{server.log_tail()}"
                ) from None
            time.sleep(0.1)
        except ServiceError:
            server.stop()
            raise
    return server
