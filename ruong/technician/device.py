"""The board on the USB cable: MicroPython's raw REPL, through mpremote used as a library.

The one seam to mpremote (`mpremote.transport_serial.SerialTransport`): mpremote calls its
library API unstable, so every call into it sits in `Device`, and the rest of the package sees
only `Device`'s methods and this package's errors. One command is one serial session (an ESP32
DevKitC may reset when its port is opened), the raw REPL is entered without a soft reset (an
interrupted node keeps its RTC memory, nothing reruns boot code between steps), and file hashes
are computed by code we send, on the device. The tests run `Device` against the real
MicroPython REPL on a pseudo-terminal (tests/technician_board.py).
"""

from __future__ import annotations

import ast
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import serial
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from ruong.technician.errors import TechnicianError, UsageError

MARK = "RUONG "  # firmware/selftest.py's answer lines: "RUONG {json}"


@dataclass(frozen=True)
class DeviceInfo:
    """What the board's MicroPython says about itself (`sys` on the device)."""

    platform: str  # sys.platform: "esp32" on the board, "linux" for the unix port
    micropython: str  # "1.29.0"
    mpy: int  # sys.implementation._mpy: version | sub-version << 8 | arch << 10

    @property
    def mpy_version(self) -> tuple[int, int]:
        """(version, sub-version) of the .mpy bytecode this board loads."""
        return self.mpy & 0xFF, (self.mpy >> 8) & 3


# Computes sha256 on the device (hashlib, 256-byte reads): one "name hex" line per file,
# "name -" for a missing one. Sent as code, so a damaged firmware cannot vouch for itself.
_HASH_CODE = """\
import hashlib, binascii
def _ruong_hash(names):
    buf = bytearray(256)
    mv = memoryview(buf)
    for name in names:
        try:
            f = open(name, 'rb')
        except OSError:
            print(name, '-')
            continue
        h = hashlib.sha256()
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(mv[:n])
        f.close()
        print(name, binascii.hexlify(h.digest()).decode())
_ruong_hash(%r)
del _ruong_hash
"""


class Device:
    """A MicroPython board on a serial port, held in its raw REPL for the whole session."""

    def __init__(self, transport: SerialTransport, port: str) -> None:
        self.transport = transport
        self.port = port

    @classmethod
    @contextmanager
    def open(cls, port: str) -> Iterator[Device]:
        """Open `port`, interrupt whatever runs (Ctrl-C) and enter the raw REPL; close after."""
        if "://" not in port and not Path(port).exists():
            raise UsageError(
                f"serial port {port} does not exist: is the board plugged in? "
                "(`python -m mpremote devs` lists the ports)"
            )
        try:
            transport = SerialTransport(port, baudrate=115200)
        except (TransportError, serial.SerialException) as exc:
            raise UsageError(f"cannot open {port}: {exc} (in use by another program?)") from None
        device = cls(transport, port)
        try:
            device._interrupt()
            yield device
        finally:
            device.close()

    def _interrupt(self, attempts: int = 10, each_s: float = 1.0) -> None:
        """Ctrl-C whatever runs and enter the raw REPL, without a soft reset; a Ctrl-C that
        lands while the board is still booting is lost, so try a few times."""
        port = self.transport.serial
        port.timeout = 0.5  # so mpremote's reads give up on a silent board (pty or USB)
        try:
            for _ in range(attempts):
                try:
                    with redirect_stdout(io.StringIO()):  # mpremote prints what it got
                        self.transport.enter_raw_repl(soft_reset=False, timeout_overall=each_s)
                    return
                except TransportError:
                    continue
        finally:
            port.timeout = None  # mpremote's raw-paste protocol expects blocking reads
        raise TechnicianError(
            f"no MicroPython REPL answers on {self.port}: if the node is in deep sleep, press "
            "its EN/RST button and run the command again within a few seconds"
        )

    def close(self) -> None:
        """Leave the raw REPL and close the port (quietly, if the board already went away)."""
        try:
            if self.transport.in_raw_repl:
                self.transport.exit_raw_repl()
            self.transport.close()
        except (OSError, serial.SerialException):
            pass  # the board went away (reset of a native-USB board): nothing left to close

    def run(self, code: str, timeout_s: float = 30.0) -> str:
        """Execute `code` on the device; its printed output. TechnicianError on an exception
        there (its last traceback line) or when the device stops answering."""
        try:
            out, err = self.transport.exec_raw(code, timeout=timeout_s)
        except (TransportError, serial.SerialException) as exc:
            raise TechnicianError(f"the board on {self.port} stopped answering: {exc}") from None
        if err:
            lines = err.decode(errors="replace").strip().splitlines()
            raise TechnicianError(f"error on the board: {lines[-1] if lines else '?'}")
        return out.decode(errors="replace")

    def call(self, code: str, timeout_s: float = 30.0) -> dict:
        """Run `code` that prints a `RUONG {json}` line (firmware/selftest.py); that object."""
        for line in self.run(code, timeout_s).splitlines():
            if line.startswith(MARK):
                answer: dict = json.loads(line[len(MARK) :])
                return answer
        raise TechnicianError(f"the board gave no answer to {code.splitlines()[-1]!r}")

    def info(self) -> DeviceInfo:
        """The board's platform, MicroPython version and .mpy version."""
        text = self.run(
            "import sys\nprint(repr((sys.platform, '%d.%d.%d' % sys.implementation.version[:3],"
            " getattr(sys.implementation, '_mpy', 0))))"
        )
        platform, version, mpy = ast.literal_eval(text.strip())
        return DeviceInfo(platform, version, mpy)

    def hashes(self, names: list[str]) -> dict[str, str | None]:
        """sha256 (hex) of each file, computed on the device; None for a missing file."""
        found: dict[str, str | None] = {}
        for line in self.run(_HASH_CODE % (names,), timeout_s=60).splitlines():
            name, _, digest = line.strip().partition(" ")
            if name in names:
                found[name] = None if digest == "-" else digest
        missing = [n for n in names if n not in found]
        if missing:
            raise TechnicianError(f"the board did not hash {', '.join(missing)}")
        return found

    def write(self, name: str, data: bytes) -> None:
        """Write file `name` on the board's filesystem."""
        try:
            self.transport.fs_writefile(name, data, chunk_size=512)
        except (TransportError, OSError) as exc:
            raise TechnicianError(f"writing {name} to the board failed: {exc}") from None

    def write_atomic(self, name: str, data: bytes) -> None:
        """Write `name` through a temporary file and a rename: never half a file."""
        self.write(name + ".tmp", data)
        self.run(f"import os\nos.rename({name + '.tmp'!r}, {name!r})")

    def read_json(self, name: str) -> object | None:
        """A JSON file on the device, None when it is missing or not JSON."""
        try:
            data = self.transport.fs_readfile(name, chunk_size=512)
        except (TransportError, OSError):
            return None
        try:
            parsed: object = json.loads(bytes(data))
        except ValueError:
            return None
        return parsed

    def listdir(self) -> list[str]:
        """Names in the board's root directory."""
        try:
            return [entry.name for entry in self.transport.fs_listdir("")]
        except (TransportError, OSError) as exc:
            raise TechnicianError(f"listing the board's files failed: {exc}") from None

    def remove(self, name: str) -> None:
        """Delete file `name` on the board."""
        self.run(f"import os\nos.remove({name!r})")

    def reset(self) -> None:
        """Hard-reset the board (machine.reset): it boots main.py, the node starts."""
        try:
            self.transport.exec_raw_no_follow("import machine\nmachine.reset()")
        except (TransportError, serial.SerialException) as exc:
            raise TechnicianError(f"resetting the board failed: {exc}") from None
        self.transport.in_raw_repl = False

    def read_output(self, seconds: float) -> str:
        """What the board prints during the next `seconds` ("" if its port went away)."""
        port = self.transport.serial
        deadline = time.monotonic() + seconds
        chunks = bytearray()
        try:
            port.timeout = 0.1
            while time.monotonic() < deadline:
                chunks += port.read(max(1, port.in_waiting))
        except (OSError, serial.SerialException):
            pass  # a native-USB board drops its port while it resets
        return chunks.decode(errors="replace")
