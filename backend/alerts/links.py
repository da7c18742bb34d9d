"""Signed one-tap acknowledgement links in messages: `<base>/ack/<alert id>?p=<person
id>&e=<expiry, Unix s>&s=<signature>`, the signature HMAC-SHA256 over the three numbers
with `[alerts] link_secret` (128 bits of it, base64url), so the link acknowledges as that
person without a login, for that alert only, until it expires.

The link opens a page with one button: following it does not acknowledge by itself, because
chat apps (Zalo among them) and mail scanners open links to show a preview.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

LIFETIME = timedelta(days=3)  # longer than any alert stays actionable without a new message


def _signature(secret: str, alert_id: int, person_id: int, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"{alert_id}.{person_id}.{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()


def ack_url(base: str, secret: str, alert_id: int, person_id: int, now: datetime) -> str:
    """The link a message carries for `person_id` to acknowledge `alert_id`."""
    expires = int((now + LIFETIME).timestamp())
    query = {"p": person_id, "e": expires, "s": _signature(secret, alert_id, person_id, expires)}
    return f"{base.rstrip('/')}/ack/{alert_id}?{urlencode(query)}"


def verify(
    secret: str, alert_id: int, person: str, expires: str, signature: str, now: datetime
) -> int | None:
    """The person id a link stands for, or None when it is forged, altered or expired."""
    if not (person.isdigit() and expires.isdigit()) or not secret:
        return None
    if int(expires) < now.timestamp():
        return None
    expected = _signature(secret, alert_id, int(person), int(expires))
    return int(person) if hmac.compare_digest(expected, signature) else None
