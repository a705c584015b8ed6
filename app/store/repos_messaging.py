"""SQL behind ``app.services.ports_messaging``: identities, contacts, messages, outbox rows of
automatic replies, quarantine, settings (tickets, queues and the rest: ``repos_tickets``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.services.ports_messaging import (
    BranchRouting,
    ContactRecord,
    MessageRecord,
    NewMessage,
)
from app.store.repos_media import MediaSql
from app.store.repos_tickets import TicketSql
from app.store.rows import new_id
from app.store.schema import (
    branches,
    contact_identities,
    contacts,
    inbound_quarantine,
    media_blobs,
    messages,
    opt_outs,
    outbox,
    reminders,
    settings,
    tickets,
)

ci = contact_identities


# The inbound pipeline's statements, built once with bind parameters (docs/PERFORMANCE.md:
# building a statement and its cache key on every call cost more than running it).
_ADD_IDENTITY = sqlite_insert(ci).on_conflict_do_nothing()
_FIND_IDENTITIES = select(ci.c.contact_id).where(
    (ci.c.branch_id == bindparam("b_branch"))
    & tuple_(ci.c.kind, ci.c.value).in_(bindparam("b_pairs", expanding=True))
)
# A NULL phone or LID compares as unknown: that half of the OR finds nothing, as if left out.
_FIND_CONTACTS = select(contacts.c.id).where(
    (contacts.c.branch_id == bindparam("b_branch"))
    & ((contacts.c.phone_e164 == bindparam("b_phone")) | (contacts.c.wa_lid == bindparam("b_lid")))
)
_CONTACT = select(contacts).where(contacts.c.id == bindparam("b_id"))
# SET names the columns given as parameters (SQLAlchemy compiles, and caches, one per set).
_UPDATE_CONTACT = update(contacts).where(contacts.c.id == bindparam("b_id"))
_INSERT_CONTACT = insert(contacts)
_INSERT_MESSAGE = sqlite_insert(messages).on_conflict_do_nothing().returning(messages.c.id)
_MESSAGE_LINKS = update(messages).where(messages.c.id == bindparam("b_id"))
_BRANCH = select(branches).where(branches.c.id == bindparam("b_id"))
_SETTING = (
    select(settings.c.value)
    .where(
        (settings.c.key == bindparam("b_key"))
        & settings.c.branch_id.in_([bindparam("b_branch"), 0])
    )
    .order_by(settings.c.branch_id.desc())
    .limit(1)
)


class MessagingRepository(TicketSql, MediaSql):
    """Messages, tickets, queues, identities, quarantine and media rows."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)

    # ---- identities and contacts ----------------------------------------------------------

    def find_identities(self, branch_id: int, pairs: list[tuple[str, str]]) -> set[int]:
        """Contacts holding any of the ``(kind, value)`` identities in the branch."""
        if not pairs:
            return set()
        params = {"b_branch": branch_id, "b_pairs": pairs}
        return {int(r[0]) for r in self._c.execute(_FIND_IDENTITIES, params)}

    def add_identity(
        self, branch_id: int, contact_id: int, kind: str, value: str, at: datetime
    ) -> None:
        """Record an identity; one already known (to this contact or another) is left alone."""
        values = {"branch_id": branch_id, "contact_id": contact_id, "kind": kind}
        self._c.execute(_ADD_IDENTITY, {**values, "value": value, "created_at": at})

    def move_identities(self, drop_id: int, keep_id: int) -> None:
        self._c.execute(update(ci).where(ci.c.contact_id == drop_id).values(contact_id=keep_id))

    def identities_of(self, contact_id: int) -> list[tuple[str, str]]:
        """The contact's ``(kind, value)`` identities, oldest first."""
        query = select(ci.c.kind, ci.c.value).where(ci.c.contact_id == contact_id)
        return [(str(k), str(v)) for k, v in self._c.execute(query.order_by(ci.c.id))]

    def get_contact(self, contact_id: int) -> ContactRecord | None:
        row = self._c.execute(_CONTACT, {"b_id": contact_id}).first()
        return _contact(row) if row else None

    def find_contacts(self, branch_id: int, phone: str | None, lid: str | None) -> set[int]:
        """Contacts with this phone or LID in their own columns (e.g. added by hand)."""
        if not phone and not lid:
            return set()
        params = {"b_branch": branch_id, "b_phone": phone or None, "b_lid": lid or None}
        return {int(r[0]) for r in self._c.execute(_FIND_CONTACTS, params)}

    def add_contact(
        self, branch_id: int, phone: str | None, lid: str | None, name: str | None, at: datetime
    ) -> int:
        values: dict[str, object] = {"branch_id": branch_id, "phone_e164": phone, "wa_lid": lid}
        values |= {"display_name": name, "created_at": at, "updated_at": at}
        return new_id(self._c.execute(_INSERT_CONTACT, values))

    def update_contact(self, contact_id: int, **values: object) -> None:
        self._c.execute(_UPDATE_CONTACT, {"b_id": contact_id, **values})

    def move_contact_rows(self, drop_id: int, keep_id: int) -> None:
        """Point everything that names ``drop_id`` (tickets, messages, reminders…) at keep."""
        for table in (tickets, messages, reminders, opt_outs):
            where = table.c.contact_id == drop_id
            self._c.execute(update(table).where(where).values(contact_id=keep_id))

    # ---- messages -------------------------------------------------------------------------

    def insert_message(self, new: NewMessage) -> int | None:
        """Insert, or do nothing when the natural key is already stored (then None)."""
        values = {k: getattr(new, k) for k in NewMessage.__dataclass_fields__}
        row = self._c.execute(_INSERT_MESSAGE, values).first()
        return None if row is None else int(row[0])

    def set_message_links(self, message_id: int, contact_id: int, ticket_id: int) -> None:
        values = {"b_id": message_id, "contact_id": contact_id, "ticket_id": ticket_id}
        self._c.execute(_MESSAGE_LINKS, values)

    def list_messages(
        self, ticket_id: int, before: tuple[datetime, int] | None, limit: int
    ) -> list[MessageRecord]:
        """A ticket's messages, newest first, strictly older than ``before`` (sent_at, id)."""
        m = messages.c
        joined = messages.outerjoin(media_blobs, media_blobs.c.sha256 == m.media_sha256)
        joined = joined.outerjoin(outbox, outbox.c.message_id == m.id)
        send = (outbox.c.id.label("outbox_id"), outbox.c.status.label("outbox_status"))
        extra = (media_blobs.c.thumb_sha256, *send, outbox.c.last_error.label("outbox_error"))
        query = select(messages, *extra).select_from(joined)
        query = query.where(m.ticket_id == ticket_id)
        if before is not None:
            at, last = before
            query = query.where(or_(m.sent_at < at, and_(m.sent_at == at, m.id < last)))
        query = query.order_by(m.sent_at.desc(), m.id.desc()).limit(limit)
        return [_message(r) for r in self._c.execute(query)]

    def move_ticket_messages(self, from_ticket: int, to_ticket: int) -> None:
        where = messages.c.ticket_id == from_ticket
        self._c.execute(update(messages).where(where).values(ticket_id=to_ticket))

    def add_outbox(self, channel_id: int, message_id: int, key: str, at: datetime) -> bool:
        """Queue ``message_id`` for sending; False when ``key`` was already queued."""
        values = {"channel_id": channel_id, "message_id": message_id, "idempotency_key": key}
        stamp = {"status": "queued", "created_at": at, "updated_at": at}
        stmt = sqlite_insert(outbox).values(**values, **stamp).on_conflict_do_nothing()
        return bool(self._c.execute(stmt).rowcount)

    def outbox_key_exists(self, key: str) -> bool:
        where = outbox.c.idempotency_key == key
        return self._c.execute(select(outbox.c.id).where(where)).first() is not None

    # ---- branch routing, settings, quarantine ---------------------------------------------

    def routing(self, branch_id: int) -> BranchRouting | None:
        row = self._c.execute(_BRANCH, {"b_id": branch_id}).first()
        if row is None:
            return None
        return BranchRouting(
            row.id, row.name, row.timezone, row.business_hours, row.out_of_hours_message
        )

    def setting(self, branch_id: int, key: str) -> object | None:
        """The branch's value for ``key``, else the global one (branch 0), else None."""
        return read_setting(self._c, branch_id, key)

    def set_setting(self, branch_id: int, key: str, value: object, at: datetime) -> None:
        """Store ``value`` (JSON) for ``key`` (branch 0: global), replacing any earlier one."""
        write_setting(self._c, branch_id, key, value, at)

    def quarantine(self, channel_id: int, reason: str, payload: str, at: datetime) -> bool:
        """Keep a rejected event; False when the same one is already kept (a redelivery)."""
        q = inbound_quarantine.c
        same = (q.channel_id == channel_id) & (q.reason == reason) & (q.payload == payload)
        if self._c.execute(select(q.id).where(same).limit(1)).first() is not None:
            return False
        values = {"channel_id": channel_id, "reason": reason, "payload": payload}
        self._c.execute(insert(inbound_quarantine).values(**values, received_at=at))
        return True


def _contact(row: Any) -> ContactRecord:
    return ContactRecord(
        row.id, row.branch_id, row.phone_e164, row.wa_lid, row.display_name,
        row.merged_into_id, row.created_at,
    )  # fmt: skip


def _message(row: Any) -> MessageRecord:
    return MessageRecord(
        row.id, row.ticket_id, row.channel_id, row.contact_id, row.wa_id, row.direction,
        row.kind, row.body, row.media_mime, row.media_name, row.media_size, row.ack,
        row.author_id, bool(row.automatic), row.sent_at, row.media_sha256,
        getattr(row, "thumb_sha256", None) is not None,
        getattr(row, "outbox_id", None), getattr(row, "outbox_status", None),
        getattr(row, "outbox_error", None),
    )  # fmt: skip


def read_setting(conn: Connection, branch_id: int, key: str) -> object | None:
    """The branch's value for ``key``, else the global one (branch 0), else None."""
    raw = conn.execute(_SETTING, {"b_key": key, "b_branch": branch_id}).scalar()
    return None if raw is None else json.loads(raw)


def write_setting(conn: Connection, branch_id: int, key: str, value: object, at: datetime) -> None:
    """Store ``value`` (JSON) for ``key`` (branch 0: global), replacing any earlier one."""
    values = {"branch_id": branch_id, "key": key, "value": json.dumps(value, sort_keys=True)}
    stmt = sqlite_insert(settings).values(**values, updated_at=at)
    fresh = {"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}
    conn.execute(stmt.on_conflict_do_update(index_elements=["branch_id", "key"], set_=fresh))
