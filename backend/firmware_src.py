"""The firmware's source tree, and its pure modules loaded into CPython.

The firmware is MicroPython, not a package of this project; the host tools load the few of
its modules that are plain Python (config validation, the mpy-cross step) from their files,
so the node and the tools share one implementation.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType


def _firmware_dir() -> Path:
    """firmware/ of the source checkout, else the copy a wheel ships as backend/firmware
    (pyproject.toml [tool.setuptools] package-dir)."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / "firmware"
    return checkout if (checkout / "main.py").is_file() else here / "firmware"


FIRMWARE_DIR = _firmware_dir()


def import_firmware(name: str) -> ModuleType:
    """firmware/<name>.py imported under its own name, with firmware/ appended to sys.path
    (appended: never shadows an installed package) so that its own imports (`import cbor`)
    resolve to the firmware's, as on the board. RuntimeError when an installed module of that
    name shadows the firmware's."""
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.append(str(FIRMWARE_DIR))
    module = importlib.import_module(name)
    if Path(str(module.__file__)).parent != FIRMWARE_DIR:
        raise RuntimeError(f"{name} shadowed by {module.__file__}")
    return module


@cache
def firmware_module(name: str) -> ModuleType:
    """firmware/<name>.py as a module (named `ruong_firmware_<name>`, so it shadows nothing)."""
    spec = importlib.util.spec_from_file_location(
        f"ruong_firmware_{name}", FIRMWARE_DIR / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
