"""Tags, internal notes and quick replies of tickets (mixed into ``TicketService``).

Notes are internal: they are never written to ``messages`` or the outbox, so nothing here can
reach a patient. Quick replies are per branch, called by ``/shortcut``, with placeholders
``{nome}``, ``{primeiro_nome}``, ``{clinica}``, ``{atendente}`` and ``{protocolo}``.
"""

from __future__ import annotations

import re

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Permission
from app.domain.tickets import first_name, render_placeholders
from app.services.audit import Auditor, AuditTarget
from app.services.events import EventBus
from app.services.ports import Clock, Store, Tx
from app.services.ports_messaging import QuickReplyRecord, TicketRecord
from app.services.ticket_access import require_user, visible_ticket

SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,38}$")
TAG_MAX, NOTE_MAX, REPLY_MAX = 60, 4000, 4000
CLINIC_NAME_SETTING = "clinic_name"


def clean_shortcut(raw: str) -> str:
    """``"/Retorno"`` → ``"retorno"``; letters, digits, ``_`` and ``-`` only."""
    value = raw.strip().lstrip("/").lower()
    if not SHORTCUT_RE.fullmatch(value):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="shortcut")
    return value


def clean_text(raw: str, field: str, limit: int) -> str:
    value = raw.strip()
    if not value or len(value) > limit:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field=field)
    return value


class TicketExtras:
    """Tags, notes, quick replies; relies on the host's store, clock, auditor and bus."""

    _store: Store
    _clock: Clock
    _auditor: Auditor
    _bus: EventBus

    async def add_tag(self, actor: Actor, ticket_id: int, tag: str) -> list[str]:
        """Tag the ticket (the branch's tag is created on first use); returns its tags."""
        name = clean_text(tag, "tag", TAG_MAX).lower()

        def work(tx: Tx) -> list[str]:
            ticket = visible_ticket(tx, actor, ticket_id)
            if tx.messaging.add_tag(ticket.id, ticket.branch_id, name):
                self._record(tx, actor, ticket, "ticket.tag_add", tag=name)
            return tx.messaging.tags_of(ticket.id)

        return await self._store.transaction(work)

    async def remove_tag(self, actor: Actor, ticket_id: int, tag: str) -> list[str]:
        """Untag the ticket; returns its tags."""
        name = tag.strip().lower()

        def work(tx: Tx) -> list[str]:
            ticket = visible_ticket(tx, actor, ticket_id)
            if tx.messaging.remove_tag(ticket.id, name):
                self._record(tx, actor, ticket, "ticket.tag_remove", tag=name)
            return tx.messaging.tags_of(ticket.id)

        return await self._store.transaction(work)

    async def add_note(self, actor: Actor, ticket_id: int, body: str) -> int:
        """Add an internal note (never sent to the patient); returns its id."""
        author, text = require_user(actor), clean_text(body, "body", NOTE_MAX)

        def work(tx: Tx) -> int:
            ticket = visible_ticket(tx, actor, ticket_id)
            note_id = tx.messaging.add_note(ticket.id, author, text, self._clock.now())
            self._record(tx, actor, ticket, "ticket.note_add", note_id=note_id)
            return note_id

        return await self._store.transaction(work)

    async def quick_replies(self, actor: Actor, branch_id: int) -> list[QuickReplyRecord]:
        """The branch's quick replies, by shortcut."""
        actor.require(Permission.HANDLE_TICKETS, branch_id)
        return await self._store.read(lambda tx: tx.messaging.quick_replies(branch_id))

    async def add_quick_reply(
        self, actor: Actor, branch_id: int, shortcut: str, body: str
    ) -> QuickReplyRecord:
        """Create ``/shortcut`` in the branch (supervisors and admins)."""
        actor.require(Permission.VIEW_ALL_TICKETS, branch_id)
        key, text = clean_shortcut(shortcut), clean_text(body, "body", REPLY_MAX)

        def work(tx: Tx) -> QuickReplyRecord:
            if tx.messaging.quick_reply(branch_id, key) is not None:
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="quick_reply")
            reply_id = tx.messaging.add_quick_reply(branch_id, key, text)
            target = AuditTarget("quick_reply", reply_id, branch_id)
            self._auditor.record(tx, actor, "quick_reply.add", target)
            return QuickReplyRecord(reply_id, branch_id, key, text)

        return await self._store.transaction(work)

    async def change_quick_reply(
        self, actor: Actor, reply_id: int, shortcut: str, body: str
    ) -> QuickReplyRecord:
        """Give a quick reply a new shortcut and text (supervisors and admins of its branch);
        ``already_exists`` if another reply of the branch has that shortcut."""
        key, text = clean_shortcut(shortcut), clean_text(body, "body", REPLY_MAX)

        def work(tx: Tx) -> QuickReplyRecord:
            reply = self._reply_to_manage(tx, actor, reply_id)
            clash = tx.messaging.quick_reply(reply.branch_id, key)
            if clash is not None and clash.id != reply_id:
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="quick_reply")
            tx.messaging.update_quick_reply(reply_id, key, text)
            changed = [f for f, old, new in (("shortcut", reply.shortcut, key),
                                             ("body", reply.body, text)) if old != new]  # fmt: skip
            target = AuditTarget("quick_reply", reply_id, reply.branch_id)
            self._auditor.record(tx, actor, "quick_reply.change", target, fields=changed)
            return QuickReplyRecord(reply_id, reply.branch_id, key, text)

        return await self._store.transaction(work)

    async def remove_quick_reply(self, actor: Actor, reply_id: int) -> None:
        """Delete a quick reply (supervisors and admins of its branch); messages already sent
        with it are not touched."""

        def work(tx: Tx) -> None:
            reply = self._reply_to_manage(tx, actor, reply_id)
            tx.messaging.delete_quick_reply(reply_id)
            target = AuditTarget("quick_reply", reply_id, reply.branch_id)
            self._auditor.record(tx, actor, "quick_reply.remove", target)

        await self._store.transaction(work)

    def _reply_to_manage(self, tx: Tx, actor: Actor, reply_id: int) -> QuickReplyRecord:
        """The reply, if ``actor`` may change it; ``not_found`` if it does not exist or lies
        in a branch the actor does not work in (its existence is not revealed)."""
        reply = tx.messaging.quick_reply_by_id(reply_id)
        if reply is None or not actor.can(Permission.HANDLE_TICKETS, reply.branch_id):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="quick_reply")
        actor.require(Permission.VIEW_ALL_TICKETS, reply.branch_id)
        return reply

    async def render_quick_reply(self, actor: Actor, ticket_id: int, shortcut: str) -> str:
        """The text of ``/shortcut`` for this ticket, placeholders filled (not sent)."""
        key = clean_shortcut(shortcut)

        def work(tx: Tx) -> str:
            ticket = visible_ticket(tx, actor, ticket_id)
            reply = tx.messaging.quick_reply(ticket.branch_id, key)
            if reply is None:
                raise NotFoundError(ErrorCode.NOT_FOUND, entity="quick_reply")
            return render_placeholders(reply.body, _values(tx, actor, ticket))

        return await self._store.read(work)

    def _record(
        self, tx: Tx, actor: Actor, ticket: TicketRecord, action: str, **details: object
    ) -> None:
        target = AuditTarget("ticket", ticket.id, ticket.branch_id)
        self._auditor.record(tx, actor, action, target, **details)


def _values(tx: Tx, actor: Actor, ticket: TicketRecord) -> dict[str, str | None]:
    contact = tx.messaging.get_contact(ticket.contact_id)
    name = contact.display_name if contact else None
    user = tx.users.get(actor.user_id) if actor.user_id else None
    clinic = tx.messaging.setting(ticket.branch_id, CLINIC_NAME_SETTING)
    branch = tx.messaging.routing(ticket.branch_id)
    return {
        "nome": name,
        "primeiro_nome": first_name(name),
        "clinica": clinic if isinstance(clinic, str) else (branch.name if branch else None),
        "atendente": user.display_name if user else None,
        "protocolo": str(ticket.id),
    }
