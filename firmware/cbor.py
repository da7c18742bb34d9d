"""Minimal CBOR (RFC 8949) encoder and decoder for the node's uplinks and downlinks.

Encoding is deterministic: integers, lengths and tags use the preferred (shortest) head
(RFC 8949 s4.2.1), map keys are sorted by their encoded bytes (s4.2.1 core deterministic
ordering), floats are float64 unless `shortest_floats` asks for float32 where that is exact.
Indefinite lengths are never produced. The decoder reads definite-length items, which is all
the gateway sends; it refuses trailing bytes.
"""

import struct

# major types (RFC 8949 s3.1)
_UINT = 0
_NINT = 1
_BYTES = 2
_TEXT = 3
_ARRAY = 4
_MAP = 5
_TAG = 6
_SIMPLE = 7

_FALSE = b"\xf4"
_TRUE = b"\xf5"
_NULL = b"\xf6"


class CBORError(ValueError):
    """Input that cannot be encoded, or bytes that are not valid (supported) CBOR."""


class Tag:
    """A CBOR tagged item (major type 6): `tag` number and its `value`."""

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Tag) and self.tag == other.tag and self.value == other.value


class Map:
    """A CBOR map whose keys are written in the given order (a list of (key, value) pairs).

    Plain dicts are written in deterministic key order (RFC 8949 s4.2.1); SenML records use
    this to put bn/bt first, as RFC 8428's examples and docs/protocol.md's test vector do.
    MicroPython dicts do not keep insertion order, so the order has to be explicit.
    """

    def __init__(self, pairs):
        self.pairs = pairs


class Undefined:
    """The CBOR `undefined` simple value (0xf7); kept distinct from None."""


def _head(major, n):
    """Initial byte + argument in its shortest form (RFC 8949 s3 / s4.2.1)."""
    mt = major << 5
    if n < 24:
        return bytes((mt | n,))
    if n < 0x100:
        return bytes((mt | 24, n))
    if n < 0x10000:
        return struct.pack(">BH", mt | 25, n)
    if n < 0x100000000:
        return struct.pack(">BI", mt | 26, n)
    return struct.pack(">BQ", mt | 27, n)


_INF = float("inf")


def _float(value, shortest):
    # NaN and infinities take their preferred half-precision form (RFC 8949 s4.2.2), as
    # CPython's cbor2 does; the gateway refuses them anyway, but they must not crash us.
    if value != value:
        return b"\xf9\x7e\x00"
    if value == _INF:
        return b"\xf9\x7c\x00"
    if value == -_INF:
        return b"\xf9\xfc\x00"
    if shortest:
        packed = struct.pack(">f", value)
        if struct.unpack(">f", packed)[0] == value:
            return b"\xfa" + packed
    return b"\xfb" + struct.pack(">d", value)


def _byte_length(n):
    """Bytes needed for the unsigned `n` (MicroPython ints have no bit_length)."""
    length = 1
    while n >> (8 * length):
        length += 1
    return length


def _int(value, out):
    if value >= 0:
        if value < 0x10000000000000000:
            out.extend(_head(_UINT, value))
            return
        tag, n = 2, value  # bignum (RFC 8949 s3.4.3)
    else:
        n = -1 - value
        if n < 0x10000000000000000:
            out.extend(_head(_NINT, n))
            return
        tag = 3
    out.extend(_head(_TAG, tag))
    raw = n.to_bytes(_byte_length(n), "big")
    out.extend(_head(_BYTES, len(raw)))
    out.extend(raw)


def _encode(value, out, shortest):
    # bool before int: True is an int on CPython
    if value is True:
        out.extend(_TRUE)
    elif value is False:
        out.extend(_FALSE)
    elif value is None:
        out.extend(_NULL)
    elif isinstance(value, int):
        _int(value, out)
    elif isinstance(value, float):
        out.extend(_float(value, shortest))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out.extend(_head(_BYTES, len(value)))
        out.extend(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out.extend(_head(_TEXT, len(raw)))
        out.extend(raw)
    elif isinstance(value, (list, tuple)):
        out.extend(_head(_ARRAY, len(value)))
        for item in value:
            _encode(item, out, shortest)
    elif isinstance(value, dict):
        items = []
        for key in value:
            items.append((dumps(key, shortest), key))
        items.sort(key=lambda pair: pair[0])
        out.extend(_head(_MAP, len(items)))
        for encoded_key, key in items:
            out.extend(encoded_key)
            _encode(value[key], out, shortest)
    elif isinstance(value, Map):
        out.extend(_head(_MAP, len(value.pairs)))
        for key, item in value.pairs:
            _encode(key, out, shortest)
            _encode(item, out, shortest)
    elif isinstance(value, Tag):
        out.extend(_head(_TAG, value.tag))
        _encode(value.value, out, shortest)
    elif isinstance(value, Undefined):
        out.extend(b"\xf7")
    else:
        raise CBORError("cannot encode %s" % type(value).__name__)


def array_head(n):
    """The head of a definite-length array of `n` items (for arrays built in pieces)."""
    return _head(_ARRAY, n)


def map_head(n):
    """The head of a definite-length map of `n` pairs (for maps built in pieces)."""
    return _head(_MAP, n)


class Buffer:
    """A fixed bytearray filled from the start: `extend` without reallocation, so encoding
    a pack on a small, fragmented heap needs no growing block. Reuse it with `reset`.

    `head_room` bytes are kept in front of the data for a head only known at the end (an
    array's item count): `framed` writes it there, so the framed item needs no second,
    pack-sized block either.
    """

    def __init__(self, size, head_room=0):
        self.buf = bytearray(head_room + size)
        self.start = head_room
        self.pos = head_room

    def reset(self):
        self.pos = self.start

    def extend(self, data):
        end = self.pos + len(data)
        if end > len(self.buf):
            raise CBORError("encoding exceeds the %d-byte buffer" % (len(self.buf) - self.start))
        self.buf[self.pos : end] = data
        self.pos = end

    def __len__(self):
        return self.pos - self.start

    def framed(self, head, end=None):
        """`head` followed by the bytes written so far (the first `end` of them), as a
        memoryview into the buffer: no copy. Valid until the buffer is written again."""
        first = self.start - len(head)
        if first < 0:
            raise CBORError("a %d-byte head does not fit the head room" % len(head))
        self.buf[first : self.start] = head
        return memoryview(self.buf)[first : self.pos if end is None else self.start + end]


def encode_into(value, out):
    """Append the CBOR encoding of `value` to the bytearray `out` (float64 floats)."""
    _encode(value, out, False)


def dumps(value, shortest_floats=False):
    """Encode `value` (int, float, bytes, str, list/tuple, dict, bool, None, Tag) as CBOR."""
    out = bytearray()  # one growing buffer: no per-item objects, no list to reallocate
    _encode(value, out, shortest_floats)
    return bytes(out)


def loads(data):
    """Decode one CBOR item (cbor_decode.loads, imported on first use: the uplink path never
    decodes, so the decoder stays out of RAM until a downlink arrives)."""
    import cbor_decode

    return cbor_decode.loads(data)
