"""SMS through an eSMS.vn brandname gateway (issue 14, "Channels"); `[channels.sms] url`,
`api_key`, `secret_key`, `brandname`.

`POST {url}/MainService.svc/json/SendMultipleMessage_V4_post_json/` with the JSON fields of
eSMS's "Send OTP/Customer care message" (developers.esms.vn): `ApiKey`, `SecretKey`, `Phone`
(the domestic form `0912345678`, as in eSMS's examples), `Content`, `Brandname`, `SmsType`
"2" (customer care), `IsUnicode` "0"/"1", and `RequestId`: the idempotency key (at most 50
characters; a longer or odd key is sent as its SHA-256). eSMS blocks a RequestId it has seen in
the last 24 hours and answers 124, so a resend after a crash costs nothing and counts as
delivered: the first request was the one accepted.

`CodeResult` (eSMS "Table of error codes"):

- 100 accepted (`SMSID`; delivery to the handset is only reported by callback), 124 duplicate
  RequestId: delivered;
- 99 number blocked, 108 number malformed, 177 the brandname is not registered with the
  recipient's network: permanent for this person;
- 101 wrong ApiKey/SecretKey, 102 no price list, 103 balance too low, 104 brandname not
  registered, 118 message type unsupported, 140 server IP not whitelisted, 146 the text does
  not match a registered customer-care template: permanent, logged as errors (the operator's
  to fix; the person gets the next channel meanwhile);
- any other code, HTTP 5xx, no connection, a timeout: transient (the RequestId makes a retry
  within 24 h safe).

Length is checked before anything is sent. A GSM-7 message holds 160 characters, 153 a part
when concatenated; with diacritics the text is UCS-2, 70 characters, 67 a part (3GPP TS 23.038
and 23.040). `unicode=False` strips the Vietnamese diacritics first ("Tưới nước ngay" ->
"Tuoi nuoc ngay"), so one cheap segment says what an unreadable split would. A text over
`max_segments` (default 1 without diacritics, 2 with) is permanent "too long" without a request.
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import unicodedata
from typing import Literal

import httpx

from backend.alerts.channels.base import Delivery, SendResult, vietnamese_national

log = logging.getLogger(__name__)

PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
SMS_TYPE_CUSTOMER_CARE = "2"
REQUEST_ID_MAX = 50
_PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,50}")

# GSM 03.38 (3GPP TS 23.038, 6.2.1) default alphabet, in code order 0x00-0x7F, 16 a row;
# 0x1B is the escape to the extension table, not a character
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\x0c^{}\\[~]|€")  # each costs two septets (escape + code)
_GSM7 = frozenset(GSM7_BASIC) - {"\x1b"} | GSM7_EXTENSION
# (single message, one part of a concatenated one): the user-data header takes the difference
CAPACITY = {"gsm7": (160, 153), "ucs2": (70, 67)}

DELIVERED = {"100": "accepted", "124": "duplicate RequestId, accepted before"}
PERSON = {
    "99": "phone number blocked",
    "108": "phone number malformed",
    "177": "brandname not registered with the recipient's network",
}
CONFIG = {
    "101": "ApiKey or SecretKey incorrect",
    "102": "no price list",
    "103": "balance too low",
    "104": "brandname not registered",
    "118": "message type unsupported",
    "140": "server IP not whitelisted",
    "146": "text does not match a registered customer-care template",
}
# typography a translator may type that GSM-7 lacks: its plain equivalent rather than a "?"
_PLAIN = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}
)

Encoding = Literal["gsm7", "ucs2"]


def segments(text: str) -> tuple[Encoding, int]:
    """The encoding `text` needs and how many SMS it takes: GSM-7 if every character is in the
    default alphabet or its extension table (those cost two septets), else UCS-2 (characters
    beyond the BMP cost two code units). A concatenated part never splits an escape pair or a
    surrogate pair."""
    encoding: Encoding
    if all(c in _GSM7 for c in text):
        encoding = "gsm7"
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
    else:
        encoding = "ucs2"
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    single, part = CAPACITY[encoding]
    if sum(costs) <= single:
        return encoding, 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return encoding, count


def strip_diacritics(text: str) -> str:
    """Vietnamese without its marks: đ/Đ -> d/D (a letter of its own, no decomposition), then
    every combining mark of the NFD form dropped (ư -> u, ơ -> o, â -> a, ế -> e, ...)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)


def to_gsm7(text: str) -> str:
    """`text` in the GSM-7 alphabet: diacritics stripped, typographic punctuation made plain,
    anything still outside the alphabet a "?" (what a handset shows for it anyway)."""
    plain = strip_diacritics(text).translate(_PLAIN)
    return "".join(c if c in _GSM7 else "?" for c in plain)


def request_id(idempotency_key: str) -> str:
    """The eSMS RequestId for a key: the key itself if it fits (<= 50 plain characters), else
    the first 50 hex digits of its SHA-256; the same key, the same RequestId."""
    if _PLAIN_REQUEST_ID.fullmatch(idempotency_key):
        return idempotency_key
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:REQUEST_ID_MAX]


class SmsChannel:
    """Brandname customer-care SMS through eSMS.

    url: the API base, `https://rest.esms.vn`.
    api_key, secret_key: the account's credentials (secrets).
    brandname: the registered sender name the phone shows.
    unicode: keep the diacritics (UCS-2, 70 characters a segment); False: strip them (GSM-7).
    max_segments: the most SMS one message may take; None: 1 without diacritics, 2 with.
    sandbox: eSMS's test mode (validated, not sent, not charged).
    timeout_s: connect and read timeout, seconds.
    """

    name = "sms"

    def __init__(
        self,
        url: str,
        api_key: str,
        secret_key: str,
        brandname: str,
        unicode: bool = False,
        max_segments: int | None = None,
        sandbox: bool = False,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not (api_key and secret_key and brandname):
            raise ValueError("channels.sms needs api_key, secret_key and brandname")
        self.url = url.rstrip("/") + PATH
        self._api_key = api_key
        self._secret_key = secret_key
        self._brandname = brandname
        self.unicode = unicode
        self.max_segments = max_segments if max_segments is not None else (2 if unicode else 1)
        if self.max_segments < 1:
            raise ValueError("channels.sms.max_segments must be at least 1")
        self._sandbox = sandbox
        self._http = httpx.Client(
            timeout=timeout_s, verify=ssl.create_default_context(cafile=ca_file)
        )

    def content(self, delivery: Delivery) -> str:
        """The text sent: the body (without diacritics unless `unicode`), and the ack link
        after it when the link still fits in `max_segments`."""
        text = delivery.body if self.unicode else to_gsm7(delivery.body)
        if delivery.ack_url:
            linked = f"{text} {delivery.ack_url}"
            if segments(linked)[1] <= self.max_segments:
                return linked
        return text

    def send(self, delivery: Delivery) -> SendResult:
        national = vietnamese_national(delivery.phone)
        if national is None:
            return SendResult.permanent(f"no Vietnamese mobile number ({delivery.phone!r})")
        text = self.content(delivery)
        encoding, count = segments(text)
        if count > self.max_segments:
            return SendResult.permanent(
                f"too long: {len(text)} characters need {count} {encoding} SMS, "
                f"at most {self.max_segments} allowed"
            )
        body = {
            "ApiKey": self._api_key,
            "SecretKey": self._secret_key,
            "Phone": "0" + national,
            "Content": text,
            "Brandname": self._brandname,
            "SmsType": SMS_TYPE_CUSTOMER_CARE,
            "IsUnicode": "1" if encoding == "ucs2" else "0",
            "RequestId": request_id(delivery.idempotency_key),
        }
        if self._sandbox:
            body["Sandbox"] = "1"
        try:
            resp = self._http.post(self.url, json=body)
        except httpx.HTTPError as exc:
            return SendResult.transient(f"eSMS unreachable: {exc!r}")
        try:
            answer = resp.json()
            code = str(answer["CodeResult"])
        except (ValueError, KeyError, TypeError):
            if resp.status_code >= 500 or resp.is_success:
                return SendResult.transient(f"eSMS HTTP {resp.status_code}, unreadable answer")
            log.error("sms: eSMS answers HTTP %s at %s", resp.status_code, self.url)
            return SendResult.permanent(f"eSMS HTTP {resp.status_code}")
        return self._outcome(code, answer, count)

    def _outcome(self, code: str, answer: dict[str, object], count: int) -> SendResult:
        reason = answer.get("ErrorMessage") or ""
        if code in DELIVERED:
            sms_id = answer.get("SMSID")
            return SendResult.delivered(
                str(sms_id) if sms_id else None, f"eSMS {code}: {DELIVERED[code]}, {count} SMS"
            )
        detail = f"eSMS {code}: {PERSON.get(code) or CONFIG.get(code) or reason or 'unknown'}"
        if code in CONFIG:
            log.error("sms: eSMS refuses the channel's configuration: %s", detail)
            return SendResult.permanent(detail)
        if code in PERSON:
            return SendResult.permanent(detail)
        return SendResult.transient(detail)

    def close(self) -> None:
        self._http.close()
