"""A CPython reference encoder for uplinks (docs/protocol.md), written from the RFCs with cbor2
and hmac, independent of both the firmware and the gateway's decoder."""

from __future__ import annotations

import hashlib
import hmac

import cbor2

from backend.quantities import QUANTITIES


def senml_pack(node: str, time_s: float, values: dict[str, float]) -> list[dict[int, object]]:
    """RFC 8428 pack, CBOR labels: bn -2, bt -3, n 0, u 1, v 2."""
    records: list[dict[int, object]] = []
    for i, (name, value) in enumerate(values.items()):
        record: dict[int, object] = {0: name, 1: QUANTITIES[name].unit, 2: value}
        if i == 0:
            record = {-2: node + ":", -3: time_s, **record}
        records.append(record)
    return records


def cose_mac0(key: bytes, kid: str, counter: int, payload: bytes) -> bytes:
    """RFC 9052 COSE_Mac0, tag 17, alg 4 (HMAC 256/64), Partial IV = counter."""
    piv = counter.to_bytes(max(1, (counter.bit_length() + 7) // 8), "big")
    protected = cbor2.dumps({1: 4, 6: piv})
    structure = cbor2.dumps(["MAC0", protected, b"", payload])
    tag = hmac.new(key, structure, hashlib.sha256).digest()[:8]
    return cbor2.dumps(cbor2.CBORTag(17, [protected, {4: kid.encode()}, payload, tag]))


def uplink(key: bytes, node: str, counter: int, time_s: float, values: dict[str, float]) -> bytes:
    return cose_mac0(key, node, counter, cbor2.dumps(senml_pack(node, time_s, values)))
