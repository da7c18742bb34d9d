"""What the firmware signs (on MicroPython) verifies with pycose and passes the gateway's
decoder; its hand-written HMAC equals CPython's hmac (RFC 4231 vectors included)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import cbor2
import pytest
from firmware_helpers import KEY, NODE_ID, lookup_for, node_info
from pycose.algorithms import HMAC25664
from pycose.headers import KID, Algorithm, PartialIV
from pycose.keys import SymmetricKey
from pycose.messages import CoseMessage, Mac0Message

from gateway.uplink import UplinkRejected, decode_uplink

# RFC 4231 s4.2 (test case 1), s4.3 (2), s4.7 (6: key longer than the block size)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]
KEYS = [b"", b"k", bytes(range(32)), bytes(64), bytes(65), b"\xff" * 200]


@pytest.mark.parametrize(("key", "message", "digest"), RFC4231)
def test_hmac_matches_rfc4231(fw, key: bytes, message: bytes, digest: str) -> None:
    assert fw("cose").hmac_sha256(key, message).hex() == digest


@pytest.mark.micropython
def test_micropython_hmac_matches_cpython_hmac(mp) -> None:
    cases = [(k, bytes(range(n % 256)) * (n // 256 + 1)) for n, k in enumerate(KEYS)]
    cases += [(k, m) for k, m, _ in RFC4231]
    script = f"import cose\nfor k, m in {cases!r}:\n    print(cose.hmac_sha256(k, m).hex())\n"
    out = mp.run(script).stdout.split()
    assert out == [hmac.new(k, m, hashlib.sha256).hexdigest() for k, m in cases]


@pytest.mark.parametrize(
    ("counter", "piv"), [(0, "00"), (1, "01"), (255, "ff"), (256, "0100"), (2**32, "0100000000")]
)
def test_partial_iv_is_minimal_big_endian(fw, counter: int, piv: str) -> None:
    assert fw("cose").partial_iv(counter).hex() == piv


def pycose_decode(data: bytes) -> Mac0Message:
    """pycose's CoseMessage.decode, minus its cbor2 < 6 assumption that a tag holds a list
    (cbor2 6 decodes the tagged array as a tuple, which pycose 1.1 refuses)."""
    tagged = cbor2.loads(data)
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == Mac0Message.cbor_tag
    message = Mac0Message.from_cose_obj(
        [tagged.value[0], dict(tagged.value[1]), *tagged.value[2:]], True
    )
    assert isinstance(message, CoseMessage)
    return message


def micropython_uplink(mp, counter: int, values: dict, t: int, key: bytes = KEY) -> bytes:
    script = (
        "import cose, senml, json\n"
        f"pack = senml.encode({NODE_ID!r}, {t}, json.loads({json.dumps(values)!r}))\n"
        f"print(cose.mac0({key!r}, {NODE_ID!r}, {counter}, pack).hex())\n"
    )
    return bytes.fromhex(mp.run(script).stdout.strip())


@pytest.mark.micropython
@pytest.mark.parametrize("counter", [1, 300, 2**40])
def test_firmware_mac0_verifies_with_pycose_and_the_gateway(fw, mp, counter: int) -> None:
    now = int(time.time())
    values = fw("sim_field").Field("ruong-1", 7).sample(now)
    data = micropython_uplink(mp, counter, values, now)

    message = pycose_decode(data)
    message.key = SymmetricKey(k=KEY)
    assert message.verify_tag()
    assert message.phdr == {Algorithm: HMAC25664, PartialIV: fw("cose").partial_iv(counter)}
    assert message.uhdr == {KID: NODE_ID.encode()}

    uplink = decode_uplink(data, lookup_for(node_info()), now_s=now)
    assert uplink.counter == counter
    assert uplink.samples == {now * 1000: {k: float(v) for k, v in values.items()}}


@pytest.mark.micropython
def test_a_wrong_key_is_refused_by_the_gateway(mp) -> None:
    now = int(time.time())
    data = micropython_uplink(mp, 5, {"battery": 3.9}, now, key=b"\x01" * 32)
    with pytest.raises(UplinkRejected) as err:
        decode_uplink(data, lookup_for(node_info()), now_s=now)
    assert err.value.reason == "bad_mac"


def test_cpython_and_gateway_agree_on_the_mac_structure(fw) -> None:
    from gateway.uplink import mac_structure

    cose = fw("cose")
    protected = cose.protected_header(42)
    assert cose.mac_structure(protected, b"payload") == mac_structure(protected, b"payload")


@pytest.mark.micropython
def test_firmware_reproduces_the_documented_test_vector(mp) -> None:
    """docs/protocol.md's vector, byte for byte, from the firmware on MicroPython."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    vectors = dict(re.findall(r"<!-- vector:(\w+) -->\s*```\s*([0-9a-f]+)\s*```", doc))
    script = (
        "import cose, senml\n"
        "p = senml.encode('n0a1b2c3d', 1790000000, {'soil_vwc': 31.5, 'water_level': -0.08})\n"
        "print(p.hex())\n"
        "print(cose.mac0(bytes(range(32)), 'n0a1b2c3d', 7, p).hex())\n"
    )
    payload, uplink = mp.run(script).stdout.split()
    assert payload == vectors["payload"]
    assert uplink == vectors["uplink"]
