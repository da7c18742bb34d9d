"""COSE_Mac0 (RFC 9052 s6.2, tag 17) with HMAC 256/64 (RFC 9053 s3.1) around the SenML pack.

Byte layout (docs/protocol.md):
    17([ protected = bstr .cbor {1: 4 (alg), 6: Partial IV = message counter},
         unprotected = {4: kid = node id, ASCII},
         payload = bstr (SenML-CBOR),
         tag = HMAC-SHA256(key, MAC_structure)[:8] ])
MicroPython has hashlib.sha256 but no `hmac` module, so HMAC (RFC 2104) is written out here.
"""

import hashlib

import cbor

TAG_MAC0 = 17
HDR_ALG = 1
HDR_KID = 4
HDR_PARTIAL_IV = 6
ALG_HMAC_256_64 = 4  # RFC 9053 Table 7
TAG_BYTES = 8
_BLOCK = 64  # SHA-256 block size, bytes


def hmac_sha256(key, message):
    """HMAC-SHA256 (RFC 2104 s2) of `message` under `key`; 32 bytes."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = bytes(key) + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(message)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def partial_iv(counter):
    """The counter as minimal big-endian bytes, at least one (RFC 8613 s5.1 style)."""
    if counter < 0 or counter >= 1 << 64:
        raise ValueError("message counter %d outside 0..2**64-1" % counter)
    length = 1
    while counter >> (8 * length):
        length += 1
    return counter.to_bytes(length, "big")


def protected_header(counter):
    """Serialized protected header {alg: HMAC 256/64, Partial IV: counter}."""
    return cbor.dumps({HDR_ALG: ALG_HMAC_256_64, HDR_PARTIAL_IV: partial_iv(counter)})


def mac_structure(protected, payload, external_aad=b""):
    """CBOR-encoded MAC_structure for COSE_Mac0 (RFC 9052 s6.3)."""
    return cbor.dumps(["MAC0", protected, external_aad, payload])


def mac0(key, node_id, counter, payload):
    """COSE_Mac0 message (tagged, bytes) authenticating `payload` as node `node_id`.

    key: the node's 32-byte HMAC key; counter: the per-node message counter (replay
    protection, never reused); payload: bytes (SenML-CBOR).
    """
    protected = protected_header(counter)
    tag = hmac_sha256(key, mac_structure(protected, payload))[:TAG_BYTES]
    return cbor.dumps(
        cbor.Tag(TAG_MAC0, [protected, {HDR_KID: node_id.encode("ascii")}, payload, tag])
    )
