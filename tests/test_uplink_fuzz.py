"""Property-based tests of the decoder: whatever the bytes, the answer is an accepted uplink
whose values are exactly what was signed, or an UplinkRejected with a known reason."""

from __future__ import annotations

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.quantities import QUANTITIES
from backend.registry import NodeInfo
from gateway.uplink import REASONS, UplinkRejected, decode_uplink
from tests.uplinks import cose_mac0, uplink

NOW = 1_790_000_000.0
KEY = bytes(range(32))
NODE = NodeInfo("n0a1b2c3d", "farm", "ruong-1", "coap", KEY, revoked=False)


def lookup(node_id: str) -> NodeInfo | None:
    return NODE if node_id == NODE.node else None


def outcome(data: bytes) -> str:
    try:
        decode_uplink(data, lookup, NOW)
    except UplinkRejected as exc:
        assert exc.reason in REASONS
        return exc.reason
    return "accepted"


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_are_refused(data: bytes) -> None:
    assert outcome(data) != "accepted"


cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.integers(-5, 10) | st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=2000, deadline=None)
@given(cbor_values)
def test_well_formed_cbor_of_any_shape_is_refused(value: object) -> None:
    assert outcome(cbor2.dumps(value)) != "accepted"


@settings(max_examples=1000, deadline=None)
@given(cbor_values)
def test_signed_garbage_payload_is_refused_as_senml(value: object) -> None:
    """A correctly signed message whose payload is not valid SenML: refused, never crashes."""
    reason = outcome(cose_mac0(KEY, NODE.node, 1, cbor2.dumps(value)))
    assert reason in {
        "bad_senml",
        "malformed_cbor",
        "name_mismatch",
        "unknown_quantity",
        "wrong_unit",
        "out_of_range",
        "future_time",
        "too_old",
    }


VALID = uplink(KEY, NODE.node, 9, NOW - 60, {"soil_vwc": 30.0, "water_level": -0.1})


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, len(VALID) * 8 - 1))
def test_every_single_bit_flip_is_refused(bit: int) -> None:
    data = bytearray(VALID)
    data[bit // 8] ^= 1 << (bit % 8)
    assert outcome(bytes(data)) != "accepted"


@given(st.integers(0, len(VALID) - 1))
def test_every_truncation_is_refused(n: int) -> None:
    assert outcome(VALID[:n]) != "accepted"


readings = st.dictionaries(
    st.sampled_from(sorted(QUANTITIES)),
    st.floats(0, 1, allow_nan=False),
    min_size=1,
).map(
    lambda d: {
        k: QUANTITIES[k].low + v * (QUANTITIES[k].high - QUANTITIES[k].low) for k, v in d.items()
    }
)


@settings(max_examples=500, deadline=None)
@given(readings, st.integers(1, 2**40), st.integers(0, 399 * 86400))
def test_valid_uplinks_decode_to_exactly_what_was_signed(
    values: dict[str, float], counter: int, age_s: int
) -> None:
    decoded = decode_uplink(uplink(KEY, NODE.node, counter, NOW - age_s, values), lookup, NOW)
    assert decoded.counter == counter
    assert decoded.samples == {round((NOW - age_s) * 1000): values}
