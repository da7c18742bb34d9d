"""MQTT broker credentials: each node's account derived from its key, and the broker's files.

A node logs in to the broker with username = its node id and a password derived from its
32-byte node key (`node_password`), so the registry needs no column for it and the broker's
password file and ACL can be regenerated from the registry at any time (`ruong mqtt sync`,
docs/mqtt-broker.md). The gateway has its own account, taken from `[mqtt] url`.

The files are Mosquitto 2's: the password file holds one `user:$7$...` line per account
(PBKDF2-SHA512, the format `mosquitto_passwd` writes), the ACL lets a node publish only
`ruong/<its id>/up` and `ruong/<its id>/status` and read only `ruong/<its id>/config`
(docs/protocol.md, "Transports"). Revoked nodes get no line, so their login fails.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import ssl
import stat
from collections.abc import Iterable
from pathlib import Path

from backend.registry import NodeInfo

DEFAULT_GATEWAY_USER = "ruong-gateway"
# Changing the label changes every node's password: a new label is a new version ("v2").
PASSWORD_LABEL = b"ruong mqtt password v1"
# Mosquitto 2's "$7$" hash (src/password_mosq.c): PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte
# digest. 101 iterations is mosquitto_passwd's own default; the stretching protects weak
# passwords, and ours are 256-bit random (a node's) or generated (the gateway's).
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
DIGEST_BYTES = 64


class MqttAuthError(ValueError):
    """The broker's accounts cannot be written as asked (a clash, a bad name)."""


def node_password(key: bytes) -> str:
    """A node's MQTT password: HMAC-SHA256(node key, PASSWORD_LABEL), base64url without
    padding (43 characters, 256 bits). Knowing it reveals nothing of the key."""
    if len(key) != 32:
        raise MqttAuthError(f"a node key is 32 bytes, got {len(key)}")
    digest = hmac.new(key, PASSWORD_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def node_credentials(node: NodeInfo) -> dict[str, str]:
    """The broker account keys of the node's config file (firmware/config.py)."""
    return {"mqtt_user": node.node, "mqtt_password": node_password(node.key)}


def ca_der(pem_file: str | Path) -> bytes:
    """The first certificate of a PEM file as DER: the node's trust anchor over mqtts://
    (`mqtt_ca`: the MicroPython unix port's ssl module parses DER only, not PEM)."""
    text = Path(pem_file).read_text(encoding="ascii", errors="replace")
    end = "-----END CERTIFICATE-----"
    start = text.find("-----BEGIN CERTIFICATE-----")
    if start < 0 or end not in text[start:]:
        raise MqttAuthError(f"{pem_file}: no PEM certificate in it")
    return ssl.PEM_cert_to_DER_cert(text[start : text.index(end, start) + len(end)])


def hash_password(
    password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """`$7$<iterations>$<base64 salt>$<base64 digest>`, Mosquitto 2's PBKDF2-SHA512 hash."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, DIGEST_BYTES)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode('ascii')}${b64(digest).decode('ascii')}"


def check_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a `$7$` hash (as Mosquitto checks a login)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[:2] != ["", "7"] or not parts[2].isdigit():
        return False
    salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    mine = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]), len(digest))
    return hmac.compare_digest(mine, digest)


def _check_user(user: str) -> None:
    # ':' ends the username in the password file; '+', '#', '/' would turn the ACL's %u
    # into a wildcard or another topic level
    if not user or any(c in user for c in ":+#/\n\r\0 "):
        raise MqttAuthError(f"{user!r} cannot be an MQTT username")


def broker_accounts(
    nodes: Iterable[NodeInfo], gateway_user: str, gateway_password: str
) -> dict[str, str]:
    """username -> password: the gateway, and every node that is not revoked."""
    _check_user(gateway_user)
    if not gateway_password:
        raise MqttAuthError(f"the gateway account {gateway_user!r} has no password")
    accounts = {gateway_user: gateway_password}
    for node in nodes:
        if node.revoked:
            continue
        if node.node in accounts:
            raise MqttAuthError(f"node {node.node} has the gateway's username {gateway_user!r}")
        _check_user(node.node)
        accounts[node.node] = node_password(node.key)
    return accounts


def password_file(accounts: dict[str, str]) -> str:
    """Mosquitto's `password_file`: one `user:$7$...` line per account, each freshly salted."""
    for user in accounts:
        _check_user(user)
    return "".join(f"{user}:{hash_password(pw)}\n" for user, pw in sorted(accounts.items()))


def acl_file(gateway_user: str) -> str:
    """Mosquitto's `acl_file`: the gateway reads uplinks and status of every node (also via
    `$share/<group>/ruong/+/up`: Mosquitto checks a shared subscription's topic filter) and
    writes the retained configs; a node (`%u` = its username = its node id) writes its own
    uplink and status and reads its own config. Anything not granted is refused: a publish
    elsewhere is dropped, a subscription elsewhere delivers nothing."""
    _check_user(gateway_user)
    return (
        "# Written by `ruong mqtt sync` (backend/mqtt_auth.py); edits are overwritten.\n"
        f"user {gateway_user}\n"
        "topic read ruong/+/up\n"
        "topic read ruong/+/status\n"
        "topic write ruong/+/config\n"
        "\n"
        "# every other account is a node whose username is its node id\n"
        "pattern write ruong/%u/up\n"
        "pattern write ruong/%u/status\n"
        "pattern read ruong/%u/config\n"
    )


def _write_private(path: Path, text: str) -> None:
    """Write `text` through a temporary file and a rename, so the broker, reloading
    meanwhile, reads the old file or the new one. A new file is readable by its owner only;
    an existing one keeps its mode, and its owner and group where we may set them (e.g.
    `root:mosquitto`, 0640, made once by the operator: docs/mqtt-broker.md)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if path.exists():
            old = path.stat()
            with contextlib.suppress(PermissionError):
                os.fchown(fd, old.st_uid, old.st_gid)
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1  # the file object owns it now
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def write_broker_files(
    passwd: Path,
    acl: Path,
    nodes: Iterable[NodeInfo],
    gateway_user: str,
    gateway_password: str,
) -> dict[str, str]:
    """Write the password file and the ACL for the gateway and the live `nodes`; return the
    accounts written (username -> password). The broker reads them on its next reload."""
    accounts = broker_accounts(nodes, gateway_user, gateway_password)
    _write_private(passwd, password_file(accounts))
    _write_private(acl, acl_file(gateway_user))
    return accounts
