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
    # node health, sent only when not zero (docs/vocabulary.md)
    ("dropped", "count", 0.0, 1e9),
    ("faults", "count", 0.0, 64.0),
)


class SenMLError(ValueError):
    """A reading that the gateway would refuse (unknown name, out of range, bad time)."""


def _sample(out, node_id, time_s, values):
    """Append the records of one sample to the bytearray `out`; return how many.

    Records follow the vocabulary order; names absent from `values` are skipped (a failed
    sensor sends nothing rather than a made-up number). The first record carries the base
    time (and the base name when `node_id` is given), labels in the order bn, bt, n, u, v as
    in RFC 8428's examples and docs/protocol.md's test vector. Encoded straight into `out`:
    no per-record objects on a 64 kB heap.
    """
    if not isinstance(time_s, int) or time_s < (1 << 28):
        raise SenMLError("base time must be absolute Unix seconds (int >= 2**28), got %r" % time_s)
    for name in values:
        if not _known(name):
            raise SenMLError("%r is not in the vocabulary" % name)
    count = 0
    for name, unit, low, high in QUANTITIES:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SenMLError("%s is not a number: %r" % (name, value))
        if not low <= value <= high:  # also refuses NaN
            raise SenMLError("%s=%r outside [%r, %r]" % (name, value, low, high))
        if count:
            out.extend(cbor.map_head(3))
        else:
            out.extend(cbor.map_head(5 if node_id else 4))
            if node_id:
                cbor.encode_into(BN, out)
                cbor.encode_into(node_id + ":", out)
            cbor.encode_into(BT, out)
            cbor.encode_into(time_s, out)
        for label, item in ((N, name), (U, unit), (V, value)):
            cbor.encode_into(label, out)
            cbor.encode_into(item, out)
        count += 1
    if not count:
        raise SenMLError("no readings to send")
    return count


def encode(node_id, time_s, values):
    """CBOR-encoded SenML pack (bytes) for one reading set ({name: number} sampled at Unix
    second `time_s`)."""
    out = bytearray()
    count = _sample(out, node_id, time_s, values)
    return cbor.array_head(count) + out


_BUFFER = None  # one preallocated encoding buffer for encode_many, made on first use


def encode_many(node_id, samples, max_bytes):
    """One pack for several samples [(seq, time_s, values)], oldest first, as many as fit in
    `max_bytes`: (pack bytes, samples used). Each sample's first record carries its own
    absolute base time (RFC 8428 s4.1: bt applies to the records that follow) -- 6 bytes a
    sample, fewer than a relative t on each of its records. The first sample always goes.
    The pack is a memoryview into a reused buffer: valid until the next call."""
    global _BUFFER
    if _BUFFER is None or len(_BUFFER.buf) < max_bytes + 320:
        # room for the sample that does not fit; head room for the array head (< 2**16 records)
        _BUFFER = cbor.Buffer(max_bytes + 320, head_room=3)
    out = _BUFFER
    out.reset()
    count = 0
    used = 0
    for _seq, time_s, values in samples:
        size = len(out)
        try:
            added = _sample(out, node_id if not used else None, time_s, values)
        except cbor.CBORError:
            added = 0  # did not fit the buffer: certainly not the pack
        if used and (not added or len(out) + 3 > max_bytes):
            return out.framed(cbor.array_head(count), size), used
        count += added
        used += 1
    return out.framed(cbor.array_head(count)), used


def _known(name):
    for known, _unit, _low, _high in QUANTITIES:
        if known == name:
            return True
    return False
