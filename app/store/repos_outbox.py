"""SQL behind ``app.services.ports_outbox``: outbound messages, the outbox, receipts, counts.

Runs inside the caller's transaction (the single writer thread for writes), so a read followed
by a write here cannot race another writer.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, update

from app.domain.outbox import CRASH_CODE, PROBLEM_STATUSES, Ack, OutboxStatus, advance
from app.services.ports_outbox import (
    AckChange,
    ChannelCounts,
    NewOutbound,
    OutboxItem,
    TicketTarget,
)
from app.store.rows import new_id
from app.store.schema import channels, contact_identities, contacts, messages, outbox, tickets

S = OutboxStatus
USER_SERVER = "@s.whatsapp.net"


def _item_query() -> Select[Any]:
    """Outbox rows with their message and the channel's branch."""
    m, c = messages, channels
    cols = (m.c.ticket_id, m.c.chat_jid, m.c.body, m.c.wa_id, m.c.ack, c.c.branch_id)
    media = (m.c.media_sha256, m.c.media_mime, m.c.media_name)
    joined = outbox.join(m, m.c.id == outbox.c.message_id).join(c, c.c.id == outbox.c.channel_id)
    return select(outbox, *cols, *media).select_from(joined)


# The send path's statements, built once with bind parameters: building a select, a join and
# its cache key on every call cost more than running it (docs/PERFORMANCE.md, "Send → worker").
_ITEM_BY_ID = _item_query().where(outbox.c.id == bindparam("b_id"))
_ITEM_BY_KEY = _item_query().where(outbox.c.idempotency_key == bindparam("b_key"))
_TICKET = select(tickets).where(tickets.c.id == bindparam("b_id"))
_INBOUND = (messages.c.direction == "in") & (messages.c.channel_id == bindparam("b_channel"))
_LAST_CHAT = {
    column: select(messages.c.chat_jid)
    .where(_INBOUND & (column == bindparam("b_owner")))
    .order_by(messages.c.id.desc())
    .limit(1)
    for column in (messages.c.ticket_id, messages.c.contact_id)
}
# A ticket the clinic started (started_by_id) never gets one: nobody waited for the clinic.
_FIRST_RESPONSE = update(tickets).where(
    (tickets.c.id == bindparam("b_id"))
    & tickets.c.first_response_at.is_(None)
    & tickets.c.started_by_id.is_(None)
)
_INSERT_MESSAGE = insert(messages)
# ... and the sender's: the head of a channel's queue, the claim, and the SENT bookkeeping.
_HEAD = (
    _item_query()
    .where((outbox.c.channel_id == bindparam("b_channel")) & (outbox.c.status == S.QUEUED.value))
    .order_by(outbox.c.id)
    .limit(1)
)
_CLAIM = (
    update(outbox)
    .where((outbox.c.id == bindparam("b_id")) & (outbox.c.status == S.QUEUED.value))
    .values(status=S.SENDING.value, attempts=outbox.c.attempts + 1)
)
_MARK_SENT = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(status=S.SENT.value, last_error=None, next_attempt_at=None)
)
_MESSAGE_WA_ID = update(messages).where(messages.c.id == bindparam("b_id"))
_PENDING_TO_SENT = (
    update(messages)
    .where((messages.c.id == bindparam("b_id")) & (messages.c.ack == Ack.PENDING.value))
    .values(ack=Ack.SENT.value)
)
_INSERT_OUTBOX = insert(outbox)


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id, channel_id=row.channel_id, branch_id=row.branch_id,
        message_id=row.message_id, ticket_id=row.ticket_id,
        idempotency_key=row.idempotency_key, status=row.status, attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error,
        created_at=row.created_at, updated_at=row.updated_at, to_jid=row.chat_jid,
        text=row.body or "", wa_id=row.wa_id, ack=row.ack, media_sha256=row.media_sha256,
        media_mime=row.media_mime, media_name=row.media_name,
    )  # fmt: skip


class OutboxRepository:
    """The outbox and outbound message rows."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    # ---- tickets, as outbound needs them ----------------------------------------------------

    def ticket_target(self, ticket_id: int) -> TicketTarget | None:
        row = self._c.execute(_TICKET, {"b_id": ticket_id}).first()
        if row is None:
            return None
        jid = self._chat_of(row)
        return TicketTarget(
            row.id, row.branch_id, row.channel_id, row.contact_id, jid, row.first_response_at
        )

    def _chat_of(self, ticket: Any) -> str | None:
        """The chat the patient last wrote from on this ticket (replies go where they wrote),
        else the patient's last chat on the channel, else a JID identity, else the phone."""
        owners = ((messages.c.ticket_id, ticket.id), (messages.c.contact_id, ticket.contact_id))
        for column, owner in owners:
            values = {"b_channel": ticket.channel_id, "b_owner": owner}
            if (jid := self._c.execute(_LAST_CHAT[column], values).scalar()) is not None:
                return str(jid)
        return self._identity_jid(ticket.contact_id)

    def _identity_jid(self, contact_id: int) -> str | None:
        ci = contact_identities
        where = (ci.c.contact_id == contact_id) & (ci.c.kind == "jid")
        jid = self._c.execute(select(ci.c.value).where(where).limit(1)).scalar()
        if jid is not None:
            return str(jid)
        phone = self._c.execute(
            select(contacts.c.phone_e164).where(contacts.c.id == contact_id)
        ).scalar()
        return f"{str(phone).lstrip('+')}{USER_SERVER}" if phone else None

    def set_first_response(self, ticket_id: int, at: datetime) -> bool:
        result = self._c.execute(_FIRST_RESPONSE, {"b_id": ticket_id, "first_response_at": at})
        return bool(result.rowcount)

    # ---- inserting and reading ----------------------------------------------------------------

    def add(self, new: NewOutbound) -> tuple[OutboxItem, bool]:
        existing = self.get_by_key(new.idempotency_key)
        if existing is not None:
            return existing, False
        message_id = self._insert_message(new)
        values: dict[str, object] = {"channel_id": new.target.channel_id}
        values["message_id"] = message_id
        values |= {"idempotency_key": new.idempotency_key, "status": S.QUEUED.value}
        values |= {"attempts": 0, "created_at": new.at, "updated_at": new.at}
        outbox_id = new_id(self._c.execute(_INSERT_OUTBOX, values))
        return self._must(outbox_id), True

    def _insert_message(self, new: NewOutbound) -> int:
        t = new.target
        assert t.chat_jid is not None  # the service refuses a ticket without a chat
        values: dict[str, object] = {"ticket_id": t.ticket_id, "channel_id": t.channel_id}
        values |= {"contact_id": t.contact_id, "chat_jid": t.chat_jid, "direction": "out"}
        values |= {"body": new.text, "ack": Ack.PENDING.value, "author_id": new.author_id}
        values |= {"automatic": new.automatic, "sent_at": new.at, "stored_at": new.at}
        if (f := new.file) is not None:
            values |= {"kind": f.kind, "body": new.text or None, "media_name": f.name}
            values |= {"media_sha256": f.ref.sha256, "media_mime": f.ref.mime}
            values["media_size"] = f.ref.size
        return new_id(self._c.execute(_INSERT_MESSAGE, values))

    def get(self, outbox_id: int) -> OutboxItem | None:
        row = self._c.execute(_ITEM_BY_ID, {"b_id": outbox_id}).first()
        return _item(row) if row else None

    def get_by_key(self, idempotency_key: str) -> OutboxItem | None:
        row = self._c.execute(_ITEM_BY_KEY, {"b_key": idempotency_key}).first()
        return _item(row) if row else None

    def _must(self, outbox_id: int) -> OutboxItem:
        item = self.get(outbox_id)
        if item is None:  # pragma: no cover - callers pass ids they just read
            raise LookupError(f"outbox row {outbox_id} vanished")
        return item

    # ---- the sender's moves ---------------------------------------------------------------------

    def head(self, channel_id: int) -> OutboxItem | None:
        row = self._c.execute(_HEAD, {"b_channel": channel_id}).first()
        return _item(row) if row else None

    def claim(self, outbox_id: int, at: datetime) -> OutboxItem | None:
        result = self._c.execute(_CLAIM, {"b_id": outbox_id, "updated_at": at})
        return self._must(outbox_id) if result.rowcount else None

    def mark_sent(self, outbox_id: int, wa_id: str, at: datetime) -> OutboxItem:
        self._c.execute(_MARK_SENT, {"b_id": outbox_id, "updated_at": at})
        message_id = self._must(outbox_id).message_id
        self._c.execute(_MESSAGE_WA_ID, {"b_id": message_id, "wa_id": wa_id})
        self._c.execute(_PENDING_TO_SENT, {"b_id": message_id})
        return self._must(outbox_id)

    def mark_retry(self, outbox_id: int, error: str, next_at: datetime, at: datetime) -> OutboxItem:
        values = {"status": S.QUEUED.value, "last_error": error, "next_attempt_at": next_at}
        self._set(outbox_id, at, **values)
        return self._must(outbox_id)

    def release(self, outbox_id: int, error: str, at: datetime) -> OutboxItem:
        values = {"status": S.QUEUED.value, "last_error": error, "next_attempt_at": None}
        attempts = func.max(0, outbox.c.attempts - 1)
        self._set(outbox_id, at, **values, attempts=attempts)
        return self._must(outbox_id)

    def mark_failed(self, outbox_id: int, error: str, at: datetime) -> OutboxItem:
        self._set(outbox_id, at, status=S.FAILED.value, last_error=error, next_attempt_at=None)
        self._set_ack(outbox_id, Ack.FAILED)
        return self._must(outbox_id)

    def mark_needs_review(self, outbox_id: int, error: str, at: datetime) -> OutboxItem:
        values = {"status": S.NEEDS_REVIEW.value, "last_error": error, "next_attempt_at": None}
        self._set(outbox_id, at, **values)
        return self._must(outbox_id)

    def recover(self, at: datetime) -> builtins.list[OutboxItem]:
        query = select(outbox.c.id).where(outbox.c.status == S.SENDING.value)
        ids = [int(i) for i in self._c.execute(query).scalars()]
        return [self.mark_needs_review(i, CRASH_CODE, at) for i in ids]

    def requeue(self, outbox_id: int, at: datetime) -> OutboxItem:
        values = {"status": S.QUEUED.value, "attempts": 0, "next_attempt_at": None}
        self._set(outbox_id, at, **values, last_error=None)
        self._set_ack(outbox_id, Ack.PENDING)
        return self._must(outbox_id)

    def _set(self, outbox_id: int, at: datetime, **values: Any) -> None:
        query = update(outbox).where(outbox.c.id == outbox_id)
        self._c.execute(query.values(**values, updated_at=at))

    def _set_ack(self, outbox_id: int, ack: Ack) -> None:
        message_id = select(outbox.c.message_id).where(outbox.c.id == outbox_id)
        query = update(messages).where(messages.c.id == message_id.scalar_subquery())
        self._c.execute(query.values(ack=ack.value))

    # ---- receipts -------------------------------------------------------------------------------

    def apply_receipt(self, channel_id: int, wa_id: str, receipt: str) -> AckChange | None:
        row = self._outbound_by_wa_id(channel_id, wa_id)
        new = advance(row.ack, receipt) if row is not None else None
        if row is None or new is None:
            return None
        self._c.execute(update(messages).where(messages.c.id == row.id).values(ack=new.value))
        return AckChange(row.id, channel_id, row.branch_id, row.ticket_id, new.value)

    def knows_wa_id(self, channel_id: int, wa_id: str) -> bool:
        return self._outbound_by_wa_id(channel_id, wa_id) is not None

    def _outbound_by_wa_id(self, channel_id: int, wa_id: str) -> Any:
        m = messages
        where = (m.c.channel_id == channel_id) & (m.c.wa_id == wa_id) & (m.c.direction == "out")
        joined = m.join(channels, channels.c.id == m.c.channel_id)
        query = select(m.c.id, m.c.ack, m.c.ticket_id, channels.c.branch_id).select_from(joined)
        return self._c.execute(query.where(where).limit(1)).first()

    # ---- lists and counts -----------------------------------------------------------------------

    def problems(self, branch_ids: frozenset[int] | None, limit: int) -> builtins.list[OutboxItem]:
        query = _item_query().where(outbox.c.status.in_([s.value for s in PROBLEM_STATUSES]))
        if branch_ids is not None:
            query = query.where(channels.c.branch_id.in_(sorted(branch_ids)))
        query = query.order_by(outbox.c.updated_at.desc(), outbox.c.id.desc()).limit(limit)
        return [_item(r) for r in self._c.execute(query)]

    def counts(self) -> builtins.list[ChannelCounts]:
        rows = self._c.execute(select(channels.c.id, channels.c.name).order_by(channels.c.id))
        found = {r.id: ChannelCounts(r.id, r.name) for r in rows}
        self._count_messages(found)
        self._count_outbox(found)
        return list(found.values())

    def _count_messages(self, found: dict[int, ChannelCounts]) -> None:
        m = messages
        query = select(m.c.channel_id, m.c.direction, func.count()).group_by(
            m.c.channel_id, m.c.direction
        )
        for channel_id, direction, n in self._c.execute(query):
            entry = found.get(channel_id)
            if entry is not None and direction == "in":
                entry.inbound = int(n)
            elif entry is not None:
                entry.outbound = int(n)

    def _count_outbox(self, found: dict[int, ChannelCounts]) -> None:
        query = select(outbox.c.channel_id, outbox.c.status, func.count()).group_by(
            outbox.c.channel_id, outbox.c.status
        )
        for entry in found.values():
            entry.outbox = {s.value: 0 for s in OutboxStatus}
        for channel_id, status, n in self._c.execute(query):
            if channel_id in found:
                found[channel_id].outbox[str(status)] = int(n)
