"""CBOR (RFC 8949) decoder for downlinks: definite-length items, which is all the gateway
sends; trailing bytes are refused. Kept apart from cbor.py (the encoder) so a node that only
sends never loads it; `cbor.loads` imports it on first use.
"""

import struct

from cbor import _ARRAY, _BYTES, _MAP, _NINT, _SIMPLE, _TEXT, _UINT, CBORError, Tag, Undefined

_MAX_DEPTH = 16  # nesting limit for decoding untrusted downlinks


def _half(bits):
    """IEEE 754 binary16 -> float (RFC 8949 Appendix D)."""
    exp = (bits >> 10) & 0x1F
    mant = bits & 0x3FF
    if exp == 0:
        val = mant * 2.0**-24
    elif exp != 31:
        val = (mant + 1024) * 2.0 ** (exp - 25)
    elif mant == 0:
        val = float("inf")
    else:
        val = float("nan")
    return -val if bits & 0x8000 else val


class _Reader:
    def __init__(self, data):
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n):
        end = self.pos + n
        if end > len(self.data):
            raise CBORError("truncated CBOR at byte %d" % self.pos)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def argument(self, info):
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return struct.unpack(">H", self.take(2))[0]
        if info == 26:
            return struct.unpack(">I", self.take(4))[0]
        if info == 27:
            return struct.unpack(">Q", self.take(8))[0]
        raise CBORError("indefinite length or reserved info %d not supported" % info)

    def item(self, depth):
        if depth > _MAX_DEPTH:
            raise CBORError("CBOR nested deeper than %d" % _MAX_DEPTH)
        initial = self.take(1)[0]
        major = initial >> 5
        info = initial & 0x1F
        if major == _SIMPLE:
            return self.simple(info)
        n = self.argument(info)
        if major == _UINT:
            return n
        if major == _NINT:
            return -1 - n
        if major == _BYTES:
            return bytes(self.take(n))
        if major == _TEXT:
            return str(bytes(self.take(n)), "utf-8")
        if major == _ARRAY:
            return [self.item(depth + 1) for _ in range(n)]
        if major == _MAP:
            result = {}
            for _ in range(n):
                key = self.item(depth + 1)
                result[key] = self.item(depth + 1)
            return result
        value = self.item(depth + 1)  # _TAG
        if n in (2, 3) and isinstance(value, bytes):
            big = int.from_bytes(value, "big")
            return big if n == 2 else -1 - big
        return Tag(n, value)

    def simple(self, info):
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 23:
            return Undefined()
        if info == 25:
            return _half(struct.unpack(">H", self.take(2))[0])
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        raise CBORError("simple value %d not supported" % info)


def loads(data):
    """Decode one CBOR item from `data`; CBORError on malformed input or trailing bytes."""
    reader = _Reader(data)
    value = reader.item(0)
    if reader.pos != len(data):
        raise CBORError("%d trailing bytes after CBOR item" % (len(data) - reader.pos))
    return value
