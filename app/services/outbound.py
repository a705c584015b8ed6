"""Outbound messages: a staff reply is stored and queued in one transaction, then sent later.

The API never talks to WhatsApp. ``send_text`` (and ``send_media``, for an attachment already
written to the encrypted media store) commits the message (ack pending) and its outbox row
together with the audit entry and returns at once; the per-channel
:class:`app.services.sender.OutboxSender` sends it. Patient sends are at most once: a row whose
outcome is unknown waits in NEEDS_REVIEW until a person confirms a resend (``retry``).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.media import MB, BlobRef, check_media
from app.domain.outbox import OutboxStatus
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.events import EventBus
from app.services.events_outbound import OutboxChanged
from app.services.media import display_name, record_blobs, store_media
from app.services.ports import Clock, Store, Tx
from app.services.ports_media import MediaBlobs
from app.services.ports_outbox import NewOutbound, OutboundFile, OutboxItem, TicketTarget
from app.services.ticket_access import visible_ticket

TEXT_MAX = 4096  # WhatsApp allows more; longer replies belong in several messages
CLIENT_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
PROBLEMS_LIMIT = 200
# The channel protocol carries a file as base64 inside one NDJSON line of at most 16 MB.
OUTBOUND_MEDIA_MAX = 10 * MB


@dataclass(frozen=True, slots=True)
class OutboundView:
    """An outbound message and where its sending stands (``text`` only for those who may see
    the ticket; never logged)."""

    outbox_id: int
    message_id: int
    ticket_id: int | None
    channel_id: int
    branch_id: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    wa_id: str | None
    ack: str
    text: str
    created_at: datetime
    updated_at: datetime
    media_sha256: str | None = None
    media_mime: str | None = None
    media_name: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a staff member sends; the type is judged by content, ``filename`` only shown."""

    data: bytes
    filename: str | None = None
    caption: str | None = None


def view_of(item: OutboxItem) -> OutboundView:
    """The view of a stored outbox row."""
    return OutboundView(
        item.id, item.message_id, item.ticket_id, item.channel_id, item.branch_id, item.status,
        item.attempts, item.last_error, item.next_attempt_at, item.wa_id, item.ack, item.text,
        item.created_at, item.updated_at, item.media_sha256, item.media_mime, item.media_name,
    )  # fmt: skip


def changed_event(item: OutboxItem) -> OutboxChanged:
    """The bus event announcing ``item``'s current state."""
    return OutboxChanged(
        item.branch_id, item.channel_id, item.id, item.message_id, item.ticket_id,
        item.status, item.attempts, item.last_error,
    )  # fmt: skip


def idempotency_key(actor: Actor, ticket_id: int, client_key: str) -> str:
    """The stored key: the client's key scoped to the actor and ticket (64 hex characters),
    so one user's key can neither collide with nor reveal another user's message."""
    if not CLIENT_KEY_RE.fullmatch(client_key):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="client_key")
    raw = f"{actor.user_id or 0}|{actor.username}|{ticket_id}|{client_key}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def clean_text(text: str) -> str:
    """``text`` without surrounding blanks; refuses empty or over-long messages."""
    clean = text.strip()
    if not clean or len(clean) > TEXT_MAX:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="text", maximum=TEXT_MAX)
    return clean


def check_attachment(data: bytes) -> str:
    """The kind (image, document, ...) of an outbound file, judged by content; refuses what
    ``check_media`` refuses and anything over :data:`OUTBOUND_MEDIA_MAX`."""
    media_type = check_media(data)
    if len(data) > OUTBOUND_MEDIA_MAX:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason="too_large")
    return media_type.kind.value


class Waker(Protocol):
    """The sender as the service sees it: told when a channel has a new row."""

    def wake(self, channel_id: int) -> None: ...


class OutboundService:
    """Queue replies, retry failed ones, list the problems. ``sender`` is set by the engine."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        auditor: Auditor,
        bus: EventBus,
        *,
        media: MediaBlobs | None = None,
    ) -> None:
        self._store, self._clock, self._auditor, self._bus = store, clock, auditor, bus
        self._media = media
        self.sender: Waker | None = None

    async def send_text(
        self, actor: Actor, ticket_id: int, text: str, client_key: str
    ) -> OutboundView:
        """Store and queue a reply on ``ticket_id``; returns at once (status ``queued``).

        The same ``client_key`` from the same user on the same ticket returns the row made the
        first time and queues nothing (a client may repeat a request whose answer it lost).
        """
        clean, key = clean_text(text), idempotency_key(actor, ticket_id, client_key)
        return await self._commit(actor, ticket_id, (clean, key), None)

    async def send_media(
        self, actor: Actor, ticket_id: int, attachment: Attachment, client_key: str
    ) -> OutboundView:
        """Store ``attachment`` encrypted and queue it on ``ticket_id`` (caption optional).

        Same ``client_key`` rules as :meth:`send_text`. The ticket is checked before any file
        is written; the type is judged by content (``INVALID_INPUT field=media`` otherwise).
        """
        if self._media is None:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason="not_available")
        caption = clean_text(attachment.caption) if attachment.caption else ""
        key = idempotency_key(actor, ticket_id, client_key)
        known = await self._store.read(lambda tx: _known(tx, actor, ticket_id, key))
        if known is not None:
            return view_of(known)
        stored = await asyncio.to_thread(_store_attachment, self._media, attachment)
        return await self._commit(actor, ticket_id, (caption, key), stored)

    async def _commit(
        self, actor: Actor, ticket_id: int, text_key: tuple[str, str], stored: _Stored | None
    ) -> OutboundView:
        item, created = await self._store.transaction(
            lambda tx: self._queue(tx, actor, ticket_id, text_key, stored)
        )
        if created:
            self._announce(item)
        return view_of(item)

    def _queue(
        self,
        tx: Tx,
        actor: Actor,
        ticket_id: int,
        text_key: tuple[str, str],
        stored: _Stored | None,
    ) -> tuple[OutboxItem, bool]:
        target = _handled_target(tx, actor, ticket_id)
        (text, key), at = text_key, self._clock.now()
        file = stored[0] if stored is not None else None
        new = NewOutbound(target, text, actor.user_id, key, at, file=file)
        item, created = tx.outbox.add(new)
        if created:
            if stored is not None:
                record_blobs(tx, stored[0].ref, stored[1], at)
            tx.outbox.set_first_response(ticket_id, at)
            audit = AuditTarget("message", item.message_id, target.branch_id)
            details: dict[str, object] = {"outbox_id": item.id, "ticket_id": ticket_id}
            details |= {"channel_id": item.channel_id, "kind": file.kind if file else "text"}
            self._auditor.record(tx, actor, "message.send", audit, **details)
        return item, created

    async def retry(
        self, actor: Actor, outbox_id: int, *, confirm_resend: bool = False
    ) -> OutboundView:
        """Queue a FAILED row again; a NEEDS_REVIEW row only with ``confirm_resend`` (it may
        already have reached the patient, so a resend may duplicate it). Audited."""
        item = await self._store.transaction(
            lambda tx: self._requeue(tx, actor, outbox_id, confirm_resend)
        )
        self._announce(item)
        return view_of(item)

    def _requeue(self, tx: Tx, actor: Actor, outbox_id: int, confirm: bool) -> OutboxItem:
        item = _handled_item(tx, actor, outbox_id)
        _check_retryable(item, confirm)
        requeued = tx.outbox.requeue(outbox_id, self._clock.now())
        target = AuditTarget("outbox", outbox_id, item.branch_id)
        details = {"from_status": item.status, "confirmed": confirm, "ticket_id": item.ticket_id}
        self._auditor.record(tx, actor, "outbox.retry", target, **details)
        return requeued

    async def list_problems(
        self, actor: Actor, branch_id: int | None = None, limit: int = PROBLEMS_LIMIT
    ) -> builtins.list[OutboundView]:
        """FAILED and NEEDS_REVIEW rows of ``branch_id`` (or of every branch where the actor
        handles tickets), newest first."""
        branches = _problem_branches(actor, branch_id)
        items = await self._store.read(lambda tx: tx.outbox.problems(branches, limit))
        return [view_of(i) for i in items]

    def _announce(self, item: OutboxItem) -> None:
        self._bus.publish(changed_event(item))
        if self.sender is not None:
            self.sender.wake(item.channel_id)


_Stored = tuple[OutboundFile, BlobRef | None]  # the attachment and its thumbnail


def _store_attachment(media: MediaBlobs, attachment: Attachment) -> _Stored:
    """Check and write the file (and an image's thumbnail) to the media store. Blocking."""
    kind = check_attachment(attachment.data)
    ref, thumb = store_media(media, attachment.data)
    return OutboundFile(ref, kind, display_name(attachment.filename, ref)), thumb


def _known(tx: Tx, actor: Actor, ticket_id: int, key: str) -> OutboxItem | None:
    """The row a repeated ``client_key`` made before, after the same access checks."""
    _handled_target(tx, actor, ticket_id)
    return tx.outbox.get_by_key(key)


def _handled_target(tx: Tx, actor: Actor, ticket_id: int) -> TicketTarget:
    """The ticket's target if the actor may reply on it (NOT_FOUND hides other branches)."""
    visible_ticket(tx, actor, ticket_id)  # branch (404) and queue (403) access in one place
    target = tx.outbox.ticket_target(ticket_id)
    if target is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="ticket")
    if target.chat_jid is None:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="recipient")
    return target


def _handled_item(tx: Tx, actor: Actor, outbox_id: int) -> OutboxItem:
    item = tx.outbox.get(outbox_id)
    if item is None or not actor.can(Permission.HANDLE_TICKETS, item.branch_id):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="outbox")
    if item.ticket_id is not None:
        visible_ticket(tx, actor, item.ticket_id)
    return item


def _check_retryable(item: OutboxItem, confirm: bool) -> None:
    if item.status == OutboxStatus.FAILED:
        return
    if item.status != OutboxStatus.NEEDS_REVIEW:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="status", status=item.status)
    if not confirm:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="confirm_resend")


def _problem_branches(actor: Actor, branch_id: int | None) -> frozenset[int] | None:
    if branch_id is not None:
        if not actor.can(Permission.HANDLE_TICKETS, branch_id):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
        return frozenset({branch_id})
    if actor.super_admin:
        return None
    return frozenset(b for b in actor.branch_ids if actor.can(Permission.HANDLE_TICKETS, b))
