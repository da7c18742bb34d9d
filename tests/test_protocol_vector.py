"""docs/protocol.md's test vector, checked by independent implementations (cbor2, pycose)."""

from __future__ import annotations

import re
from pathlib import Path

import cbor2
from pycose.keys import SymmetricKey
from pycose.messages import Mac0Message

from backend.registry import NodeInfo
from gateway.downlink import sign_config
from gateway.uplink import decode_uplink

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
KEY = bytes(range(32))


def vector(name: str) -> bytes:
    match = re.search(rf"<!-- vector:{name} -->\n```\n([0-9a-f]+)\n```", DOC.read_text())
    assert match, f"vector {name} missing from {DOC}"
    return bytes.fromhex(match.group(1))


def pycose_mac0(data: bytes) -> Mac0Message:
    """pycose's Mac0Message for `data`, keyed with the vector's key.

    pycose 1.1's `decode` expects cbor2 5's mutable containers inside the tag; cbor2 6 gives
    tuple/frozendict, so the outer tag is unwrapped here and pycose builds the rest itself.
    """
    outer = cbor2.loads(data)
    assert outer.tag == 17
    protected, unprotected, payload, tag = outer.value
    message = Mac0Message.from_cose_obj([protected, dict(unprotected), payload, tag], True)
    message.key = SymmetricKey(k=KEY)
    return message


def test_payload_is_the_documented_senml() -> None:
    pack = cbor2.loads(vector("payload"))
    assert pack == [
        {-2: "n0a1b2c3d:", -3: 1790000000, 0: "soil_vwc", 1: "%", 2: 31.5},
        {0: "water_level", 1: "m", 2: -0.08},
    ]


def test_uplink_verifies_with_pycose() -> None:
    message = pycose_mac0(vector("uplink"))
    assert message.verify_tag()
    assert message.payload == vector("payload")
    assert message.phdr_encoded  # alg and Partial IV are integrity-protected
    assert cbor2.loads(message.phdr_encoded) == {1: 4, 6: b"\x07"}


def test_gateway_accepts_the_vector_and_refuses_a_flipped_bit() -> None:
    node = NodeInfo("n0a1b2c3d", "farm", "field", "coap", KEY, revoked=False)
    uplink = decode_uplink(vector("uplink"), lambda n: node, now_s=1790000100)
    assert uplink.counter == 7
    assert uplink.samples == {1790000000000: {"soil_vwc": 31.5, "water_level": -0.08}}
    tampered = bytearray(vector("uplink"))
    tampered[-20] ^= 1  # inside the payload
    assert not pycose_mac0(bytes(tampered)).verify_tag()


CONFIG_SETTINGS = {"interval_s": 600, "soil_cal": [2650, 5.0, 1380, 46.5]}


def test_config_downlink_vector_verifies_with_pycose() -> None:
    assert cbor2.loads(vector("config_payload")) == CONFIG_SETTINGS
    message = pycose_mac0(vector("config"))
    message.external_aad = b"ruong config"
    assert message.verify_tag()
    assert message.payload == vector("config_payload")
    assert cbor2.loads(message.phdr_encoded) == {1: 4, 6: b"\x03"}  # version 3
    message.external_aad = b""  # as an uplink's MAC it does not verify
    assert not message.verify_tag()


def test_gateway_signs_the_documented_downlink() -> None:
    assert sign_config(KEY, "n0a1b2c3d", 3, CONFIG_SETTINGS) == vector("config")
