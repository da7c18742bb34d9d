"""`ruong node check`: read every sensor on the board through its own firmware and self-test it.

What runs on the board is firmware/selftest.py (flashed with the rest): the firmware's config
parser, HAL and drivers, not a re-implementation on the host. `check` gathers what the board
says and the sha256 of its files; `evaluate` turns that into the table's lines (pure: no board,
no clock); `render` lays them out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.node_health import BATTERY_LOW_V
from backend.quantities import QUANTITIES
from ruong.technician.build import (
    MANIFEST_FILE,
    Build,
    Manifest,
    build_firmware,
    build_id,
    read_manifest,
)
from ruong.technician.device import Device, DeviceInfo
from ruong.technician.errors import TechnicianError

LOW_HEAP_BYTES = 16_000  # less than this free after a full read: the node may run out
CLOCK_SKEW_S = 120.0  # the node's clock vs this computer's (the node sets it by NTP)

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass(frozen=True)
class CheckLine:
    """One row of the check's table."""

    item: str
    status: str  # OK, WARN or FAIL
    value: str
    note: str = ""


def format_value(value: object, unit: str) -> str:
    """`value` with its unit, a float without trailing zeros ("3.71 V", "24.5 Cel")."""
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def evaluate(
    dev: DeviceInfo,
    build: Build,
    manifest: Manifest | None,
    on_device: dict[str, str | None],
    answer: dict,
    now_s: float,
) -> list[CheckLine]:
    """The check's table from what the board said (selftest.check) and the hashes.

    `on_device` is the sha256 of each file as the board computed it (None: missing);
    `now_s` is this computer's time (Unix seconds), against which the board's clock is judged.
    """
    lines = [CheckLine("MicroPython", OK, f"{dev.micropython} on {dev.platform}")]
    lines.append(_firmware_line(build, manifest, on_device))
    if answer["config"] == "ok":
        lines.append(
            CheckLine(
                "config",
                OK,
                f"node {answer['node']}",
                f"{answer['transport']} {answer['gateway']}, every {answer['interval_s']:g} s",
            )
        )
    else:
        lines.append(CheckLine("config", FAIL, "invalid", answer["config"]))
    lines.append(
        CheckLine("soil_cal", OK, json.dumps(answer["soil_cal"]), "dry counts, %, wet counts, %")
    )
    values, flags = answer["values"], answer["flags"]
    for name in answer["reads"]:
        unit = QUANTITIES[name].unit if name in QUANTITIES else ""
        flag = flags.get(name)
        if name in values:
            status, note = OK, ""
            if flag:  # a value with a flag: soil VWC outside the calibrated span
                status, note = WARN, flag
            if name == "battery" and values[name] < BATTERY_LOW_V:
                status, note = WARN, f"low (< {BATTERY_LOW_V} V)"
            lines.append(CheckLine(name, status, format_value(values[name], unit), note))
        elif name == "rssi" and flag == "no_link":
            lines.append(CheckLine(name, WARN, "-", "no_link (Wi-Fi not up during the check)"))
        else:
            lines.append(CheckLine(name, FAIL, "-", flag or "no value"))
    heap = answer["mem_free"]
    lines.append(
        CheckLine(
            "heap free",
            OK if heap >= LOW_HEAP_BYTES else WARN,
            f"{heap} B",
            f"{answer['mem_alloc']} B in use after reading every sensor",
        )
    )
    skew = answer["time_s"] - now_s
    lines.append(
        CheckLine(
            "clock",
            OK if abs(skew) <= CLOCK_SKEW_S else WARN,
            datetime.fromtimestamp(answer["time_s"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            f"{skew:+.0f} s vs this computer"
            + ("" if abs(skew) <= CLOCK_SKEW_S else " (set by NTP once online)"),
        )
    )
    if answer.get("counter") is not None:
        lines.append(
            CheckLine("msg counter", OK, str(answer["counter"]), "uplinks signed since installed")
        )
    return lines


def _firmware_line(
    build: Build, manifest: Manifest | None, on_device: dict[str, str | None]
) -> CheckLine:
    """Is the firmware on the board intact (against its manifest) and current (this build)?"""
    if manifest is None:
        bad = sorted(n for n, h in build.hashes.items() if on_device.get(n) != h)
        if bad:
            return CheckLine(
                "firmware", FAIL, "unknown", f"no {MANIFEST_FILE}; differs: {', '.join(bad)}"
            )
        return CheckLine("firmware", OK, build.build_id, "matches this computer's build")
    recorded = manifest.files
    missing = sorted(n for n in recorded if on_device.get(n) is None)
    damaged = sorted(n for n, h in recorded.items() if on_device.get(n) not in (None, h))
    if missing or damaged:
        why = "; ".join(
            part
            for part in (
                f"changed on the board: {', '.join(damaged)}" if damaged else "",
                f"missing: {', '.join(missing)}" if missing else "",
            )
            if part
        )
        return CheckLine("firmware", FAIL, manifest.build, why + " (flash again)")
    if build_id(recorded) != build.build_id:
        return CheckLine(
            "firmware",
            WARN,
            manifest.build,
            f"intact, but this computer has {build.build_id}: `ruong node flash` updates it",
        )
    return CheckLine(
        "firmware", OK, build.build_id, f"{len(recorded)} files, sha256 verified on the board"
    )


def render(lines: list[CheckLine]) -> str:
    """The table as text: item, status, value, note in aligned columns."""
    width = max(len(line.item) for line in lines)
    vwidth = max(len(line.value) for line in lines)
    out = [f"{'item':<{width}}  {'status':<6}  {'value':<{vwidth}}  note"]
    for line in lines:
        out.append(
            f"{line.item:<{width}}  {line.status:<6}  {line.value:<{vwidth}}  {line.note}".rstrip()
        )
    return "\n".join(out)


def check(port: str, say: Callable[[str], None] = print) -> int:
    """Read every sensor on the board through its firmware and self-test it; print the
    table; 0 when nothing FAILed, 1 otherwise."""
    with Device.open(port) as device:
        dev = device.info()
        build = build_firmware(dev.platform)
        manifest = read_manifest(device)
        names = sorted(set(build.files) | set(manifest.files if manifest else ()))
        on_device = device.hashes(names)
        if on_device.get("selftest.mpy") is None:
            raise TechnicianError(
                f"the board on {port} has no Ruộng firmware: run `ruong node flash --port {port} NODE`"
            )
        answer = device.call("import selftest\nselftest.check()", 60)
    lines = evaluate(dev, build, manifest, on_device, answer, time.time())
    say(f"ruong node check {port}")
    say(render(lines))
    failed = [line.item for line in lines if line.status == FAIL]
    if failed:
        say(f"FAIL: {', '.join(failed)}")
        return 1
    return 0
