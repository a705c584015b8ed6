"""The inbound pipeline: one patient message → one transaction → acknowledged.

``InboundPipeline.ingest`` is the supervisor's ``inbound_sink``; the worker gets its ack only
after this returns, i.e. after COMMIT (ARCHITECTURE "Messages", RELIABILITY_SECURITY §3.2).
Inside the one transaction, in order:

1. insert-or-ignore the message on its natural key (channel, chat, sender, WhatsApp id,
   direction) — a redelivery stops here and changes nothing at all;
2. resolve the patient's contact (phone JID, LID, ninth digit: one contact; merging if an event
   links two);
3. find, reopen or create the ticket and route it (``inbound_routing``);
4. write the automatic replies as outbound ``messages`` rows (``automatic=1``) plus ``outbox``
   rows whose idempotency key derives from the inbound natural key;
5. one audit row ``message.received`` (ids only).

An attachment (``media_b64``) is decoded, checked by content and written to the encrypted media
store **before** that transaction, off the event loop; its ``media_blobs`` rows and the message's
``media_*`` columns are written in step 1. A refused file (unsupported type, too large) does not
lose the message: it is stored without a blob and the audit entry says why (``media_error``);
broken base64 quarantines the event (``media_b64_invalid``). See docs/MEDIA.md.

A malformed or unknown event is kept in ``inbound_quarantine`` with a reason code, audited, and
acknowledged: it never stops the channel. Only store failures propagate (then nothing is
acknowledged and the worker delivers again). Logs carry codes and ids, never text or numbers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.models import Channel
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.contacts_merge import Resolved, resolve_contact
from app.services.events import EventBus, InboundReceived
from app.services.inbound_arrival import Arrival
from app.services.inbound_routing import Routed, RoutingSettings, route
from app.services.inbound_validate import CleanInbound, QuarantinedError, payload_of, validate
from app.services.media import (
    MediaDecodeError,
    ReceivedMedia,
    display_name,
    receive_media,
    record_blobs,
)
from app.services.ports import Clock, Store, Tx
from app.services.ports_media import MediaBlobs
from app.services.ports_messaging import NewMessage
from app.services.reminder_answers import Answered
from app.services.reminders import ReminderChanged
from app.services.transport import TransportEvent

log = logging.getLogger(__name__)

SYSTEM = Actor(user_id=None, username="system.inbound")
InboundSettings = RoutingSettings  # the pipeline's settings are routing's, for now


@dataclass(frozen=True, slots=True)
class Stored:
    """What one committed inbound message produced (ids only)."""

    branch_id: int
    channel_id: int
    wa_id: str
    message_id: int
    ticket_id: int
    answered: Answered | None = None  # the reminder question this message answered


class InboundPipeline:
    """Stores inbound events durably and exactly once (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        auditor: Auditor,
        bus: EventBus,
        settings: InboundSettings | None = None,
        *,
        media: MediaBlobs | None = None,
    ) -> None:
        self._store, self._clock, self._auditor, self._bus = store, clock, auditor, bus
        self._settings = settings or InboundSettings()
        self._media = media  # None: attachments are recorded as refused ("not_stored")

    async def ingest(self, channel_id: int, event: TransportEvent) -> None:
        """Store ``event`` (or quarantine it); returns only once that is committed."""
        now = self._clock.now()
        try:
            clean = validate(event, now)
            media = await self._receive(event, clean)
        except QuarantinedError as bad:
            await self._quarantine(channel_id, event, bad.reason)
            return
        stored = await self._store_or_quarantine(channel_id, event, (clean, media), now)
        if stored is not None:
            self._announce(stored)

    def _announce(self, s: Stored) -> None:
        """Tell the bus what the committed message did."""
        event = InboundReceived(s.branch_id, s.channel_id, s.wa_id, s.message_id, s.ticket_id)
        self._bus.publish(event)
        if s.answered is not None:
            a = s.answered
            self._bus.publish(ReminderChanged(s.branch_id, a.reminder_id, None, None, a.status))

    async def _receive(self, event: TransportEvent, clean: CleanInbound) -> ReceivedMedia | None:
        """Store the event's attachment (off the loop); None when it has none."""
        b64 = event.message.media_b64 if event.message is not None else None
        if not isinstance(b64, str) or not b64:
            return None
        if self._media is None:
            name = display_name(clean.media_name, None)
            return ReceivedMedia(name, clean.media_size or 0, error="not_stored")
        try:
            return await asyncio.to_thread(receive_media, self._media, b64, clean.media_name)
        except MediaDecodeError as bad:
            raise QuarantinedError(str(bad)) from None
        except OSError as err:  # the disk, not the file: not acknowledged, delivered again
            name = type(err).__name__
            raise ClinicDeskError(
                ErrorCode.STORE_WRITE_FAILED, entity="media", reason=name
            ) from None
        except ClinicDeskError:
            raise
        except Exception as err:  # a poison file must not be redelivered forever
            raise QuarantinedError(f"media_failed:{type(err).__name__}"[:64]) from None

    async def _store_or_quarantine(
        self,
        channel_id: int,
        event: TransportEvent,
        parts: tuple[CleanInbound, ReceivedMedia | None],
        now: datetime,
    ) -> Stored | None:
        try:
            return await self._store.transaction(lambda tx: self._write(tx, channel_id, parts, now))
        except ClinicDeskError as err:
            if err.code.value.startswith("store."):
                raise  # not durable: no ack, the worker delivers it again
            reason = err.code.value
        except Exception as err:  # a poison event must not be redelivered forever
            reason = f"ingest_failed:{type(err).__name__}"[:64]
        # If the store itself is failing, this write fails too and the error propagates.
        await self._quarantine(channel_id, event, reason)
        return None

    def _write(
        self,
        tx: Tx,
        channel_id: int,
        parts: tuple[CleanInbound, ReceivedMedia | None],
        now: datetime,
    ) -> Stored | None:
        clean, media = parts
        channel = tx.channels.get(channel_id)
        if channel is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="channel")
        message_id = tx.messaging.insert_message(_inbound_row(channel_id, clean, media, now))
        if message_id is None:
            return None  # a redelivery: already stored, nothing else may change
        if media is not None and media.ref is not None:
            record_blobs(tx, media.ref, media.thumb, now)
        who = resolve_contact(tx, channel.branch_id, clean.keys, clean.push_name, now)
        arrival = Arrival(
            channel.branch_id, channel_id, who.contact_id, clean.text, now, message_id,
            clean.kind, clean.reacted_to,
        )  # fmt: skip
        routed = route(tx, arrival, self._settings)
        tx.messaging.set_message_links(message_id, who.contact_id, routed.ticket_id)
        replies = self._reply(tx, channel.id, clean, (who.contact_id, routed), now)
        self._audit(tx, channel, message_id, (who, routed), replies, media=media)
        return Stored(
            channel.branch_id, channel_id, clean.wa_id, message_id, routed.ticket_id,
            routed.answered,
        )  # fmt: skip

    @staticmethod
    def _reply(
        tx: Tx, channel_id: int, clean: CleanInbound, to: tuple[int, Routed], now: datetime
    ) -> list[int]:
        """Queue the automatic replies; each key is unique to (inbound message, purpose)."""
        contact_id, routed = to
        ids = []
        for purpose, text in routed.replies:
            key = reply_key(channel_id, clean, purpose)
            if tx.messaging.outbox_key_exists(key):
                continue
            row = _reply_row(channel_id, clean, (contact_id, routed.ticket_id), text, now)
            message_id = tx.messaging.insert_message(row)
            if message_id is not None and tx.messaging.add_outbox(channel_id, message_id, key, now):
                ids.append(message_id)
        return ids

    def _audit(
        self, tx: Tx, channel: Channel, message_id: int, how: tuple[Resolved, Routed],
        replies: list[int], *, media: ReceivedMedia | None,
    ) -> None:  # fmt: skip
        who, routed = how
        target = AuditTarget("message", message_id, channel.branch_id)
        extra: dict[str, object] = {}
        if media is not None:
            extra = {"media_stored": media.ref is not None, "media_error": media.error}
            if media.error is not None:
                log.info(
                    "inbound media refused", extra={"code": media.error, "channel_id": channel.id}
                )
        self._auditor.record(
            tx, SYSTEM, "message.received", target,
            channel_id=channel.id, contact_id=who.contact_id, ticket_id=routed.ticket_id,
            new_contact=who.created, merged=list(who.merged), new_ticket=routed.created,
            reopened=routed.reopened, auto_replies=replies, **extra,
        )  # fmt: skip

    async def _quarantine(self, channel_id: int, event: TransportEvent, reason: str) -> None:
        payload, now = payload_of(event), self._clock.now()

        def work(tx: Tx) -> None:
            channel = tx.channels.get(channel_id)
            if not tx.messaging.quarantine(channel_id, reason, payload, now):
                return  # the same event again: kept once
            target = AuditTarget("channel", channel_id, channel.branch_id if channel else None)
            self._auditor.record(tx, SYSTEM, "inbound.quarantined", target, reason=reason)

        try:
            await self._store.transaction(work)
        except ClinicDeskError:
            raise
        except Exception as err:
            # Driver errors quote the SQL parameters (the payload, i.e. patient text): re-raise
            # a bare code so whoever logs it upstream cannot leak them. Not acknowledged.
            name = type(err).__name__
            raise ClinicDeskError(ErrorCode.STORE_WRITE_FAILED, reason=name) from None
        log.warning("inbound event quarantined", extra={"code": reason, "channel_id": channel_id})


def reply_key(channel_id: int, clean: CleanInbound, purpose: str) -> str:
    """Idempotency key of an automatic reply: derived from the inbound natural key, so a
    redelivered inbound message can never queue a second copy."""
    natural = "\x1f".join(
        [str(channel_id), clean.chat_jid, clean.sender_jid, clean.wa_id, "in", purpose]
    )
    return hashlib.sha256(natural.encode("utf-8")).hexdigest()


def _inbound_row(
    channel_id: int, clean: CleanInbound, media: ReceivedMedia | None, now: datetime
) -> NewMessage:
    """The message row; media columns only for an attachment that came with bytes, and the
    MIME type is the detected one (the declared one is never trusted)."""
    ref = media.ref if media is not None else None
    return NewMessage(
        channel_id=channel_id, chat_jid=clean.chat_jid, sender_jid=clean.sender_jid,
        wa_id=clean.wa_id, direction="in", sent_at=clean.sent_at, stored_at=now,
        kind=clean.kind, body=clean.text, media_sha256=ref.sha256 if ref else None,
        media_mime=ref.mime if ref else None, media_name=media.name if media else None,
        media_size=media.size if media else None,
    )  # fmt: skip


def _reply_row(
    channel_id: int, clean: CleanInbound, owner: tuple[int, int], text: str, now: datetime
) -> NewMessage:
    # Replies go to the chat the patient wrote from (a LID chat is answered as a LID chat).
    return NewMessage(
        channel_id=channel_id, chat_jid=clean.chat_jid, sender_jid="", wa_id=None,
        direction="out", sent_at=now, stored_at=now, body=text,
        contact_id=owner[0], ticket_id=owner[1], automatic=True,
    )  # fmt: skip
