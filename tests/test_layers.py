"""The layers (docs/architecture.md "Layers"): `ruong` -> {gateway, dashboard, forecasting,
hardware} -> `backend`, kept by the import-linter contracts in pyproject.toml; an import the
wrong way fails them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ruong", "gateway", "dashboard", "forecasting", "hardware", "backend")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages under `root`, with the project's contracts."""
    binary = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(binary), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # the caller asserts on the exit status
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's packages (sources only), to break on purpose."""
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    return root


def test_the_project_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("backend/config.py", "import ruong.cli", "ruong -> {gateway"),
        ("backend/registry.py", "import dashboard.data", "ruong -> {gateway"),
        ("forecasting/awd.py", "import gateway.uplink", "import nothing of each other"),
        ("hardware/power.py", "import forecasting.et0", "import nothing of each other"),
        ("dashboard/data.py", "import ruong.fleet", "ruong -> {gateway"),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(
    tree: Path, module: str, wrong_import: str, contract: str
) -> None:
    path = tree / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{wrong_import}  # the wrong way, on purpose\n")
    try:
        result = lint_imports(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout
