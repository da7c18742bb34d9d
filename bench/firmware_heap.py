"""Firmware RAM: the smallest MicroPython heap a node runs in, against the board's budget and,
optionally, against an earlier version of the firmware side by side.

    .venv/bin/python -m bench.firmware_heap [--cycles 20] [--against REF]

For each way the host runs the node, `micropython -X heapsize=Nk firmware/main.py CONFIG` for
`--cycles` cycles with no gateway listening (so the backlog and its packs grow every cycle,
the hardest case for the heap), N stepping by 2 kB; the figure is the smallest N that
completes (exit 3: ran, gateway unreachable; exit 1: MemoryError):
- FieldHAL: what `ruong sim` runs without `host_drivers` (simulated values, outbox, packs,
  COSE, transport); the firmware's budget is 64 kB (tests/firmware runs at 64k);
- host_drivers: the raw-level host HAL + every real driver + BME280; `ruong sim` runs it at
  96k (ruong/sim.py HEAP).
Each is measured at three `state_dir` lengths, since the paths live on the heap too.
`--against REF` measures a git revision of this repository (checked out into a temporary
worktree) in the same run and prints new / old. The unix port is 64-bit: each object is about
twice its size on an ESP32, so the board has more room than these figures suggest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from backend.firmware_src import FIRMWARE_DIR
from ruong.sim import micropython_binary

REPO = FIRMWARE_DIR.parent
BUDGET_K = {"FieldHAL": 64, "host_drivers": 96}
STATE_DIR_PADS = (5, 60, 120)  # characters added to the temp dir's name
SEARCH_K = (48, 140)
EXIT_RAN = 3  # app.EXIT_UNACKED: every cycle ran, the gateway never answered


def _runs(firmware: Path, mode: str, heap_k: int, cycles: int, pad: int) -> bool:
    """True when `cycles` cycles complete at `heap_k` kB."""
    with tempfile.TemporaryDirectory(prefix="h" * pad) as tmp:
        config = Path(tmp) / "config.json"
        settings = {
            "node": "heap-n01",
            "key": "00" * 32,
            "transport": "coap",
            "gateway": "coap://127.0.0.1:9",  # discard port: nothing answers
            "ack_timeout_s": 0.01,
            "max_retransmit": 0,
            "field": "ruong-1",
            "seed": 1,
            "interval_s": 0.01,
            "cycles": cycles,
            "sim_start": 1_782_900_000,
            "sim_step_s": 900,
            "state_dir": str(Path(tmp) / "state"),
            "host_drivers": mode == "host_drivers",
        }
        config.write_text(json.dumps(settings))
        proc = subprocess.run(
            [micropython_binary(), "-X", f"heapsize={heap_k}k", "main.py", str(config)],
            cwd=firmware,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if proc.returncode not in (EXIT_RAN, 1):
        raise RuntimeError(f"{mode} at {heap_k}k exited {proc.returncode}: {proc.stderr[-400:]}")
    return proc.returncode == EXIT_RAN


def smallest_heap_k(firmware: Path, mode: str, cycles: int, pad: int) -> int:
    """The smallest heap (kB, even) at which the node completes `cycles` cycles."""
    for heap_k in range(SEARCH_K[0], SEARCH_K[1] + 1, 2):
        if _runs(firmware, mode, heap_k, cycles, pad):
            return heap_k
    raise RuntimeError(f"{mode} does not complete {cycles} cycles within {SEARCH_K[1]}k")


def measure(firmware: Path, cycles: int) -> dict[str, list[int]]:
    """{mode: [smallest heap in kB at each state_dir length]}."""
    return {
        mode: [smallest_heap_k(firmware, mode, cycles, pad) for pad in STATE_DIR_PADS]
        for mode in BUDGET_K
    }


def _worktree(ref: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), ref],
        check=True,
        capture_output=True,
    )
    return into / "firmware"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.firmware_heap")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--against", metavar="REF", help="a git revision to measure beside")
    args = parser.parse_args(argv)
    now = measure(FIRMWARE_DIR, args.cycles)
    old: dict[str, list[int]] | None = None
    if args.against:
        tmp = Path(tempfile.mkdtemp(prefix="ruong-heap-"))
        try:
            old = measure(_worktree(args.against, tmp / "tree"), args.cycles)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tmp / "tree")],
                check=False,
                capture_output=True,
            )
            shutil.rmtree(tmp, ignore_errors=True)
    pads = "/".join(str(p) for p in STATE_DIR_PADS)
    print(f"smallest heap (kB) for {args.cycles} cycles with a growing backlog, state_dir +{pads}")
    for mode, figures in now.items():
        worst = max(figures)
        line = (
            f"{mode:<13} {'/'.join(map(str, figures)):>10}   budget {BUDGET_K[mode]}k: "
            f"worst / budget = {worst / BUDGET_K[mode]:.2f}"
        )
        if old is not None:
            line += (
                f"   {args.against}: {'/'.join(map(str, old[mode]))}, "
                f"new / old = {worst / max(old[mode]):.2f}"
            )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
