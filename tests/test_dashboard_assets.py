"""The plotly.js the dashboard serves from dashboard/assets (scripts/vendor-plotly.sh): the
partial basic bundle at the Python plotly package's plotly.js version, the Vietnamese locale
with a decimal comma, and the files exactly as the script's pinned sha256 say."""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import importlib.resources
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "dashboard" / "assets"
BUNDLE = ASSETS / "plotly-1-basic.min.js"
LOCALE = ASSETS / "plotly-2-locale-vi.js"
LICENSE = ASSETS / "PLOTLY-LICENSE"
SCRIPT = ROOT / "scripts" / "vendor-plotly.sh"


def python_plotly_js_version() -> str:
    """The plotly.js version the installed Python plotly package ships (its header)."""
    shipped = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    with shipped.open(encoding="utf-8") as f:
        head = f.read(300)
    match = re.search(r"plotly\.js v(\S+)", head)
    assert match, head
    return match.group(1)


def test_the_bundle_is_the_basic_partial_bundle_of_pythons_plotly_js() -> None:
    data = BUNDLE.read_bytes()
    head = data[:300].decode("utf-8")
    version = python_plotly_js_version()
    assert f"* plotly.js (basic - minified) v{version}\n" in head
    assert "Licensed under the MIT license" in head  # the header is kept
    assert len(data) < 1_300_000
    assert len(gzip.compress(data, compresslevel=9)) < 420_000
    # it defines window.Plotly, so Dash never fetches its own full plotly.min.js
    assert data.rstrip().endswith(b"window.Plotly = Plotly;\nreturn Plotly;\n}));")


def test_the_script_pins_the_python_plotly_version() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert (
        re.search(r"^BASIC_VERSION=(\S+)", text, re.MULTILINE).group(1)
        == python_plotly_js_version()
    )


def test_the_licence_text_comes_along() -> None:
    text = LICENSE.read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Plotly" in text and "Permission is hereby granted, free of charge" in text


def test_the_locale_registers_vi_with_a_decimal_comma() -> None:
    text = LOCALE.read_text(encoding="ascii")  # non-ASCII letters are \u escapes
    assert "plotly.js-locales@" in text.splitlines()[1]  # where it came from
    assert re.search(r'"name": "vi"', text)
    fmt = text[text.index('"format": {') :]
    assert re.search(r'"decimal": ","', fmt) and re.search(r'"thousands": "\."', fmt)
    assert "Plotly.register(locale)" in text


# Runs the locale script as a browser would, with and without window.Plotly loaded first.
_RUN = """
const fs = require("fs"), vm = require("vm");
const source = fs.readFileSync(process.argv[1], "utf8");
const registered = [];
const loaded = {window: {Plotly: {register: (l) => registered.push(l)}}};
vm.runInNewContext(source, loaded);
const early = {window: {}};
vm.runInNewContext(source, early);
console.log(JSON.stringify({registered, queued: early.window.PlotlyLocales}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_locale_script_registers_it_in_a_browser_like_context() -> None:
    out = subprocess.run(
        ["node", "-e", _RUN, str(LOCALE)], capture_output=True, text=True, check=True, timeout=30
    )
    result = json.loads(out.stdout)
    (locale,) = result["registered"]
    assert result["queued"] == [locale]  # before plotly.js: queued for it to register
    assert locale["moduleType"] == "locale" and locale["name"] == "vi"
    assert locale["format"]["decimal"] == "," and locale["format"]["thousands"] == "."
    assert locale["format"]["months"][0] == "Tháng Một"
    assert locale["format"]["date"] == "%d/%m/%Y"


def pinned() -> dict[str, str]:
    """name -> sha256 from the script's PINNED block (sha256sum -c lines)."""
    text = SCRIPT.read_text(encoding="utf-8")
    block = re.search(r'^PINNED="\n(.*?)^"', text, re.MULTILINE | re.DOTALL)
    assert block, "no PINNED block in scripts/vendor-plotly.sh"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    pairs = [re.fullmatch(r"([0-9a-f]{64})  (\S+)", line) for line in lines]
    assert all(pairs), lines
    return {m.group(2): m.group(1) for m in pairs if m}


def test_the_assets_are_what_the_script_pins() -> None:
    pins = pinned()
    assert set(pins) == {BUNDLE.name, LOCALE.name, LICENSE.name}
    for name, sha in pins.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == sha, name


def test_dash_loads_the_bundle_before_the_locale_and_the_wheel_carries_them() -> None:
    # Dash adds the assets' scripts in sorted order: plotly.js first, then the locale
    scripts = sorted(p.name for p in ASSETS.glob("*.js"))
    assert scripts.index(BUNDLE.name) < scripts.index(LOCALE.name)
    assert not [s for s in scripts if "plotly" in s and s not in (BUNDLE.name, LOCALE.name)]
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["dashboard"]
    for path in (BUNDLE, LOCALE, LICENSE):
        rel = path.relative_to(ROOT / "dashboard").as_posix()
        assert any(fnmatch.fnmatch(rel, pattern) for pattern in package_data), rel
