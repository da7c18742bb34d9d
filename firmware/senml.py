"""SenML pack (RFC 8428) for one reading set, CBOR-encoded (Content-Format 112, s6).

Vocabulary and units follow the SenML units registry and backend/quantities.py (one table for
the whole system, docs/vocabulary.md). The first record carries the base name "<node>:" and the
base time (absolute Unix seconds); each record has n (name), u (unit) and v (value).
"""

import cbor

# CBOR labels (RFC 8428 s6, Table 4)
BN = -2
BT = -3
N = 0
U = 1
V = 2
T = 6

# (name, unit, low, high) in record order; must match backend/quantities.py
QUANTITIES = (
    ("soil_vwc", "%", 0.0, 100.0),
    ("soil_temp", "Cel", -20.0, 70.0),
    ("air_temp", "Cel", -40.0, 70.0),
    ("air_rh", "%RH", 0.0, 100.0),
    ("air_pressure", "Pa", 30000.0, 110000.0),
    ("rain", "mm", 0.0, 500.0),
    ("leaf_wet", "/", 0.0, 1.0),
    ("water_level", "m", -2.0, 2.0),
    ("battery", "V", 0.0, 15.0),
    ("rssi", "dBm", -150.0, 0.0),
)


class SenMLError(ValueError):
    """A reading that the gateway would refuse (unknown name, out of range, bad time)."""


def records(node_id, time_s, values):
    """SenML records for `values` ({name: number}) sampled at `time_s` (Unix seconds).

    Records follow the vocabulary order; names absent from `values` are skipped (a failed
    sensor sends nothing rather than a made-up number). Each record is a cbor.Map with its
    labels in the order bn, bt, n, u, v.
    """
    if not isinstance(time_s, int) or time_s < (1 << 28):
        raise SenMLError("base time must be absolute Unix seconds (int >= 2**28), got %r" % time_s)
    for name in values:
        if not _known(name):
            raise SenMLError("%r is not in the vocabulary" % name)
    pack = []
    for name, unit, low, high in QUANTITIES:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SenMLError("%s is not a number: %r" % (name, value))
        if not low <= value <= high:  # also refuses NaN
            raise SenMLError("%s=%r outside [%r, %r]" % (name, value, low, high))
        pack.append(cbor.Map([(N, name), (U, unit), (V, value)]))
    if not pack:
        raise SenMLError("no readings to send")
    pack[0].pairs = [(BN, node_id + ":"), (BT, time_s)] + pack[0].pairs
    return pack


def encode(node_id, time_s, values):
    """CBOR-encoded SenML pack (bytes) for one reading set; see `records`."""
    return cbor.dumps(records(node_id, time_s, values))


def _known(name):
    for known, _unit, _low, _high in QUANTITIES:
        if known == name:
            return True
    return False
