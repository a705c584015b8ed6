"""Ports of outbound sending (outbox rows, outbound messages, receipts).

``Tx.outbox`` exposes them inside a transaction. Every method runs inside the caller's
transaction: a claim is durable only once that transaction commits, which the sender waits for
before it calls the transport.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from app.domain.media import BlobRef


@dataclass(frozen=True, slots=True)
class TicketTarget:
    """Where a reply on a ticket goes: its branch, channel, patient and chat."""

    ticket_id: int
    branch_id: int
    channel_id: int
    contact_id: int
    chat_jid: str | None  # None: no chat known for the patient on this channel
    first_response_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A stored attachment of an outbound message (the blob is already in the media store)."""

    ref: BlobRef
    kind: str  # image, document, audio, video
    name: str  # safe display name


@dataclass(frozen=True, slots=True)
class NewOutbound:
    """An outbound message to store and queue: text, or an attachment with ``text`` as caption."""

    target: TicketTarget
    text: str
    author_id: int | None
    idempotency_key: str
    at: datetime
    automatic: bool = False
    file: OutboundFile | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An outbox row with its message. ``text`` is patient data: never log it."""

    id: int
    channel_id: int
    branch_id: int
    message_id: int
    ticket_id: int | None
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    to_jid: str
    text: str
    wa_id: str | None
    ack: str
    media_sha256: str | None = None  # set: send the blob as media, ``text`` is its caption
    media_mime: str | None = None
    media_name: str | None = None


@dataclass(frozen=True, slots=True)
class AckChange:
    """A receipt that moved a stored outbound message forward."""

    message_id: int
    channel_id: int
    branch_id: int
    ticket_id: int | None
    ack: str


@dataclass(slots=True)
class ChannelCounts:
    """Stored messages and outbox rows of one channel (for status and crash tests)."""

    channel_id: int
    name: str
    inbound: int = 0
    outbound: int = 0
    outbox: dict[str, int] = field(default_factory=dict)


class OutboxRepo(Protocol):
    """The outbox and outbound message rows inside one transaction."""

    def ticket_target(self, ticket_id: int) -> TicketTarget | None:
        """The ticket's branch, channel, patient and the chat replies go to."""
        ...

    def set_first_response(self, ticket_id: int, at: datetime) -> bool:
        """Stamp the ticket's first response unless it has one or the clinic started it;
        True if stamped now."""
        ...

    def add(self, new: NewOutbound) -> tuple[OutboxItem, bool]:
        """Insert the message (out, ack pending) and its queued outbox row together.

        A known ``idempotency_key`` inserts nothing: returns the existing row and False.
        """
        ...

    def get(self, outbox_id: int) -> OutboxItem | None: ...

    def get_by_key(self, idempotency_key: str) -> OutboxItem | None: ...

    def head(self, channel_id: int) -> OutboxItem | None:
        """The channel's oldest queued row (strict FIFO per channel), due or not."""
        ...

    def claim(self, outbox_id: int, at: datetime) -> OutboxItem | None:
        """queued → sending and attempts + 1; None unless the row was queued."""
        ...

    def mark_sent(self, outbox_id: int, wa_id: str, at: datetime) -> OutboxItem:
        """sending → sent; the message gets ``wa_id`` and ack ``sent`` (if still pending)."""
        ...

    def mark_retry(self, outbox_id: int, error: str, next_at: datetime, at: datetime) -> OutboxItem:
        """sending → queued, due at ``next_at``; the attempt stays counted."""
        ...

    def release(self, outbox_id: int, error: str, at: datetime) -> OutboxItem:
        """sending → queued, due now, and the attempt is given back (it never left)."""
        ...

    def mark_failed(self, outbox_id: int, error: str, at: datetime) -> OutboxItem:
        """→ failed with ``error``; the message's ack becomes ``failed``."""
        ...

    def mark_needs_review(self, outbox_id: int, error: str, at: datetime) -> OutboxItem:
        """→ needs_review with ``error``: it may have been sent; nothing resends it."""
        ...

    def recover(self, at: datetime) -> builtins.list[OutboxItem]:
        """Every row left in ``sending`` (by a crash) → needs_review; returns them."""
        ...

    def requeue(self, outbox_id: int, at: datetime) -> OutboxItem:
        """A person's retry: → queued, due now, attempts 0; the message's ack back to pending."""
        ...

    def apply_receipt(self, channel_id: int, wa_id: str, receipt: str) -> AckChange | None:
        """Move the outbound message ``wa_id`` forward; None if unknown or nothing changed."""
        ...

    def knows_wa_id(self, channel_id: int, wa_id: str) -> bool: ...

    def problems(self, branch_ids: frozenset[int] | None, limit: int) -> builtins.list[OutboxItem]:
        """FAILED and NEEDS_REVIEW rows of ``branch_ids`` (None: all), newest first."""
        ...

    def counts(self) -> builtins.list[ChannelCounts]:
        """Per channel: inbound and outbound messages, outbox rows by status."""
        ...
