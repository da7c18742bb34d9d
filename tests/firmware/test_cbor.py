"""firmware/cbor.py produces the same bytes as cbor2 (the reference codec), on MicroPython
and on CPython, and decodes what the gateway may send."""

from __future__ import annotations

import math
import struct

import cbor2
import pytest

MANY_VALUES: list[object] = [
    0,
    1,
    23,
    24,
    255,
    256,
    65535,
    65536,
    2**32 - 1,
    2**32,
    2**63,
    2**64 - 1,
    2**64,
    2**100,
    -1,
    -24,
    -25,
    -256,
    -257,
    -65537,
    -(2**32) - 1,
    -(2**64),
    -(2**64) - 1,
    -(2**90),
    0.0,
    -0.0,
    1.5,
    0.1,
    -4.75,
    100512.25,
    1e300,
    -1e-300,
    3.4028234663852886e38,
    math.inf,
    -math.inf,
    math.nan,
    b"",
    b"\x00\xff",
    bytes(range(24)),
    bytes(300),
    "",
    "a",
    "Ruộng lúa Ninh Bình",
    "x" * 70000,
    [],
    [1, [2, [3]]],
    list(range(30)),
    (1, "tuple"),
    {},
    {1: 4, 6: b"\x01"},
    {-2: "n1:", -3: 1795643968, 0: "soil_vwc", 1: "%", 2: 33.2},
    {"b": 1, "a": 2, "aa": 3, 10: 0, -1: 1, 100: 2},
    {"nested": {"map": [True, False, None]}},
    True,
    False,
    None,
    cbor2.CBORTag(17, [b"\xa1\x01\x04", {4: b"kid"}, b"payload", b"12345678"]),
    cbor2.CBORTag(1, 1795643968),
    cbor2.CBORTag(300, "big tag"),
]


def deterministic(value: object) -> object:
    """`value` with every map in RFC 8949 s4.2.1 key order (bytewise order of encoded keys)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: cbor2.dumps(k))
        return {k: deterministic(value[k]) for k in keys}
    if isinstance(value, (list, tuple)):
        return [deterministic(v) for v in value]
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, deterministic(value.value))
    return value


def expected(value: object) -> bytes:
    return cbor2.dumps(deterministic(value))


def as_micropython(value: object) -> str:
    """MicroPython source that rebuilds `value` exactly (floats via their IEEE bytes)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str, bytes)):
        return repr(value)
    if isinstance(value, float):
        return f"F({struct.pack('>d', value)!r})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(as_micropython(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{as_micropython(k)}: {as_micropython(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, cbor2.CBORTag):
        return f"cbor.Tag({value.tag}, {as_micropython(value.value)})"
    raise TypeError(type(value))


def to_firmware(fw_cbor: object, value: object) -> object:
    if isinstance(value, cbor2.CBORTag):
        return fw_cbor.Tag(value.tag, to_firmware(fw_cbor, value.value))
    if isinstance(value, (list, tuple)):
        return [to_firmware(fw_cbor, v) for v in value]
    if isinstance(value, dict):
        return {k: to_firmware(fw_cbor, v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("value", MANY_VALUES, ids=lambda v: repr(v)[:40])
def test_cpython_encoding_matches_cbor2(fw, value: object) -> None:
    cbor = fw("cbor")
    assert cbor.dumps(to_firmware(cbor, value)) == expected(value)


@pytest.mark.micropython
def test_micropython_encoding_matches_cbor2(mp) -> None:
    lines = ["import cbor, struct", "F = lambda b: struct.unpack('>d', b)[0]", "cases = ["]
    lines += [f"  {as_micropython(v)}," for v in MANY_VALUES]
    lines += ["]", "for v in cases:", "    print(cbor.dumps(v).hex())"]
    out = mp.run("\n".join(lines), heap="1m").stdout.split()
    assert len(out) == len(MANY_VALUES)
    for value, got in zip(MANY_VALUES, out, strict=True):
        assert bytes.fromhex(got) == expected(value), f"{value!r:.60}"


@pytest.mark.micropython
def test_micropython_decodes_what_cbor2_encodes(mp) -> None:
    values = [v for v in MANY_VALUES if not (isinstance(v, float) and math.isnan(v))]
    payloads = [cbor2.dumps(deterministic(v)).hex() for v in values]
    payloads += [cbor2.dumps(1.5, canonical=True).hex(), cbor2.dumps(0.1, canonical=True).hex()]
    script = (
        "import cbor\n"
        f"for h in {payloads!r}:\n"
        "    print(cbor.dumps(cbor.loads(bytes.fromhex(h))).hex())\n"
    )
    out = mp.run(script, heap="1m").stdout.split()
    # decode -> re-encode gives the deterministic bytes back (half/float32 come back float64)
    for value, got in zip(values + [1.5, 0.1], out, strict=True):
        assert bytes.fromhex(got) == expected(value), f"{value!r:.60}"


def test_decoder_reads_small_downlinks(fw) -> None:
    cbor = fw("cbor")
    config = {"interval_s": 600, "fw": "0.1.0", "cal": [1.25, -3], "on": True, "x": None}
    assert cbor.loads(cbor2.dumps(config)) == config
    assert cbor.loads(bytes.fromhex("f93e00")) == 1.5  # half precision
    assert cbor.loads(bytes.fromhex("fa47c35000")) == 100000.0  # single precision
    tag = cbor.loads(cbor2.dumps(cbor2.CBORTag(17, [b"p", {}, b"x", b"t"])))
    assert (tag.tag, tag.value) == (17, [b"p", {}, b"x", b"t"])


@pytest.mark.parametrize("bad", ["", "18", "5f", "a1", "8201", "0000", "f8", "7f"])
def test_decoder_refuses_malformed_or_unsupported(fw, bad: str) -> None:
    cbor = fw("cbor")
    with pytest.raises(cbor.CBORError):
        cbor.loads(bytes.fromhex(bad))


def test_decoder_limits_nesting(fw) -> None:
    cbor = fw("cbor")
    with pytest.raises(cbor.CBORError):
        cbor.loads(b"\x81" * 40 + b"\x00")


def test_shortest_floats_are_exact(fw) -> None:
    cbor = fw("cbor")
    assert cbor.dumps(1.5, shortest_floats=True) == b"\xfa" + struct.pack(">f", 1.5)
    assert cbor.dumps(0.1, shortest_floats=True) == cbor2.dumps(0.1)  # not exact in float32
    assert cbor.loads(cbor.dumps(-4.75, shortest_floats=True)) == -4.75


def test_explicit_map_keeps_the_given_key_order(fw) -> None:
    cbor = fw("cbor")
    ordered = cbor.Map([(-2, "n1:"), (-3, 1790000000), (0, "rain")])
    assert cbor.dumps(ordered) == cbor2.dumps({-2: "n1:", -3: 1790000000, 0: "rain"})
