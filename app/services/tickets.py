"""The ticket desk: listing (keyset pages), reading a conversation, accept, transfer, resolve,
reopen (tags, notes and quick replies: ``ticket_extras``).

Visibility is :mod:`app.services.ticket_access`; every change and every read of a conversation
is audited in the same transaction (LGPD accountability: who read which patient's messages).
Changes are announced on the bus after commit as :class:`TicketChanged` (ids only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Role
from app.domain.tickets import TicketAction, TicketStatus, next_status
from app.services.audit import Auditor, AuditTarget
from app.services.events import EventBus
from app.services.ports import Clock, Store, Tx
from app.services.ports_messaging import (
    ListingExtras,
    MessageRecord,
    NoteRecord,
    TicketQuery,
    TicketRecord,
)
from app.services.ticket_access import (
    clamp_limit,
    decode_cursor,
    encode_cursor,
    require_user,
    scope_for,
    visible_ticket,
)
from app.services.ticket_events import TicketChanged
from app.services.ticket_extras import TicketExtras
from app.services.ticket_start import StartRequest, start_in


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as the desk lists it."""

    id: int
    branch_id: int
    channel_id: int
    contact_id: int
    contact_name: str | None
    queue_id: int | None
    assignee_id: int | None
    status: str
    unread_count: int
    last_activity_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    tags: tuple[str, ...] = ()
    last_direction: str | None = None  # of the newest message: "in" or "out"
    last_kind: str | None = None  # text, image, document...: the desk words it
    last_preview: str | None = None  # the start of its text, if it has any
    last_automatic: bool = False  # it is an automatic reply (menu, greeting), not a person's


PREVIEW_CHARS = 100


@dataclass(frozen=True, slots=True)
class TicketDetail:
    ticket: TicketView
    notes: list[NoteRecord]


@dataclass(frozen=True, slots=True)
class TicketPage:
    items: list[TicketView]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class MessagePage:
    """A page of a conversation, newest first; ``next_cursor`` leads to older messages."""

    items: list[MessageRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TicketFilters:
    """A listing's tab (status), filters and page."""

    status: str | None = None
    queue_id: int | None = None
    channel_id: int | None = None
    tag: str | None = None
    mine: bool = False
    cursor: str | None = None
    limit: int = 50
    ids: tuple[int, ...] | None = None  # only these (at most 200), whatever their status


def view_of(tx: Tx, ticket: TicketRecord) -> TicketView:
    """The listing view of ``ticket`` (contact name, tags and newest message looked up)."""
    return views_of(tx, [ticket])[0]


def views_of(tx: Tx, rows: Sequence[TicketRecord]) -> list[TicketView]:
    """The listing views of ``rows``, in order; their extras come in three reads, not 3 × N."""
    extras = tx.messaging.listing_extras(rows)
    return [_view(t, extras.get(t.id, ListingExtras())) for t in rows]


def _view(ticket: TicketRecord, x: ListingExtras) -> TicketView:
    return TicketView(
        ticket.id, ticket.branch_id, ticket.channel_id, ticket.contact_id, x.contact_name,
        ticket.queue_id, ticket.assignee_id, ticket.status, ticket.unread_count,
        ticket.last_activity_at, ticket.created_at, ticket.accepted_at, ticket.closed_at,
        x.tags, x.last_direction, x.last_kind, _preview(x.last_body), x.last_automatic,
    )  # fmt: skip


def _preview(body: str | None) -> str | None:
    """One line of at most PREVIEW_CHARS characters (a long text ends with "…")."""
    if not body:
        return None
    line = " ".join(body.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


Change = Callable[[Tx, TicketRecord], dict[str, object]]
R = TypeVar("R")
STATUSES = frozenset(s.value for s in TicketStatus)


class TicketService(TicketExtras):
    """Ticket use cases for staff (see the module docstring)."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor, bus: EventBus) -> None:
        self._store, self._clock, self._auditor, self._bus = store, clock, auditor, bus

    # ---- reading --------------------------------------------------------------------------

    async def list(self, actor: Actor, filters: TicketFilters) -> TicketPage:
        """Visible tickets, most recent activity first, one keyset page at a time."""
        if filters.status is not None and filters.status not in STATUSES:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="status")
        limit, after = clamp_limit(filters.limit), decode_cursor(filters.cursor)
        if filters.ids is not None:  # a set of rows, not a page: all of them fit
            limit = clamp_limit(max(limit, len(filters.ids)))

        def work(tx: Tx) -> TicketPage:
            mine = require_user(actor) if filters.mine else None
            query = TicketQuery(
                scope_for(tx, actor), filters.status, filters.queue_id, filters.channel_id,
                filters.tag, mine, after, limit + 1, filters.ids,
            )  # fmt: skip
            rows = tx.messaging.list_tickets(query)
            cursor = _next(rows, limit, lambda t: (t.last_activity_at, t.id))
            return TicketPage(views_of(tx, rows[:limit]), cursor)

        return await self._store.read(work)

    async def get(self, actor: Actor, ticket_id: int) -> TicketDetail:
        """One ticket with its internal notes (the read is audited)."""

        def work(tx: Tx) -> TicketDetail:
            ticket = visible_ticket(tx, actor, ticket_id)
            self._audit(tx, actor, ticket, "ticket.read", part="ticket")
            return TicketDetail(view_of(tx, ticket), tx.messaging.notes_of(ticket.id))

        return await self._store.transaction(work)

    async def messages(
        self, actor: Actor, ticket_id: int, cursor: str | None = None, limit: int = 50
    ) -> MessagePage:
        """A page of the conversation, newest first (the read is audited)."""
        limit, before = clamp_limit(limit), decode_cursor(cursor)

        def work(tx: Tx) -> MessagePage:
            ticket = visible_ticket(tx, actor, ticket_id)
            rows = tx.messaging.list_messages(ticket.id, before, limit + 1)
            self._audit(tx, actor, ticket, "ticket.read", part="messages", count=len(rows))
            return MessagePage(rows[:limit], _next(rows, limit, lambda m: (m.sent_at, m.id)))

        return await self._store.transaction(work)

    # ---- changing -------------------------------------------------------------------------

    async def accept(self, actor: Actor, ticket_id: int) -> TicketView:
        """Take a pending ticket: it is assigned to the actor and becomes open."""
        user_id = require_user(actor)

        def change(tx: Tx, ticket: TicketRecord) -> dict[str, object]:
            status = next_status(TicketStatus(ticket.status), TicketAction.ACCEPT)
            now = self._clock.now()
            # A person has it now: a pending menu choice ends (the bot never talks over them).
            return {
                "status": status.value, "assignee_id": user_id, "accepted_at": now,
                "awaiting_menu": False,
            }  # fmt: skip

        return await self._change(actor, ticket_id, "ticket.accept", change)

    async def mark_read(self, actor: Actor, ticket_id: int) -> TicketView:
        """The actor has seen the conversation: its unread count goes back to zero."""
        return await self._change(actor, ticket_id, "ticket.mark_read", _all_read)

    async def transfer(
        self, actor: Actor, ticket_id: int, queue_id: int | None, user_id: int | None
    ) -> TicketView:
        """Hand the ticket to a queue and/or a person of its branch.

        The person must belong to the branch; a receptionist must also be a member of the
        ticket's (new) queue, or they could not see what they were given.
        """
        if queue_id is None and user_id is None:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="queue_id,user_id")

        def change(tx: Tx, ticket: TicketRecord) -> dict[str, object]:
            target_queue = _check_queue(tx, ticket, queue_id)
            _check_user(tx, ticket.branch_id, target_queue, user_id)
            to_user = user_id is not None
            action = TicketAction.TRANSFER
            status = next_status(TicketStatus(ticket.status), action, to_user=to_user)
            values: dict[str, object] = {"status": status.value, "assignee_id": user_id}
            return values | {"queue_id": target_queue, "awaiting_menu": False}

        return await self._change(
            actor, ticket_id, "ticket.transfer", change, queue_id=queue_id, user_id=user_id
        )

    async def resolve(self, actor: Actor, ticket_id: int) -> TicketView:
        """Close the ticket (a patient writing again within the window reopens it)."""

        def change(tx: Tx, ticket: TicketRecord) -> dict[str, object]:
            status = next_status(TicketStatus(ticket.status), TicketAction.RESOLVE)
            now = self._clock.now()
            return {"status": status.value, "closed_at": now, "awaiting_menu": False}

        return await self._change(actor, ticket_id, "ticket.resolve", change)

    async def reopen(self, actor: Actor, ticket_id: int) -> TicketView:
        """Open a closed ticket again (assigned to the actor if nobody has it); refused when
        the patient already has another active ticket on that channel."""
        user_id = require_user(actor)

        def change(tx: Tx, ticket: TicketRecord) -> dict[str, object]:
            status = next_status(TicketStatus(ticket.status), TicketAction.REOPEN)
            other = tx.messaging.active_ticket(
                ticket.branch_id, ticket.contact_id, ticket.channel_id
            )
            if other is not None:
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="ticket", id=other.id)
            assignee = ticket.assignee_id or user_id
            return {"status": status.value, "closed_at": None, "assignee_id": assignee}

        return await self._change(actor, ticket_id, "ticket.reopen", change)

    async def start(self, actor: Actor, request: StartRequest) -> tuple[TicketView, bool]:
        """The ticket to write to a patient by number in (``ticket_start``): their active
        ticket on the channel, else a new open one assigned to the actor; and whether it is
        new. A new ticket, or contacts merged on the way, is audited (``ticket.start``); a new
        ticket is announced."""

        def work(tx: Tx) -> tuple[TicketView, bool]:
            started = start_in(tx, actor, request, self._clock.now())
            contact = started.contact
            if started.created or contact.merged:
                details: dict[str, object] = {"new_ticket": started.created}
                details |= {"new_contact": contact.created, "merged_contacts": list(contact.merged)}
                self._audit(tx, actor, started.ticket, "ticket.start", **details)
            return view_of(tx, started.ticket), started.created

        view, created = await self._store.transaction(work)
        if created:
            self._announce(view, "ticket.start")
        return view, created

    async def _change(
        self, actor: Actor, ticket_id: int, action: str, change: Change, **details: object
    ) -> TicketView:
        """Check visibility, apply ``change``, audit, commit, then announce."""

        def work(tx: Tx) -> TicketView:
            ticket = visible_ticket(tx, actor, ticket_id)
            tx.messaging.update_ticket(ticket.id, **change(tx, ticket))
            self._audit(tx, actor, ticket, action, **details)
            return view_of(tx, _must(tx.messaging.get_ticket(ticket.id)))

        view = await self._store.transaction(work)
        self._announce(view, action)
        return view

    def _audit(
        self, tx: Tx, actor: Actor, ticket: TicketRecord, action: str, **details: object
    ) -> None:
        target = AuditTarget("ticket", ticket.id, ticket.branch_id)
        self._auditor.record(tx, actor, action, target, **details)

    def _announce(self, view: TicketView, action: str) -> None:
        event = TicketChanged(
            view.branch_id, view.id, action, view.status, view.queue_id, view.assignee_id
        )
        self._bus.publish(event)


def _next(rows: Sequence[R], limit: int, key: Callable[[R], tuple[datetime, int]]) -> str | None:
    """The cursor after a page, when one more row than asked for came back."""
    if len(rows) <= limit:
        return None
    return encode_cursor(*key(rows[limit - 1]))


def _all_read(tx: Tx, ticket: TicketRecord) -> dict[str, object]:
    return {"unread_count": 0}


def _check_queue(tx: Tx, ticket: TicketRecord, queue_id: int | None) -> int | None:
    if queue_id is None:
        return ticket.queue_id
    queue = tx.messaging.get_queue(queue_id)
    if queue is None or queue.branch_id != ticket.branch_id:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="queue")
    return queue.id


def _check_user(tx: Tx, branch_id: int, queue_id: int | None, user_id: int | None) -> None:
    if user_id is None:
        return
    role = tx.memberships.roles_of(user_id).get(branch_id)
    if role is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="user")
    member = queue_id is None or queue_id in tx.messaging.queues_of_user(user_id)
    if role is Role.RECEPTIONIST and not member:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="user_id", reason="not_in_queue")


def _must(ticket: TicketRecord | None) -> TicketRecord:
    if ticket is None:  # pragma: no cover - read back in the same transaction
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="ticket")
    return ticket
