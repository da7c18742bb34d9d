"""What every delivery channel takes and answers: one `Delivery` in, one `SendResult` out.

The outbox's sender (issue 14, "Delivery") claims a row, builds a `Delivery` from it and calls
`Channel.send`. The channel speaks one provider's protocol and translates the provider's answer
into one of three outcomes, which is all the sender needs to decide what happens next:

- `delivered`: the provider took the message (or its dedupe recognised a resend). Done.
- `transient`: try this channel again later (`retry_after_s` when the provider said when).
- `permanent`: this channel will not carry this message; fall back to the person's next one.

`send` never raises for what a provider or the network does: a refusal, a timeout or a
connection refused is a result. It raises only for programming errors (a malformed `Delivery`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol, runtime_checkable

LEVELS = (1, 2, 3)  # alert levels, as the forecasts' pest levels: 3 is act now


class Outcome(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Delivery:
    """One message to one person over one channel, already rendered from the catalogue.

    idempotency_key: the outbox row's key; the same key on a resend (provider request ids,
        the email Message-ID, the webhook `Idempotency-Key`).
    subject, body: the rendered words (Vietnamese unless `lang` says otherwise); `body` says
        what to do and by when.
    level: 1-3.
    name, phone, email, lang: the recipient; `phone` in E.164 (`+84912345678`), the number
        Zalo and SMS use; None where the person has none.
    ack_url: the signed one-tap acknowledgement link, where the alert wants one.
    template_data: the named parameters of a template channel (Zalo ZNS), rendered strings.
    """

    idempotency_key: str
    subject: str
    body: str
    level: int
    name: str = ""
    phone: str | None = None
    email: str | None = None
    lang: str = "vi"
    ack_url: str | None = None
    template_data: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("a Delivery needs an idempotency key")
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {self.level!r}")
        # frozen all the way down: a channel cannot change what the outbox recorded
        object.__setattr__(self, "template_data", MappingProxyType(dict(self.template_data)))


@dataclass(frozen=True)
class SendResult:
    """A provider's answer in the sender's terms.

    provider_id: the provider's id for the message (SMTP Message-ID, ZNS msg_id, eSMS SMSID).
    detail: why, in a line for the send log (provider code and text; never a secret).
    retry_after_s: for `transient`, the earliest sensible retry when the provider said so
        (Retry-After, a quota window); None: the sender's own backoff.
    """

    outcome: Outcome
    provider_id: str | None = None
    detail: str = ""
    retry_after_s: float | None = None

    @classmethod
    def delivered(cls, provider_id: str | None = None, detail: str = "") -> SendResult:
        return cls(Outcome.DELIVERED, provider_id, detail)

    @classmethod
    def transient(cls, detail: str, retry_after_s: float | None = None) -> SendResult:
        return cls(Outcome.TRANSIENT, None, detail, retry_after_s)

    @classmethod
    def permanent(cls, detail: str) -> SendResult:
        return cls(Outcome.PERMANENT, None, detail)


@runtime_checkable
class Channel(Protocol):
    """A delivery channel, constructed from its config section (URL and secrets as arguments)."""

    name: str

    def send(self, delivery: Delivery) -> SendResult:
        """Hand `delivery` to the provider once; the outcome, never an exception for the
        provider's or the network's doing."""
        ...

    def close(self) -> None:
        """Release connections; the channel is not used afterwards."""
        ...


def vietnamese_national(phone: str | None) -> str | None:
    """`+84912345678` -> `912345678` (the 9 digits after the country code), else None: the
    Vietnamese channels (Zalo, SMS) take no other numbers."""
    if phone is None or not phone.startswith("+84"):
        return None
    digits = phone[3:]
    return digits if len(digits) == 9 and digits.isascii() and digits.isdigit() else None
