"""Zalo ZNS (Zalo Notification Service): a template message to the person's phone (issue 14,
"Channels"); `[channels.zalo] url`, `access_token`, `template_id`.

`POST {url}/message/template` with the Official Account's token in the `access_token` header
and the JSON `{"phone": "84912345678", "template_id": ..., "template_data": {...},
"tracking_id": <idempotency key>}`. Zalo answers HTTP 200 with `{"error": 0, "message":
"Success", "data": {"msg_id": ..., "sent_time": ..., "quota": {"dailyQuota": ...,
"remainingQuota": ...}}}`, or a negative `error` and its `message`.

The error codes (Zalo's ZNS guide "Cách xử lý mã lỗi", zalo.cloud/zns/guidelines/handle-error-code):

- -100 unknown error, "please retry later": transient;
- -108 invalid phone number: permanent (this person cannot get ZNS);
- -110 the person's Zalo app is too old: permanent;
- -101..-106 (application invalid, missing, not activated, bad secret, not linked to an OA,
  method unsupported), -109 template id invalid, -111/-112 template data empty or invalid,
  -124 access token invalid or expired: permanent for the channel and logged as errors, because
  no retry succeeds until the operator fixes the configuration or renews the token;
- a quota refusal ("Out of quota", the OA's daily quota used up; recognised by its message,
  the one part of it the guide gives in full): transient, retried after the quota window, the
  next midnight in Vietnam;
- HTTP 429 and 5xx, no connection, a timeout: transient;
- any other code: permanent, so the sender falls back to the next channel rather than retrying
  what Zalo never said was retryable.

`tracking_id` is the caller's reconciliation id: Zalo documents it for matching answers and
callbacks to requests, not as a dedupe key, so a resend with the same tracking_id is a second
message. Exactly-once to the person is the outbox's job here; the channel never retries on its
own, and a timeout after the request left (which may or may not have been sent) is the one case
where the sender's retry can duplicate.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from backend.alerts.channels.base import Delivery, SendResult, vietnamese_national

log = logging.getLogger(__name__)

RETRY_LATER = {-100: "unknown error"}
CONFIG = {
    -101: "application invalid",
    -102: "application does not exist",
    -103: "application not activated",
    -104: "application secret key invalid",
    -105: "application not linked to an Official Account",
    -106: "method unsupported",
    -109: "template id invalid",
    -111: "template data empty",
    -112: "template data invalid",
    -124: "access token invalid or expired",
}
QUOTA_MARGIN_S = 60.0  # past midnight, for the provider's clock


class ZaloChannel:
    """ZNS template messages from one Official Account with one template.

    url: the ZNS API base, `https://business.openapi.zalo.me`.
    access_token: the OA's access token (a secret).
    template_id: the approved template the alerts are sent with.
    timezone: where the daily quota's day ends.
    ca_file: PEM CA certificates the API is verified with; None: the system's.
    timeout_s: connect and read timeout, seconds.
    clock: Unix time in seconds (tests pass a fixed one).
    """

    name = "zalo"

    def __init__(
        self,
        url: str,
        access_token: str,
        template_id: str,
        timezone: str = "Asia/Ho_Chi_Minh",
        ca_file: str | None = None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not access_token or not template_id:
            raise ValueError("channels.zalo needs access_token and template_id")
        self.url = url.rstrip("/") + "/message/template"
        self._token = access_token
        self._template_id = template_id
        self._zone = ZoneInfo(timezone)
        self._clock = clock
        self._http = httpx.Client(
            timeout=timeout_s, verify=ssl.create_default_context(cafile=ca_file)
        )

    def request(self, delivery: Delivery, phone: str) -> dict[str, object]:
        """The JSON body for `delivery` to `phone` (84xxxxxxxxx)."""
        return {
            "phone": phone,
            "template_id": self._template_id,
            "template_data": dict(delivery.template_data),
            "tracking_id": delivery.idempotency_key,
        }

    def send(self, delivery: Delivery) -> SendResult:
        national = vietnamese_national(delivery.phone)
        if national is None:
            return SendResult.permanent(f"no Vietnamese mobile number ({delivery.phone!r})")
        body = self.request(delivery, "84" + national)
        try:
            resp = self._http.post(self.url, json=body, headers={"access_token": self._token})
        except httpx.HTTPError as exc:
            return SendResult.transient(f"ZNS unreachable: {exc!r}")
        if resp.status_code == 429 or resp.status_code >= 500:
            return SendResult.transient(f"ZNS HTTP {resp.status_code}")
        try:
            answer = resp.json()
            code = int(answer["error"])
        except (ValueError, KeyError, TypeError):
            if resp.is_success:
                return SendResult.transient(f"ZNS HTTP {resp.status_code}, unreadable answer")
            return SendResult.permanent(f"ZNS HTTP {resp.status_code}")
        return self._outcome(code, str(answer.get("message", "")), answer.get("data"))

    def _outcome(self, code: int, message: str, data: object) -> SendResult:
        detail = f"ZNS error {code}: {message}"
        if code == 0:
            info = data if isinstance(data, dict) else {}
            quota = info.get("quota") if isinstance(info.get("quota"), dict) else {}
            left = quota.get("remainingQuota") if quota else None
            msg_id = info.get("msg_id")
            return SendResult.delivered(
                str(msg_id) if msg_id is not None else None,
                f"ZNS sent at {info.get('sent_time')}, daily quota left {left}",
            )
        if code in RETRY_LATER:
            return SendResult.transient(detail)
        if "quota" in message.lower():
            wait = self.seconds_to_quota_window()
            log.warning("zalo: ZNS quota used up (%s); retrying in %.0f s", message, wait)
            return SendResult.transient(detail, retry_after_s=wait)
        if code in CONFIG:
            log.error("zalo: ZNS refuses the channel's configuration: %s (%s)", CONFIG[code], code)
        return SendResult.permanent(detail)

    def seconds_to_quota_window(self) -> float:
        """Seconds until the next day starts where the quota is counted (plus a margin)."""
        now = datetime.fromtimestamp(self._clock(), self._zone)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), self._zone)
        return (midnight - now).total_seconds() + QUOTA_MARGIN_S

    def close(self) -> None:
        self._http.close()
