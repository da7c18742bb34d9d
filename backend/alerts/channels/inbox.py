"""The dashboard's in-app inbox as a delivery target (issue 14, "Channels").

The dashboard issue implements `Inbox` over the registry; `MemoryInbox` is the reference
behaviour for tests: the inbox is ours, so it dedupes by idempotency key itself.
"""

from __future__ import annotations

from typing import Protocol

from backend.alerts.channels.base import Delivery, SendResult


class Inbox(Protocol):
    def deliver(self, person_id: str, delivery: Delivery) -> SendResult:
        """Put `delivery` in `person_id`'s inbox once (a resend with the same key is
        delivered again, stored once)."""
        ...


class MemoryInbox:
    """An `Inbox` in a dict: person id -> deliveries in arrival order."""

    def __init__(self) -> None:
        self.messages: dict[str, list[Delivery]] = {}

    def deliver(self, person_id: str, delivery: Delivery) -> SendResult:
        box = self.messages.setdefault(person_id, [])
        if all(d.idempotency_key != delivery.idempotency_key for d in box):
            box.append(delivery)
        return SendResult.delivered(delivery.idempotency_key, f"in {person_id}'s inbox")
