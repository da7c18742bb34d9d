"""`ruong node flash | calibrate | check`: the technician's tools, over a USB cable to the board.

All three talk to MicroPython's raw REPL through mpremote used as a library, one serial session
per command, behind one seam (device.py). What runs on the board for `check` and `calibrate` is
firmware/selftest.py, flashed with the rest: the firmware's own config parser, HAL and drivers,
not a re-implementation on the host.

- device.py: the board (raw REPL, files, on-board sha256, reset); the only user of mpremote
- build.py: the firmware image (mpy-cross, its cache, the manifest, .mpy compatibility)
- flash.py: `flash`: copy, verify, the node's config and gateway address, its first report
- calibrate.py: `calibrate`: the guided dry/wet calibration of the soil probe
- check.py: `check`: the live sensor read and self-test, as a table
- commands.py: the argparse wiring (`add_parsers`) and the command functions
- errors.py: `TechnicianError`, `UsageError` and their exit codes
"""

from __future__ import annotations

from ruong.technician.commands import add_parsers
from ruong.technician.errors import TechnicianError, UsageError

__all__ = ["TechnicianError", "UsageError", "add_parsers"]
