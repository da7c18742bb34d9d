"""On-device side of the technician's tools, called over the serial REPL by
`ruong node check` and `ruong node calibrate` (ruong/technician/):

    import selftest; selftest.check()              every sensor through the real drivers
    import selftest; selftest.soil_counts(20)      raw soil-probe ADC counts (calibration)
    import selftest; selftest.save_soil_cal([...]) soil_cal into the config file

Each prints one line `RUONG {json}`, so the host can tell the answer from anything else the
board prints. Nothing here sends an uplink or consumes the rain gauge's tip count.
"""

import gc
import json
import os
import sys

import app
import config
import drivers
from compat import write_json

MARK = "RUONG "
# Settings to read the sensors with when the config file is missing or invalid: the check
# still shows every sensor, and says the config is bad. Never used to send anything.
_UNCONFIGURED = {
    "node": "unconfigured",
    "key": "00" * 32,
    "transport": "coap",
    "gateway": "coap://127.0.0.1",
    "field": "check",
    "interval_s": 900,
    "cycles": 1,
    "state_dir": "state",
}


def _emit(obj):
    print(MARK + json.dumps(obj))


def _settings(path):
    """(settings, None) from the config file, or (placeholder settings, why it is bad)."""
    try:
        return config.load_config(path), None
    except config.ConfigError as exc:
        return config.parse_config(_UNCONFIGURED), str(exc)


class _Peek:
    """The board HAL, except that the rain count is read without being zeroed: the tips
    belong to the node's next sample, not to the check."""

    def __init__(self, board):
        self.board = board

    def __getattr__(self, name):
        return getattr(self.board, name)

    def pulses_take(self, channel):
        return self.board.pulses_peek(channel)


def _board(settings):
    """This board's HAL; on the host always the raw-level one, so the real drivers run."""
    import hal

    try:
        os.mkdir(settings["state_dir"])
    except OSError:
        pass  # exists
    if sys.platform != "esp32":
        settings["host_drivers"] = True
    return hal.for_this_board(settings)


def _counter(state_dir):
    try:
        with open(state_dir + "/counter") as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def _fs_free():
    """Free bytes on the filesystem holding the firmware, None where the port cannot say."""
    try:
        st = os.statvfs(".")
    except (AttributeError, OSError):
        return None
    return st[0] * st[4]


def check(path=app.CONFIG_FILE):
    """Read every sensor of the reference node once; emit values, flags and board health."""
    settings, error = _settings(path)
    board = _board(settings)
    import bme280
    import senml

    sensors = app.make_sensors(drivers, bme280, settings.get("kind", "paddy"))
    values, flags = drivers.read_all(_Peek(board), settings, sensors, senml.QUANTITIES)
    reads = []
    for names, _driver in sensors:
        reads.extend(names)
    gc.collect()
    _emit(
        {
            "platform": sys.platform,
            "micropython": "%d.%d.%d" % sys.implementation.version[:3],
            "mpy": getattr(sys.implementation, "_mpy", 0),
            "config": error or "ok",
            "node": None if error else settings["node"],
            "transport": settings["transport"],
            "gateway": "%s:%d" % (settings["host"], settings["port"]),
            "interval_s": settings["interval_s"],
            "soil_cal": settings["soil_cal"],
            "time_s": board.time_s(),
            "reads": reads,
            "values": values,
            "flags": flags,
            "counter": _counter(settings["state_dir"]),
            "mem_free": gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
            "fs_free": _fs_free(),
        }
    )


def soil_counts(n, path=app.CONFIG_FILE, gap_ms=50):
    """Read the soil probe's ADC `n` times, `gap_ms` apart; emit the counts (open-probe
    readings, which the soil driver refuses, are counted in "open")."""
    settings, _error = _settings(path)
    board = _board(settings)
    counts = []
    opened = 0
    for i in range(n):
        if i:
            board.sleep_ms(gap_ms)
        raw = board.adc_raw("soil")
        try:
            drivers.vwc(settings["soil_cal"], raw)
        except drivers.SensorError:
            opened += 1
        counts.append(raw)
    _emit({"counts": counts, "open": opened})


def save_soil_cal(cal, path=app.CONFIG_FILE):
    """Put `cal` ([dry counts, dry %, wet counts, wet %]) into the config file, atomically,
    only if the whole config still validates; emit the saved value or the error."""
    try:
        with open(path) as f:
            raw = json.load(f)
        raw["soil_cal"] = cal
        config.parse_config(raw)
    except (OSError, ValueError, TypeError) as exc:  # ConfigError is a ValueError
        _emit({"error": str(exc)})
        return
    write_json(path, raw)
    _emit({"saved": cal})
