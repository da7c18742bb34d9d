"""Pin map: hardware/pins/<board>.csv -> checked against the chip's rules -> the firmware's
`board_pins.py` (one source of truth for which GPIO does what).

    python -m hardware.pinmap                      # regenerate firmware/board_pins.py
    python -m hardware.pinmap esp32-c3-devkitm --out DEPLOY_DIR/board_pins.py
    python -m hardware.pinmap --check              # exit 1 when the file is stale

The generated module holds every board's pins; BOARD (default esp32-devkitc) names the one
the firmware uses (`board_pins.PINS`). Chip rules come from Espressif's documentation: the
ESP32 and ESP32-C3 datasheets (pin lists, strapping pins), the ESP-IDF GPIO and ADC
reference pages (ADC2 unusable while Wi-Fi runs on the ESP32; ADC2 unreliable on the C3 per
its errata), and the ESP-IDF sleep-modes page (which pins can wake the chip).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINS_DIR = HERE / "pins"
FIRMWARE_MODULE = HERE.parent / "firmware" / "board_pins.py"
DEFAULT_BOARD = "esp32-devkitc"

# Every signal the firmware's HAL (firmware/hal_esp32.py) asks for by name.
REQUIRED_SIGNALS = (
    "soil",
    "leaf",
    "battery",
    "level_trig",
    "level_echo",
    "rain",
    "onewire",
    "sda",
    "scl",
    "sensor_power",
)
# adc: analog input; in: digital input; in_wake: digital input that must wake the chip from
# deep sleep; out: digital output; io: bidirectional (I2C, 1-Wire open drain)
DIRECTIONS = ("adc", "in", "in_wake", "out", "io")
_COLUMNS = ("signal", "gpio", "direction", "function", "note")


class PinMapError(ValueError):
    """A pin map that cannot be read, or that breaks a rule of its chip."""


@dataclass(frozen=True)
class Chip:
    """What a chip allows on each GPIO (GPIO numbers)."""

    name: str
    gpios: frozenset[int]
    flash: frozenset[int]  # wired to the SPI flash / PSRAM: never usable
    console: frozenset[int]  # UART0: the REPL and the flashing link
    input_only: frozenset[int]
    strapping: frozenset[int]  # sampled at reset: an input there can change the boot mode
    adc1: frozenset[int]
    wake: frozenset[int]  # can wake the chip from deep sleep


def _span(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


CHIPS: dict[str, Chip] = {
    # ESP32 datasheet "Pin Description" + ESP-IDF GPIO page: GPIO20/24/28-31 do not exist;
    # 6-11 are the module's SPI flash, 16/17 its PSRAM on WROVER modules (kept free so one
    # map serves both); 34-39 are input-only; strapping MTDI(12), GPIO0, GPIO2, MTDO(15),
    # GPIO5; RTC GPIOs (ext0/ext1 wake) 0, 2, 4, 12-15, 25-27, 32-39.
    "esp32": Chip(
        name="esp32",
        gpios=_span(0, 19) | {21, 22, 23, 25, 26, 27} | _span(32, 39),
        flash=_span(6, 11) | {16, 17},
        console=frozenset({1, 3}),
        input_only=_span(34, 39),
        strapping=frozenset({0, 2, 5, 12, 15}),
        adc1=_span(32, 39),
        wake=frozenset({0, 2, 4, 12, 13, 14, 15, 25, 26, 27}) | _span(32, 39),
    ),
    # ESP32-C3 datasheet: GPIO0-21; 11-17 VDD_SPI / SPI flash; strapping GPIO2, GPIO8, GPIO9;
    # ADC1 on GPIO0-4 (ADC2 on GPIO5 is unreliable, errata); deep-sleep GPIO wake on GPIO0-5
    # (the C3 has no ext0/ext1); UART0 on GPIO20/21.
    "esp32c3": Chip(
        name="esp32c3",
        gpios=_span(0, 21),
        flash=_span(11, 17),
        console=frozenset({20, 21}),
        input_only=frozenset(),
        strapping=frozenset({2, 8, 9}),
        adc1=_span(0, 4),
        wake=_span(0, 5),
    ),
}
BOARDS: dict[str, str] = {"esp32-devkitc": "esp32", "esp32-c3-devkitm": "esp32c3"}


@dataclass(frozen=True)
class Pin:
    """One row of a pin map: `signal` (the HAL's channel name) on GPIO `gpio`."""

    signal: str
    gpio: int
    direction: str
    function: str
    note: str


def parse_pins(text: str, source: str = "<csv>") -> list[Pin]:
    """Rows of a pin-map CSV (header signal,gpio,direction,function,note) -> pins."""
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise PinMapError(f"{source}: header must be {','.join(_COLUMNS)}")
    pins = []
    for line, row in enumerate(reader, start=2):
        gpio_text = (row["gpio"] or "").strip()
        if not gpio_text.isdigit():
            raise PinMapError(f"{source}:{line}: gpio {gpio_text!r} is not a number")
        direction = (row["direction"] or "").strip()
        if direction not in DIRECTIONS:
            raise PinMapError(f"{source}:{line}: direction {direction!r} not in {DIRECTIONS}")
        pins.append(
            Pin(
                signal=(row["signal"] or "").strip(),
                gpio=int(gpio_text),
                direction=direction,
                function=(row["function"] or "").strip(),
                note=(row["note"] or "").strip(),
            )
        )
    return pins


def load_board(board: str, pins_dir: Path = PINS_DIR) -> list[Pin]:
    """The pin map of `board` from `pins_dir/<board>.csv`."""
    if board not in BOARDS:
        raise PinMapError(f"unknown board {board!r} (known: {', '.join(sorted(BOARDS))})")
    path = pins_dir / (board + ".csv")
    return parse_pins(path.read_text(encoding="utf-8"), str(path))


def validate(chip: Chip, pins: Sequence[Pin]) -> list[str]:
    """Every rule of `chip` that `pins` break, as readable sentences (empty: valid)."""
    problems = []
    seen_gpio: dict[int, str] = {}
    seen_signal: set[str] = set()
    for pin in pins:
        where = f"{pin.signal} on GPIO{pin.gpio}"
        if pin.signal in seen_signal:
            problems.append(f"{pin.signal}: signal listed twice")
        seen_signal.add(pin.signal)
        if pin.gpio in seen_gpio:
            problems.append(f"{where}: GPIO already used by {seen_gpio[pin.gpio]}")
        seen_gpio[pin.gpio] = pin.signal
        if pin.gpio not in chip.gpios:
            problems.append(f"{where}: {chip.name} has no such GPIO")
        if pin.gpio in chip.flash:
            problems.append(f"{where}: wired to the SPI flash/PSRAM")
        if pin.gpio in chip.console:
            problems.append(f"{where}: UART0 (REPL and flashing)")
        if pin.direction == "adc" and pin.gpio not in chip.adc1:
            problems.append(f"{where}: analog input not on ADC1")
        if pin.direction in ("out", "io") and pin.gpio in chip.input_only:
            problems.append(f"{where}: driven, but the pin is input-only")
        if pin.direction == "in_wake" and pin.gpio not in chip.wake:
            problems.append(f"{where}: cannot wake the chip from deep sleep")
        if pin.gpio in chip.strapping:
            if pin.direction != "out":
                problems.append(f"{where}: input on a strapping pin can change the boot mode")
            elif "strapping" not in pin.note.lower():
                problems.append(
                    f"{where}: output on a strapping pin needs a note on its boot level"
                )
    missing = [s for s in REQUIRED_SIGNALS if s not in seen_signal]
    if missing:
        problems.append(f"missing signals the firmware needs: {', '.join(missing)}")
    return problems


def render_module(boards: Mapping[str, Sequence[Pin]], default: str) -> str:
    """The firmware module's source: BOARDS {board: {signal: GPIO}}, CHIPS {board: chip},
    and DEFAULT / PINS / CHIP for the board the firmware runs on. Plain dicts of ints and
    strings, so it compiles with mpy-cross and costs a few hundred bytes of RAM."""
    if default not in boards:
        raise PinMapError(f"default board {default!r} not among {sorted(boards)}")
    lines = [
        '"""Pin numbers per board. GENERATED from hardware/pins/*.csv by',
        "`python -m hardware.pinmap`: edit the CSV and regenerate, never this file",
        '(tests/hardware checks that it is current)."""',
        "",
        "BOARDS = {",
    ]
    for board in sorted(boards):
        lines.append(f'    "{board}": {{')
        for pin in boards[board]:
            lines.append(f'        "{pin.signal}": {pin.gpio},  # {pin.function}')
        lines.append("    },")
    lines.append("}")
    lines.append("CHIPS = {")
    for board in sorted(boards):
        lines.append(f'    "{board}": "{BOARDS[board]}",')
    lines.append("}")
    lines.append(f'DEFAULT = "{default}"')
    lines.append("PINS = BOARDS[DEFAULT]")
    lines.append("CHIP = CHIPS[DEFAULT]")
    return "\n".join(lines) + "\n"


def generate(default: str = DEFAULT_BOARD, pins_dir: Path = PINS_DIR) -> str:
    """Load and validate every board's CSV; the firmware module's source. Raises
    PinMapError naming every broken rule."""
    boards = {board: load_board(board, pins_dir) for board in BOARDS}
    problems = [
        f"{board}: {problem}"
        for board, pins in boards.items()
        for problem in validate(CHIPS[BOARDS[board]], pins)
    ]
    if problems:
        raise PinMapError("; ".join(problems))
    return render_module(boards, default)


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the firmware's board_pins.py. Exit 0 done / current,
    1 stale (--check), 2 a pin map breaks its chip's rules."""
    parser = argparse.ArgumentParser(
        prog="python -m hardware.pinmap", description=__doc__.split("\n")[0]
    )
    parser.add_argument("board", nargs="?", default=DEFAULT_BOARD, choices=sorted(BOARDS))
    parser.add_argument("--out", type=Path, default=FIRMWARE_MODULE, help="module to write")
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 if stale")
    args = parser.parse_args(argv)
    try:
        source = generate(args.board)
    except PinMapError as exc:
        print(f"pin map error: {exc}", file=sys.stderr)
        return 2
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != source:
            print(f"{args.out} is stale: run python -m hardware.pinmap {args.board}")
            return 1
        print(f"{args.out} is current")
        return 0
    if current != source:
        args.out.write_text(source, encoding="utf-8")
    print(f"wrote {args.out} (default board {args.board})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
