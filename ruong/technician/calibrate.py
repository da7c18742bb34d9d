"""`ruong node calibrate`: the guided two-point (dry, wet) calibration of a node's soil probe.

The technician holds the probe in a dry then a wet medium; each time the board reads its raw
ADC counts through the firmware (firmware/selftest.py `soil_counts`). Implausible points are
refused with the reason in the technician's words, Vietnamese and English; a good pair is saved
to the board's config file and the registry, so the next `ruong node flash` keeps it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.registry import Registry, SoilCalibration
from ruong.technician.device import Device
from ruong.technician.errors import TechnicianError, UsageError
from ruong.technician.flash import CONFIG_FILE, live_node

# Plausibility, for the ESP32's 12-bit ADC at 11 dB and a capacitive v1.2 probe: dry air reads
# ~2700-3300 counts, water ~1200-1500; the ADC's own noise is a few counts.
MIN_SPAN_COUNTS = 300  # dry - wet below this: the probe did not see the water
MAX_SD_COUNTS = 30.0  # a steady probe varies less than this between readings

Ask = Callable[[str], str]  # shows a prompt, returns the answer; EOFError when stdin closed


@dataclass(frozen=True)
class ProbeReading:
    """One calibration point: the probe's ADC counts (median, sd) over n readings."""

    median: float
    sd: float
    n: int


PROMPTS = (
    (
        "Bước 1/2: lau khô đầu dò, giữ trong không khí khô (hoặc đất khô), rồi nhấn Enter.\n"
        "Step 1/2: wipe the probe dry, hold it in dry air (or dry soil), then press Enter. "
    ),
    (
        "Bước 2/2: nhúng đầu dò vào nước (hoặc đất bão hòa) đến vạch, rồi nhấn Enter.\n"
        "Step 2/2: put the probe in water (or saturated soil) up to its line, then press Enter. "
    ),
)


def probe_reading(answer: dict, what: str) -> ProbeReading:
    """Judge one point's raw counts (selftest.soil_counts); UsageError when unusable."""
    counts = [float(c) for c in answer["counts"]]
    if answer.get("open"):
        raise UsageError(
            f"{what}: {answer['open']} of {len(counts)} readings sit at the ADC rail: the probe "
            "is unplugged or its cable is broken / đầu dò chưa cắm hoặc đứt dây"
        )
    reading = ProbeReading(statistics.median(counts), statistics.pstdev(counts), len(counts))
    if reading.sd > MAX_SD_COUNTS:
        raise UsageError(
            f"{what}: readings vary by +/-{reading.sd:.0f} counts (limit {MAX_SD_COUNTS:.0f}): hold "
            "the probe still, check its cable, and calibrate again / giữ yên đầu dò rồi làm lại"
        )
    return reading


def soil_cal_from(
    dry: ProbeReading, wet: ProbeReading, dry_vwc: float, wet_vwc: float
) -> list[float]:
    """[dry counts, dry %, wet counts, wet %] from two points; UsageError when implausible
    (a capacitive probe reads fewer counts the wetter it is)."""
    if wet.median > dry.median:
        raise UsageError(
            f"wet reads more counts ({wet.median:.0f}) than dry ({dry.median:.0f}): were the "
            "steps swapped? calibrate again / khô và ướt bị đảo ngược, làm lại"
        )
    if dry.median - wet.median < MIN_SPAN_COUNTS:
        raise UsageError(
            f"wet ({wet.median:.0f} counts) is almost dry ({dry.median:.0f}): less than "
            f"{MIN_SPAN_COUNTS} counts apart, so the probe did not see the water; immerse it to "
            "its line and calibrate again / đầu dò chưa ngập nước, làm lại"
        )
    return [round(dry.median), dry_vwc, round(wet.median), wet_vwc]


def calibrate(
    registry: Registry,
    port: str,
    node_id: str,
    samples: int = 20,
    dry_vwc: float = 0.0,
    wet_vwc: float = 100.0,
    yes: bool = False,
    ask: Ask = input,
    say: Callable[[str], None] = print,
) -> SoilCalibration:
    """Guided two-point calibration of the soil probe of node `node_id` on `port`: read the
    raw ADC `samples` times in the dry and in the wet medium (`dry_vwc`, `wet_vwc` in %),
    refuse implausible results, save soil_cal to the board's config file and the registry."""
    info = live_node(registry, node_id)
    if not 0 <= dry_vwc < wet_vwc <= 100:
        raise UsageError(
            f"need 0 <= --dry-percent < --wet-percent <= 100, got {dry_vwc}, {wet_vwc}"
        )
    if not 5 <= samples <= 500:
        raise UsageError(f"--samples must be 5..500, got {samples}")
    with Device.open(port) as device:
        config = device.read_json(CONFIG_FILE)
        on_board = config.get("node") if isinstance(config, dict) else None
        if on_board != info.node:
            raise UsageError(
                f"the board on {port} is "
                + (f"node {on_board}" if on_board else "not flashed")
                + f", not {info.node}: run `ruong node flash --port {port} {info.node}` first"
            )
        readings = []
        for prompt, what in zip(PROMPTS, ("dry", "wet"), strict=True):
            try:
                ask(prompt)
            except EOFError:
                raise UsageError("stdin closed before the calibration finished") from None
            answer = device.call(f"import selftest\nselftest.soil_counts({samples})", 60)
            reading = probe_reading(answer, what)
            say(f"  {what}: {reading.median:.0f} counts (+/-{reading.sd:.1f}, n={reading.n})")
            readings.append(reading)
        cal = soil_cal_from(readings[0], readings[1], dry_vwc, wet_vwc)
        say(f"soil_cal = {json.dumps(cal)}  [dry counts, dry %, wet counts, wet %]")
        if not yes:
            try:
                answer_text = ask("Lưu? / Save to the board and the registry? [Y/n] ")
            except EOFError:
                answer_text = "n"
            if answer_text.strip().lower() not in ("", "y", "yes", "c", "có", "co"):
                raise UsageError("not saved: nothing changed on the board or in the registry")
        saved = device.call(f"import selftest\nselftest.save_soil_cal({json.dumps(cal)})")
        if "error" in saved:
            raise TechnicianError(f"the board refused the calibration: {saved['error']}")
    result = SoilCalibration(
        node=info.node,
        dry_counts=cal[0],
        dry_vwc=dry_vwc,
        wet_counts=cal[2],
        wet_vwc=wet_vwc,
        dry_sd=readings[0].sd,
        wet_sd=readings[1].sd,
        measured_at=datetime.now(UTC),
    )
    registry.save_calibration(result)
    say(
        f"saved to the board's {CONFIG_FILE} and the registry; the node uses it from its next sample"
    )
    remote = registry.config(node_id)
    if remote is not None and "soil_cal" in remote.settings:
        # the remote config is laid over config.json on the node: it must carry the new one too
        newer = registry.set_config(node_id, {**remote.settings, "soil_cal": result.soil_cal})
        say(
            f"its remote config also set soil_cal: now version {newer.version} with the new "
            "calibration, sent with the node's next report"
        )
    return result
