"""Bus events of outbound sending (ids and codes only: never text or phone numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.events import Event


@dataclass(frozen=True, slots=True)
class OutboxChanged(Event):
    """An outbox row was queued or changed state (queued, sending, sent, failed, needs_review).

    ``error`` is the stored reason code (``kind:code``) for retries, failures and reviews.
    """

    channel_id: int
    outbox_id: int
    message_id: int
    ticket_id: int | None
    status: str
    attempts: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MessageAckChanged(Event):
    """A receipt moved a stored outbound message forward (sent, delivered, read, failed)."""

    channel_id: int
    message_id: int
    ticket_id: int | None
    ack: str
