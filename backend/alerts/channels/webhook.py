"""Webhooks: the alert as signed JSON to `[channels.webhook] url` (issue 14, "Channels").

The request
-----------
`POST <url>` with `Content-Type: application/json` and a UTF-8 body::

    {"idempotency_key": "...", "level": 3, "subject": "...", "body": "...",
     "ack_url": "https://..." or null, "lang": "vi", "sent_at": "2025-06-01T07:30:00Z"}

`Idempotency-Key: <idempotency_key>`: a resend of the same delivery carries the same key (and the
same JSON but `sent_at`), so a receiver that remembers keys can drop the duplicate.

The signature
-------------
::

    X-Ruong-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

To verify, a receiver (see `verify_signature`, which does exactly this):

1. splits the header on "," and each part on the first "=", taking `t` and `v1`;
2. rejects the request when `t` is more than a tolerance (300 s suggested) from its own clock:
   a captured request cannot be replayed later;
3. computes HMAC-SHA256 with the endpoint's secret over the bytes `t`, ".", and the raw request
   body exactly as received (before any JSON parsing), as lowercase hex;
4. compares it with `v1` in constant time (`hmac.compare_digest`) and rejects on a mismatch.

The answer
----------
2xx: delivered. 408, 429 and 5xx: transient, after `Retry-After` (seconds or an HTTP date)
when the receiver sends one. A redirect is not followed (a signed alert goes where it was
configured to) and, like any other 4xx, is permanent. No answer within the timeout, or no
connection: transient.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from backend.alerts.channels.base import Delivery, SendResult

SIGNATURE_HEADER = "X-Ruong-Signature"
TOLERANCE_S = 300
TRANSIENT_STATUS = frozenset({408, 429})


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>." + body` (the module docstring's scheme)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    header: str,
    body: bytes,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """A receiver's check of `X-Ruong-Signature` (see the module docstring)."""
    fields = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
        claimed = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), claimed)


def retry_after_s(value: str | None, now: float) -> float | None:
    """`Retry-After` (RFC 9110, 10.2.3) as seconds from `now`: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class WebhookChannel:
    """Signed JSON POSTs to one endpoint.

    url: `https://host/path` (or `http://` on a trusted network).
    secret: this endpoint's HMAC key, shared with the receiver.
    ca_file: PEM CA certificates an `https` receiver is verified with; None: the system's.
    timeout_s: connect and read timeout, seconds.
    clock: Unix time in seconds (tests pass a fixed one).
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"channels.webhook.url: {url!r} must be an http(s):// URL")
        if not secret:
            raise ValueError("channels.webhook.secret is empty: the receiver could not verify")
        self.url = url
        self._secret = secret.encode()
        self._clock = clock
        self._http = httpx.Client(
            timeout=timeout_s,
            verify=ssl.create_default_context(cafile=ca_file),
            follow_redirects=False,
            headers={"User-Agent": "ruong-alerts"},
        )

    def payload(self, delivery: Delivery, now: float) -> bytes:
        """The JSON body for `delivery`, sent at `now` (Unix seconds)."""
        sent_at = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        document = {
            "idempotency_key": delivery.idempotency_key,
            "level": delivery.level,
            "subject": delivery.subject,
            "body": delivery.body,
            "ack_url": delivery.ack_url,
            "lang": delivery.lang,
            "sent_at": sent_at,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def send(self, delivery: Delivery) -> SendResult:
        now = self._clock()
        timestamp = int(now)
        body = self.payload(delivery, now)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": delivery.idempotency_key,
            SIGNATURE_HEADER: f"t={timestamp},v1={signature(self._secret, timestamp, body)}",
        }
        try:
            resp = self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # connect refused, timeout, reset, TLS
            return SendResult.transient(f"{self.url} unreachable: {exc!r}")
        status = resp.status_code
        detail = f"HTTP {status} {resp.reason_phrase}".rstrip()
        if 200 <= status < 300:
            return SendResult.delivered(resp.headers.get("X-Request-Id"), detail)
        if status in TRANSIENT_STATUS or status >= 500:
            return SendResult.transient(detail, retry_after_s(resp.headers.get("Retry-After"), now))
        if 300 <= status < 400:
            detail += f", redirect to {resp.headers.get('Location', '?')} not followed"
        return SendResult.permanent(detail)

    def close(self) -> None:
        self._http.close()
