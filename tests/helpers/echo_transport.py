"""A tiny in-process transport for worker protocol tests (``--transport simulator=...``).

It "connects" at once when ``<private_dir>/paired`` exists, else reports not_paired; it never
makes a QR unless asked to pair. ``send_text`` returns ``wa-<key>``; a text of ``"boom"`` raises
a SendFailedError, ``"crash"`` raises a bare exception (the worker must survive both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from app.domain.channels import Reason
from app.services.transport import (
    EventKind,
    EventSink,
    OutboundMedia,
    SendFailedError,
    SendFailureKind,
    TransportEvent,
)


class EchoTransport:
    def __init__(self, channel: str, private_dir: str, emit: EventSink) -> None:
        self.channel = channel
        self._paired = Path(private_dir) / "paired"
        self._emit = emit

    def _state(self, reason: Reason) -> None:
        self._emit(TransportEvent(EventKind.STATE, self.channel, reason=reason))

    async def connect(self) -> None:
        self._state(Reason.CONNECTED if self._paired.exists() else Reason.NOT_PAIRED)

    async def pair_qr(self) -> None:
        self._emit(TransportEvent(EventKind.QR, self.channel, qr="2@echo"))

    async def pair_code(self, phone_e164: str) -> str:
        return "ECHO-CODE"

    async def cancel_pairing(self) -> None:
        return None

    async def send_text(self, to_jid: str, text: str, idempotency_key: str) -> str:
        if text == "boom":
            raise SendFailedError(SendFailureKind.BAD_RECIPIENT, "not_on_whatsapp")
        if text == "crash":
            raise RuntimeError("transport bug")
        return f"wa-{idempotency_key}"

    async def send_media(self, to_jid: str, media: OutboundMedia, idempotency_key: str) -> str:
        return f"wa-{idempotency_key}"

    async def mark_read(self, chat_jid: str, wa_ids: Sequence[str]) -> None:
        return None

    async def set_typing(self, chat_jid: str, on: bool) -> None:
        return None

    async def ack(self, ack_ref: str) -> None:
        return None

    async def logout(self) -> None:
        self._paired.unlink(missing_ok=True)

    async def stop(self) -> None:
        return None


def make_echo_transport(
    channel: str, config: Mapping[str, object], private_dir: str, emit: EventSink
) -> EchoTransport:
    return EchoTransport(channel, private_dir, emit)
