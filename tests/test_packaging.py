"""What a wheel of Ruộng carries: every package of the tree, the firmware's sources (the host
tools run and compile them) and the compiled catalogues of words, found where the code looks
for them when there is no source checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_list_names_every_package_of_the_tree() -> None:
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = find_packages(ROOT, include=["ruong*", "gateway*", "backend*", "forecasting*"])
    found += find_packages(ROOT, include=["dashboard*", "hardware*"])
    assert set(listed["packages"]) == set(found) | {"backend.firmware"}
    assert listed["package-dir"] == {"backend.firmware": "firmware"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("ruong-*.whl")
    return path


def test_the_wheel_ships_the_firmware_and_the_compiled_words(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    firmware = {p.name for p in (ROOT / "firmware").glob("*.py")}
    assert {f"backend/firmware/{name}" for name in firmware} <= names
    for lang in ("vi", "en"):
        assert f"backend/locale/{lang}/LC_MESSAGES/ruong.mo" in names


def test_an_installed_wheel_finds_its_firmware_and_words(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    probe = (
        "from backend.firmware_src import FIRMWARE_DIR; from backend import i18n; "
        "print(FIRMWARE_DIR); print(i18n.LOCALE_DIR); print(i18n.t('all_good', 'vi'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    firmware_dir, locale_dir, words = result.stdout.splitlines()
    assert Path(firmware_dir) == tmp_path / "backend" / "firmware"
    assert (Path(firmware_dir) / "main.py").is_file()
    assert Path(locale_dir) == tmp_path / "backend" / "locale"
    assert words == "Không cần làm gì lúc này"
