"""The firmware type-checks against the MicroPython ESP32 port's stubs (PyPI
micropython-esp32-stubs, with micropython-stdlib-stubs as mypy's typeshed), as the board sees
its modules: `machine`, `esp32`, `onewire`, `micropython.const`, `time.ticks_ms` and a
MicroPython `sys`/`os`/`time` rather than CPython's.

mypy only finds stub-only top-level modules through `mypy_path`, and the stubs package installs
them at the top of site-packages beside everything else; so the test links exactly the files the
stubs distribution installed into a temporary directory and points mypy there. Errors inside
the stubs themselves are not ours and are ignored.

The firmware is unannotated (a board compiling main.py from source would pay for every
annotation), so `check_untyped_defs = True` makes mypy check the function bodies too: a socket
that may be None, a module attribute the board does not have. Where the type cannot be
inferred, a `# type:` comment gives it at no cost on the board.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from firmware_helpers import FIRMWARE_DIR


def _stub_tree(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """(mypy_path dir, typeshed dir, stub module names) for the installed stubs."""
    try:
        port = metadata.distribution("micropython-esp32-stubs")
        stdlib = metadata.distribution("micropython-stdlib-stubs")
    except metadata.PackageNotFoundError as exc:
        raise AssertionError(f"{exc.name} missing: pip install -e '.[dev]'") from None
    out = tmp_path / "stubs"
    modules: set[str] = set()
    for dist in (port, stdlib):
        for file in dist.files or ():
            parts = Path(str(file)).parts
            if not str(file).endswith(".pyi") or parts[0] == "stdlib" or parts[0] == "stubs":
                continue  # stdlib/ and stubs/ are the typeshed tree, used in place
            link = out / file
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(file))).resolve())
            modules.add(parts[0].removesuffix(".pyi"))
    typeshed = Path(str(stdlib.locate_file("stdlib"))).parent
    return out, typeshed, sorted(modules)


def test_firmware_typechecks_against_the_esp32_stubs(tmp_path: Path) -> None:
    stubs, typeshed, modules = _stub_tree(tmp_path)
    assert {"machine", "esp32", "onewire", "micropython"} <= set(modules)
    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\n"
        f"mypy_path = {stubs}\n"
        f"custom_typeshed_dir = {typeshed}\n"
        f"cache_dir = {tmp_path / 'cache'}\n"
        "warn_unused_ignores = True\n"
        "check_untyped_defs = True\n"
        f"[mypy-{','.join(m + ',' + m + '.*' for m in modules)}]\n"
        "ignore_errors = True\n"
    )
    sources = sorted(p.name for p in FIRMWARE_DIR.glob("*.py"))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), *sources],
        cwd=FIRMWARE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"no issues found in {len(sources)} source files" in proc.stdout
