"""The project's packages (ruong, backend, gateway, dashboard, forecasting, hardware) pass mypy.

mypy runs as a developer would from the project root, so it reads `[tool.mypy]` in
pyproject.toml: Python 3.11, and `ignore_missing_imports` only for the named third-party
libraries that ship no type information. pandas is checked against pandas-stubs (a dev
dependency). A type error (a wrong argument, an attribute a value may not have, a name
shadowed by a dataclass field) then fails CI instead of waiting for a run to reach it.

The firmware is not part of this check: it runs under MicroPython and type-checks against the
ESP32 port's stubs in tests/firmware/test_typecheck.py. tests/ and bench/ are not checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ruong", "backend", "gateway", "dashboard", "forecasting", "hardware")


@pytest.mark.timeout(600)  # a cold mypy run over pandas-stubs takes ~45 s here
def test_project_packages_typecheck(tmp_path: Path) -> None:
    args = [arg for package in PACKAGES for arg in ("-p", package)]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
