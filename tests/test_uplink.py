"""Unit tests of the pure uplink decoder: each refusal has its reason and CoAP code."""

from __future__ import annotations

import cbor2
import pytest

from backend.registry import NodeInfo
from gateway.uplink import UplinkRejected, decode_uplink
from tests.uplinks import cose_mac0, senml_pack, uplink

NOW = 1_790_000_000.0
KEY = bytes(range(32))
NODE = NodeInfo("n0a1b2c3d", "farm", "ruong-1", "coap", KEY, revoked=False)
VALUES = {"soil_vwc": 31.5, "air_temp": 27.25, "water_level": -0.08}


def lookup(node_id: str) -> NodeInfo | None:
    return NODE if node_id == NODE.node else None


def test_valid_uplink_decodes_to_samples_at_sample_time() -> None:
    decoded = decode_uplink(uplink(KEY, NODE.node, 7, NOW - 60, VALUES), lookup, NOW)
    assert decoded.counter == 7
    assert decoded.samples == {round((NOW - 60) * 1000): VALUES}


def _reason(data: bytes, node: NodeInfo = NODE) -> tuple[str, str]:
    with pytest.raises(UplinkRejected) as info:
        decode_uplink(data, lambda n: node if n == node.node else None, NOW)
    return info.value.reason, info.value.coap_code


@pytest.mark.parametrize(
    ("data", "reason", "code"),
    [
        (b"\xff\x00garbage", "malformed_cbor", "4.00"),
        (cbor2.dumps([1, 2]), "not_cose_mac0", "4.00"),
        (uplink(KEY, NODE.node, 1, NOW, VALUES) + b"\x00", "malformed_cbor", "4.00"),
        (b"\x00" * 3000, "too_large", "4.13"),
        (uplink(bytes(32), NODE.node, 1, NOW, VALUES), "bad_mac", "4.01"),
        (uplink(KEY, "n00000000", 1, NOW, VALUES), "unknown_node", "4.01"),
        (uplink(KEY, "../etc", 1, NOW, VALUES), "bad_kid", "4.01"),
        (uplink(KEY, NODE.node, 1, NOW, {"soil_vwc": 140.0}), "out_of_range", "4.00"),
        (uplink(KEY, NODE.node, 1, NOW + 3600, VALUES), "future_time", "4.00"),
        (uplink(KEY, NODE.node, 1, NOW - 500 * 86400, VALUES), "too_old", "4.00"),
    ],
)
def test_rejections_carry_reason_and_coap_code(data: bytes, reason: str, code: str) -> None:
    assert _reason(data) == (reason, code)


def test_unknown_quantity_and_wrong_unit_are_refused() -> None:
    pack = senml_pack(NODE.node, NOW, {"soil_vwc": 30.0})
    pack[0][0] = "soil_ph"
    assert _reason(cose_mac0(KEY, NODE.node, 1, cbor2.dumps(pack)))[0] == "unknown_quantity"
    pack = senml_pack(NODE.node, NOW, {"air_temp": 30.0})
    pack[0][1] = "K"
    assert _reason(cose_mac0(KEY, NODE.node, 1, cbor2.dumps(pack)))[0] == "wrong_unit"


def test_base_name_must_be_the_signing_node() -> None:
    pack = senml_pack("n99999999", NOW, VALUES)
    assert _reason(cose_mac0(KEY, NODE.node, 1, cbor2.dumps(pack)))[0] == "name_mismatch"


def test_revoked_node_is_refused() -> None:
    revoked = NodeInfo(NODE.node, "farm", "f", "coap", KEY, revoked=True)
    assert _reason(uplink(KEY, NODE.node, 1, NOW, VALUES), revoked) == ("revoked_node", "4.01")
