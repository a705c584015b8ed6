"""Sending through the connected neonize client (a mixin of NeonizeTransport).

Texts are explicit ``conversation`` messages and media messages are built by hand (see
wa_neonize); whatsmeow reports failures as text only, so a failed send is ambiguous.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from app.channels.transports import wa_mapping as m
from app.channels.transports.wa_handlers import Life
from app.channels.transports.wa_neonize import NeonizeApi, media_message, text_message
from app.domain.channels import Reason
from app.services.transport import OutboundMedia, SendFailedError, SendFailureKind

log = logging.getLogger(__name__)


class Sending:
    """send_text, send_media, mark_read and set_typing on the current client incarnation."""

    _life: Life | None
    _api: NeonizeApi
    _blocked: m.StateFact | None

    def _linked(self) -> Any:
        """The connected client, or the SendFailedError saying why there is none."""
        life = self._life
        if life is not None and life.connected:
            return life.client
        blocked = self._blocked
        if blocked is not None and blocked.reason in (Reason.BANNED, Reason.TEMP_BANNED):
            retry = None if blocked.until is None else max(0.0, blocked.until - time.time())
            raise SendFailedError(SendFailureKind.BANNED, blocked.detail, retry_after=retry)
        if blocked is not None and blocked.reason in m.SESSION_GONE:
            raise SendFailedError(SendFailureKind.AUTH, blocked.reason.value)
        raise SendFailedError(SendFailureKind.NOT_CONNECTED, "not_connected")

    async def _send(self, client: Any, to_jid: str, message: Any) -> str:
        try:
            response = await client.send_message(self._api.jid(to_jid), message)
        except self._api.exc.SendMessageError as exc:
            # whatsmeow gives text only, no code: it may have reached the server (never resend)
            raise SendFailedError(SendFailureKind.TRANSIENT, "send_error", ambiguous=True) from exc
        return str(response.ID)

    async def send_text(self, to_jid: str, text: str, idempotency_key: str) -> str:
        client = self._linked()
        return await self._send(client, to_jid, text_message(self._api, text))

    async def send_media(self, to_jid: str, media: OutboundMedia, idempotency_key: str) -> str:
        client = self._linked()
        try:
            message = await media_message(client, self._api, media)
        except (ValueError, self._api.exc.UploadError) as exc:  # nothing was sent
            raise SendFailedError(SendFailureKind.TRANSIENT, "upload_failed") from exc
        return await self._send(client, to_jid, message)

    async def mark_read(self, chat_jid: str, wa_ids: Sequence[str]) -> None:
        """Best effort: read receipts for ``wa_ids`` in a one-to-one chat."""
        life = self._life
        if life is None or not life.connected or not wa_ids:
            return
        chat, receipt = self._api.jid(chat_jid), self._api.enum.ReceiptType.READ
        try:
            await life.client.mark_read(*wa_ids, chat=chat, sender=chat, receipt=receipt)
        except Exception as exc:
            log.warning("mark_read failed", extra={"code": type(exc).__name__})

    async def set_typing(self, chat_jid: str, on: bool) -> None:
        """Best effort: "typing…" (composing) or paused in ``chat_jid``."""
        life = self._life
        if life is None or not life.connected:
            return
        presence = self._api.enum.ChatPresence
        state = presence.CHAT_PRESENCE_COMPOSING if on else presence.CHAT_PRESENCE_PAUSED
        media = self._api.enum.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
        try:
            await life.client.send_chat_presence(self._api.jid(chat_jid), state, media)
        except Exception as exc:
            log.warning("typing presence failed", extra={"code": type(exc).__name__})
