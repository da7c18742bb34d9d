"""Config downlink, node side (docs/protocol.md "Config downlink"), first half: verify the
gateway's COSE_Mac0 and keep its settings in <state_dir>/remote.new. The second half runs at
the next boot, when the heap is empty: remote_state.py (through config.load_config)
validates them against the config file, exactly as the file itself, and puts them in force
(remote.json) or rejects them.

A board resets every cycle anyway (deep sleep); the host's app.main does a soft restart after
a kept downlink, which is the same thing. So config.py is never in RAM next to a running
node, and a bad config is checked before anything runs with it.

The message is a COSE_Mac0 like an uplink, except that its Partial IV is the config version
and its MAC_structure carries the external AAD b"ruong config" (so an uplink can never pass
for a downlink, nor the reverse). Loaded for one call only (node.py drops it again).
"""

import cbor
import cose
from compat import join, write_json

CONFIG_AAD = b"ruong config"
PENDING_FILE = "remote.new"  # verified, not yet validated: remote_state.py takes it at boot


def _decode(message):
    """(protected bytes, kid bytes, payload bytes, tag bytes) of a tagged COSE_Mac0; raises
    ValueError / TypeError / IndexError / KeyError when it is not one."""
    item = cbor.loads(message)
    if not isinstance(item, cbor.Tag) or item.tag != cose.TAG_MAC0:
        raise ValueError("not a COSE_Mac0")
    protected, unprotected, payload, tag = item.value  # ValueError unless 4 items
    kid = unprotected.get(cose.HDR_KID) if isinstance(unprotected, dict) else None
    for field in (protected, payload, tag):
        if not isinstance(field, bytes):
            raise TypeError("COSE_Mac0 field is not a byte string")
    return protected, kid, payload, tag


def verify(settings, message):
    """Check a downlink against the running settings (node id, key, config_seen).

    Returns (version, settings payload as a dict) to apply, None for an older or equal
    version (MQTT redelivers the retained config on every connect), or a short reason
    string: "format", "kid", "alg", "mac".
    """
    try:
        protected, kid, payload, tag = _decode(message)
        header = cbor.loads(protected)
        alg = header.get(cose.HDR_ALG)
        piv = header.get(cose.HDR_PARTIAL_IV)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        return "format"  # malformed or truncated CBOR (CBORError is a ValueError), not COSE
    if kid != settings["node"].encode():
        return "kid"
    if alg != cose.ALG_HMAC_256_64:
        return "alg"
    if len(tag) != cose.TAG_BYTES:
        return "mac"
    mac = cose.hmac_sha256(settings["key"], cose.mac_structure(protected, payload, CONFIG_AAD))
    diff = 0
    for i in range(cose.TAG_BYTES):  # every byte, whatever the first mismatch
        diff |= mac[i] ^ tag[i]
    if diff:
        return "mac"
    if not isinstance(piv, bytes) or not 1 <= len(piv) <= 8:
        return "format"
    version = int.from_bytes(piv, "big")
    if version <= settings["config_seen"]:
        return None
    try:
        remote = cbor.loads(payload)
    except (ValueError, TypeError):  # CBORError, an unhashable map key
        return "format"
    if not isinstance(remote, dict):
        return "format"
    for key in remote:
        if not isinstance(key, str):
            return "format"
        value = remote[key]
        for x in value if isinstance(value, list) else (value,):
            if isinstance(x, float) and x - x != 0:  # nan, inf: JSON (remote.json) has none
                return "key:" + key
    return version, remote


def take(settings, message):
    """Verify `message` (a downlink, bytes) and keep it for the next boot.

    Returns "pending:<version>" once <state_dir>/remote.new holds it, None when its version
    is not newer than any the node has handled (settings["config_seen"]: MQTT redelivers the
    retained config on every connect), else "rejected:<reason>" ("format", "kid", "alg",
    "mac", "key:<name>", "file") and nothing kept.
    """
    checked = verify(settings, message)
    if checked is None:
        return None
    if isinstance(checked, str):
        return "rejected:" + checked
    version, remote = checked
    try:
        write_json(
            join(settings["state_dir"], PENDING_FILE), {"version": version, "settings": remote}
        )
    except OSError:
        return "rejected:file"
    return "pending:%d" % version
