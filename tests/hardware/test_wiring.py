"""wiring.md names the same pins as the pin-map CSVs, the one source of truth."""

from __future__ import annotations

import re

import pytest

from hardware.pinmap import BOARDS, HERE, REQUIRED_SIGNALS, load_board

WIRING = HERE / "wiring.md"
LABEL = re.compile(r"GPIO(\d+) \((\w+)\)")  # diagram labels: "GPIO34 (soil)"
ROW = re.compile(r"^\| (\w+) \| (\d+) \|", re.MULTILINE)  # table rows: "| soil | 34 |"


def sections() -> dict[str, str]:
    """wiring.md split at its level-2 headings: {heading: text}."""
    parts = re.split(r"^## (.+)$", WIRING.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_board_has_a_section() -> None:
    assert set(BOARDS) <= set(sections())


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_diagram_labels_match_the_csv(board: str) -> None:
    csv_pins = {p.signal: p.gpio for p in load_board(board)}
    labels = LABEL.findall(sections()[board])
    assert {signal for _, signal in labels} == set(csv_pins), "a signal missing in the diagram"
    for gpio, signal in labels:
        assert csv_pins[signal] == int(gpio), f"{board}: diagram says {signal} on GPIO{gpio}"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_pin_table_matches_the_csv(board: str) -> None:
    csv_pins = {p.signal: p.gpio for p in load_board(board)}
    rows = {signal: int(gpio) for signal, gpio in ROW.findall(sections()[board])}
    assert rows == csv_pins


def test_no_board_pin_named_outside_its_board_section() -> None:
    for heading, text in sections().items():
        if heading in BOARDS:
            continue
        stray = [m for m in LABEL.findall(text) if m[1] in REQUIRED_SIGNALS]
        assert not stray, f"section {heading!r} names board pins {stray}"


def test_divider_values_match_the_firmware_default() -> None:
    """470k/470k = ratio 2.0, the firmware's battery_divider default (firmware/config.py)."""
    text = sections()["Power path (both boards)"]
    assert "470k --+-- 470k" in text
    config = (HERE.parent / "firmware" / "config.py").read_text(encoding="utf-8")
    assert '"battery_divider", 2.0' in config
