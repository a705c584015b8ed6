"""The transport interface every WhatsApp engine implements (simulator, neonize, Cloud API).

Transports report facts; the supervisor decides. A transport never retries a connection, never
shows a QR unless asked to pair, and never resends a message by itself. Events go to the ``emit``
sink given at construction, in order, from the worker's event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from app.domain.channels import Reason


class EventKind(StrEnum):
    STATE = "state"  # reason says what happened; the supervisor maps it to a state
    QR = "qr"  # a QR payload to show (only while pairing)
    PAIR_CODE = "pair_code"  # a pairing code to type on the phone
    INBOUND = "inbound"  # a patient message (normalised)
    RECEIPT = "receipt"  # sent / delivered / read / failed for one of our messages
    SYNC = "sync"  # history sync progress
    HEARTBEAT = "heartbeat"  # the link is alive (no data)


class Receipt(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as the engine stores it; ``media`` carries bytes already downloaded."""

    wa_id: str
    chat_jid: str
    sender_jid: str
    timestamp: float  # seconds since the epoch, from WhatsApp
    kind: str = "text"  # text, image, document, audio, video, location, contact, reaction
    text: str | None = None
    push_name: str | None = None
    media_b64: str | None = None
    media_mime: str | None = None
    media_name: str | None = None
    # location, vcard, quoted id, reacted_to (the WhatsApp id a reaction is on)
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TransportEvent:
    """One fact from a transport about one channel. ``ack_ref`` set: acknowledge after commit."""

    kind: EventKind
    channel: str
    reason: Reason | None = None
    detail: str | None = None  # raw provider code, e.g. "402:101"
    until: float | None = None  # temporary ban expiry (epoch seconds)
    qr: str | None = None
    code: str | None = None
    message: InboundMessage | None = None
    wa_id: str | None = None
    receipt: Receipt | None = None
    progress: float | None = None
    ack_ref: str | None = None


EventSink = Callable[[TransportEvent], None]


class SendFailureKind(StrEnum):
    TRANSIENT = "transient"  # retry with backoff
    RATE_LIMITED = "rate_limited"  # retry after retry_after
    BAD_RECIPIENT = "bad_recipient"  # not on WhatsApp, invalid number
    NOT_CONNECTED = "not_connected"  # the link is down: keep queued
    AUTH = "auth"  # logged out
    BANNED = "banned"
    PERMANENT = "permanent"


class SendFailedError(Exception):
    """A send did not succeed. ``ambiguous``: it may have reached WhatsApp; never resend it."""

    def __init__(
        self,
        kind: SendFailureKind,
        code: str,
        *,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(f"{kind.value}:{code}")
        self.kind, self.code = kind, code
        self.retry_after, self.ambiguous = retry_after, ambiguous


@dataclass(frozen=True, slots=True)
class OutboundMedia:
    data_b64: str
    mime: str
    filename: str | None = None
    caption: str | None = None


class Transport(Protocol):
    """One WhatsApp link for one channel, hosted in a channel worker process."""

    channel: str

    async def connect(self) -> None:
        """Connect with stored credentials; report NOT_PAIRED (no QR!) when there are none."""

    async def pair_qr(self) -> None:
        """Start QR pairing: QR events follow until paired, failed or ``cancel_pairing``."""

    async def pair_code(self, phone_e164: str) -> str:
        """Start pairing by code for ``phone_e164``; returns the code to type on the phone."""

    async def cancel_pairing(self) -> None:
        """Stop producing QR codes (the engine's pairing window ended)."""

    async def send_text(self, to_jid: str, text: str, idempotency_key: str) -> str:
        """Send ``text``; returns WhatsApp's message id; raises :class:`SendFailedError`."""

    async def send_media(self, to_jid: str, media: OutboundMedia, idempotency_key: str) -> str:
        """Send an image, document or audio; returns the message id; raises SendFailedError."""

    async def mark_read(self, chat_jid: str, wa_ids: Sequence[str]) -> None:
        """Send read receipts for ``wa_ids``."""

    async def set_typing(self, chat_jid: str, on: bool) -> None:
        """Show or clear "typing…" in ``chat_jid``."""

    async def ack(self, ack_ref: str) -> None:
        """The engine committed the event carrying ``ack_ref``; it need not be redelivered."""

    async def logout(self) -> None:
        """Unlink the device and wipe its credentials (a person must pair again)."""

    async def stop(self) -> None:
        """Disconnect, keeping credentials (suspend, shutdown)."""


class TransportFactory(Protocol):
    """Builds the transport for one channel inside a worker."""

    def __call__(
        self, channel: str, config: Mapping[str, object], private_dir: str, emit: EventSink
    ) -> Transport: ...
