"""SQL for tickets, queues, tags, notes and quick replies (part of ``MessagingRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    false,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.services.ports_messaging import (
    ListingExtras,
    NoteRecord,
    QueueRecord,
    QuickReplyRecord,
    TicketQuery,
    TicketRecord,
    TicketScope,
)
from app.store.schema import (
    contacts,
    messages,
    notes,
    queue_members,
    queues,
    quick_replies,
    tags,
    ticket_tags,
    tickets,
)

t = tickets.c
ACTIVE = ("pending", "open")
# The inbound pipeline's ticket statements, built once with bind parameters (building them
# and their cache keys per call cost more than running them: docs/PERFORMANCE.md).
_TICKET_BY_ID = select(tickets).where(t.id == bindparam("b_id"))
_PATIENT_ON_CHANNEL = (
    (t.branch_id == bindparam("b_branch"))
    & (t.contact_id == bindparam("b_contact"))
    & (t.channel_id == bindparam("b_channel"))
)
_ACTIVE_TICKET = (
    select(tickets).where(_PATIENT_ON_CHANNEL & t.status.in_(ACTIVE)).order_by(t.id.desc()).limit(1)
)
_LATEST_CLOSED = (
    select(tickets)
    .where(_PATIENT_ON_CHANNEL & (t.status == "closed"))
    .order_by(t.closed_at.desc())
    .limit(1)
)
_INSERT_TICKET = insert(tickets)
# SET names the columns given as parameters (SQLAlchemy compiles, and caches, one per set).
_UPDATE_TICKET = update(tickets).where(t.id == bindparam("b_id"))
_QUEUE_BY_ID = select(queues).where(queues.c.id == bindparam("b_id"))
_QUEUES_OF_BRANCH = (
    select(queues)
    .where(queues.c.branch_id == bindparam("b_branch"))
    .order_by(queues.c.menu_order, queues.c.id)
)

# An inbox page's extras, three reads for the whole page (they were three per row, and the
# per-row reads were most of the listing's time at 100,000 tickets: docs/PERFORMANCE.md).
_m = messages.c
_NEWEST_ID = (
    select(_m.id)
    .where(_m.ticket_id == t.id)
    .order_by(_m.sent_at.desc(), _m.id.desc())
    .limit(1)
    .correlate(tickets)
    .scalar_subquery()
)
_NEWEST_MESSAGES = select(_m.ticket_id, _m.direction, _m.kind, _m.body, _m.automatic).where(
    _m.id.in_(select(_NEWEST_ID).where(t.id.in_(bindparam("b_ids", expanding=True))))
)
_CONTACT_NAMES = select(contacts.c.id, contacts.c.display_name).where(
    contacts.c.id.in_(bindparam("b_ids", expanding=True))
)
_TAGS_OF_MANY = (
    select(ticket_tags.c.ticket_id, tags.c.name)
    .select_from(ticket_tags.join(tags, tags.c.id == ticket_tags.c.tag_id))
    .where(ticket_tags.c.ticket_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(tags.c.name)
)


def _of_values(branch_id: int, contact_id: int, channel_id: int) -> dict[str, object]:
    return {"b_branch": branch_id, "b_contact": contact_id, "b_channel": channel_id}


class TicketSql:
    """Tickets and what hangs off them; bound to one connection."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    # ---- tickets ---------------------------------------------------------------------------

    def active_ticket(
        self, branch_id: int, contact_id: int, channel_id: int
    ) -> TicketRecord | None:
        """The newest pending or open ticket of this patient on this channel."""
        return self._one(_ACTIVE_TICKET, _of_values(branch_id, contact_id, channel_id))

    def latest_closed_ticket(
        self, branch_id: int, contact_id: int, channel_id: int
    ) -> TicketRecord | None:
        return self._one(_LATEST_CLOSED, _of_values(branch_id, contact_id, channel_id))

    def tickets_of_contact(self, contact_id: int) -> list[TicketRecord]:
        query = select(tickets).where(t.contact_id == contact_id).order_by(t.id)
        return [_ticket(r) for r in self._c.execute(query)]

    def add_ticket(
        self, branch_id: int, contact_id: int, channel_id: int, queue_id: int | None, at: datetime
    ) -> int:
        values: dict[str, object] = {"branch_id": branch_id, "contact_id": contact_id}
        values |= {"channel_id": channel_id, "queue_id": queue_id, "status": "pending"}
        stamp = {"last_activity_at": at, "created_at": at}
        return int(self._c.execute(_INSERT_TICKET, values | stamp).lastrowid or 0)

    def get_ticket(self, ticket_id: int) -> TicketRecord | None:
        return self._one(_TICKET_BY_ID, {"b_id": ticket_id})

    def update_ticket(self, ticket_id: int, **values: object) -> None:
        self._c.execute(_UPDATE_TICKET, {"b_id": ticket_id, **values})

    def list_tickets(self, query: TicketQuery) -> list[TicketRecord]:
        """Visible tickets matching ``query``, most recent activity first (keyset cursor)."""
        stmt = select(tickets).where(_visible(query.scope), *_filters(query))
        if query.after is not None:
            at, last = query.after
            stmt = stmt.where(
                or_(t.last_activity_at < at, and_(t.last_activity_at == at, t.id < last))
            )
        stmt = stmt.order_by(t.last_activity_at.desc(), t.id.desc()).limit(query.limit)
        return [_ticket(r) for r in self._c.execute(stmt)]

    def ticket_visible(self, ticket_id: int, scope: TicketScope) -> bool:
        query = select(t.id).where(t.id == ticket_id, _visible(scope))
        return self._c.execute(query).first() is not None

    def listing_extras(self, rows: Sequence[TicketRecord]) -> dict[int, ListingExtras]:
        """Contact name, tags and newest message of each ticket in ``rows`` (by ticket id)."""
        ids = [r.id for r in rows]
        if not ids:
            return {}
        contact_ids = {r.contact_id for r in rows}
        found = self._c.execute(_CONTACT_NAMES, {"b_ids": list(contact_ids)}).all()
        names = dict(found)  # of the rows: dict() of the result itself would call its keys()
        labels: dict[int, list[str]] = {}
        for ticket_id, name in self._c.execute(_TAGS_OF_MANY, {"b_ids": ids}):
            labels.setdefault(ticket_id, []).append(name)
        newest = {
            r[0]: (r[1], r[2], r[3], bool(r[4]))
            for r in self._c.execute(_NEWEST_MESSAGES, {"b_ids": ids})
        }
        return {
            r.id: ListingExtras(names.get(r.contact_id), tuple(labels.get(r.id, ())),
                                *newest.get(r.id, (None, None, None, False)))
            for r in rows
        }  # fmt: skip

    def _one(self, query: Any, values: dict[str, object] | None = None) -> TicketRecord | None:
        row = self._c.execute(query, values).first()
        return _ticket(row) if row else None

    # ---- queues ----------------------------------------------------------------------------

    def add_queue(
        self, branch_id: int, name: str, greeting: str | None, menu_order: int, color: str | None
    ) -> int:
        values: dict[str, object] = {"branch_id": branch_id, "name": name}
        values |= {"greeting": greeting, "menu_order": menu_order}
        if color:
            values["color"] = color
        return int(self._c.execute(insert(queues).values(**values)).lastrowid or 0)

    def get_queue(self, queue_id: int) -> QueueRecord | None:
        row = self._c.execute(_QUEUE_BY_ID, {"b_id": queue_id}).first()
        return _queue(row) if row else None

    def queues(self, branch_id: int) -> list[QueueRecord]:
        """A branch's queues in menu order (ties by id): option 1 is the first."""
        return [_queue(r) for r in self._c.execute(_QUEUES_OF_BRANCH, {"b_branch": branch_id})]

    def add_queue_member(self, queue_id: int, user_id: int) -> None:
        stmt = sqlite_insert(queue_members).values(queue_id=queue_id, user_id=user_id)
        self._c.execute(stmt.on_conflict_do_nothing())

    def remove_queue_member(self, queue_id: int, user_id: int) -> None:
        qm = queue_members.c
        self._c.execute(delete(queue_members).where(qm.queue_id == queue_id, qm.user_id == user_id))

    def queues_of_user(self, user_id: int) -> set[int]:
        query = select(queue_members.c.queue_id).where(queue_members.c.user_id == user_id)
        return {int(r[0]) for r in self._c.execute(query)}

    def queue_member_ids(self, queue_id: int) -> list[int]:
        qm = queue_members.c
        query = select(qm.user_id).where(qm.queue_id == queue_id).order_by(qm.user_id)
        return [int(r[0]) for r in self._c.execute(query)]

    def update_queue(self, queue_id: int, **values: object) -> None:
        self._c.execute(update(queues).where(queues.c.id == queue_id).values(**values))

    # ---- tags, notes, quick replies ------------------------------------------------------

    def add_tag(self, ticket_id: int, branch_id: int, name: str) -> bool:
        """Tag the ticket (creating the branch's tag on first use); False if already tagged."""
        stmt = sqlite_insert(tags).values(branch_id=branch_id, name=name)
        self._c.execute(stmt.on_conflict_do_nothing())
        where = (tags.c.branch_id == branch_id) & (tags.c.name == name)
        tag_id = self._c.execute(select(tags.c.id).where(where)).scalar_one()
        link = sqlite_insert(ticket_tags).values(ticket_id=ticket_id, tag_id=tag_id)
        return bool(self._c.execute(link.on_conflict_do_nothing()).rowcount)

    def remove_tag(self, ticket_id: int, name: str) -> bool:
        tag_ids = select(tags.c.id).where(tags.c.name == name)
        where = (ticket_tags.c.ticket_id == ticket_id) & ticket_tags.c.tag_id.in_(tag_ids)
        return bool(self._c.execute(delete(ticket_tags).where(where)).rowcount)

    def tags_of(self, ticket_id: int) -> list[str]:
        join = ticket_tags.join(tags, tags.c.id == ticket_tags.c.tag_id)
        query = select(tags.c.name).select_from(join).where(ticket_tags.c.ticket_id == ticket_id)
        return [str(r[0]) for r in self._c.execute(query.order_by(tags.c.name))]

    def add_note(self, ticket_id: int, author_id: int, body: str, at: datetime) -> int:
        values = {"ticket_id": ticket_id, "author_id": author_id, "body": body, "created_at": at}
        return int(self._c.execute(insert(notes).values(**values)).lastrowid or 0)

    def notes_of(self, ticket_id: int) -> list[NoteRecord]:
        query = select(notes).where(notes.c.ticket_id == ticket_id).order_by(notes.c.id)
        rows = self._c.execute(query)
        return [NoteRecord(r.id, r.ticket_id, r.author_id, r.body, r.created_at) for r in rows]

    def add_quick_reply(self, branch_id: int, shortcut: str, body: str) -> int:
        values = {"branch_id": branch_id, "shortcut": shortcut, "body": body}
        return int(self._c.execute(insert(quick_replies).values(**values)).lastrowid or 0)

    def quick_replies(self, branch_id: int) -> list[QuickReplyRecord]:
        qr = quick_replies.c
        query = select(quick_replies).where(qr.branch_id == branch_id).order_by(qr.shortcut)
        return [_quick(r) for r in self._c.execute(query)]

    def quick_reply(self, branch_id: int, shortcut: str) -> QuickReplyRecord | None:
        qr = quick_replies.c
        where = (qr.branch_id == branch_id) & (qr.shortcut == shortcut)
        row = self._c.execute(select(quick_replies).where(where)).first()
        return _quick(row) if row else None

    def quick_reply_by_id(self, reply_id: int) -> QuickReplyRecord | None:
        row = self._c.execute(select(quick_replies).where(quick_replies.c.id == reply_id)).first()
        return _quick(row) if row else None

    def update_quick_reply(self, reply_id: int, shortcut: str, body: str) -> None:
        where = quick_replies.c.id == reply_id
        self._c.execute(update(quick_replies).where(where).values(shortcut=shortcut, body=body))

    def delete_quick_reply(self, reply_id: int) -> None:
        self._c.execute(delete(quick_replies).where(quick_replies.c.id == reply_id))


def _in(column: Any, values: frozenset[int] | None) -> ColumnElement[bool]:
    """``column IN values``; None means no restriction, an empty set matches nothing."""
    if values is None:
        return true()
    return column.in_(sorted(values)) if values else false()


def _visible(scope: TicketScope) -> ColumnElement[bool]:
    """The SQL form of :class:`TicketScope` (see its docstring)."""
    unqueued = t.queue_id.is_(None) & (t.status == "pending")
    mine = (t.assignee_id == scope.user_id) if scope.user_id is not None else false()
    within = or_(
        _in(t.branch_id, scope.whole_branches),
        _in(t.queue_id, scope.queue_ids),
        mine,
        unqueued & _in(t.branch_id, scope.unqueued_branches),
    )
    return _in(t.branch_id, scope.branches) & within


def _filters(query: TicketQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for column, value in (
        (t.status, query.status),
        (t.queue_id, query.queue_id),
        (t.channel_id, query.channel_id),
        (t.assignee_id, query.assignee_id),
    ):
        if value is not None:
            found.append(column == value)
    if query.ids is not None:
        found.append(t.id.in_(query.ids))
    if query.tag is not None:
        join = ticket_tags.join(tags, tags.c.id == ticket_tags.c.tag_id)
        tagged = select(ticket_tags.c.ticket_id).select_from(join).where(tags.c.name == query.tag)
        found.append(t.id.in_(tagged))
    return found


def _ticket(row: Any) -> TicketRecord:
    return TicketRecord(
        row.id, row.branch_id, row.contact_id, row.channel_id, row.queue_id, row.assignee_id,
        row.status, row.unread_count, row.last_activity_at, row.created_at, row.accepted_at,
        row.closed_at, row.last_inbound_at, bool(row.awaiting_menu), int(row.menu_prompts),
    )  # fmt: skip


def _queue(row: Any) -> QueueRecord:
    return QueueRecord(row.id, row.branch_id, row.name, row.color, row.greeting, row.menu_order)


def _quick(row: Any) -> QuickReplyRecord:
    return QuickReplyRecord(row.id, row.branch_id, row.shortcut, row.body)
