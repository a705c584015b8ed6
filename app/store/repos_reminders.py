"""SQL behind :class:`app.services.ports_reminders.ReminderRepo`: reminders, opt-outs, and the
per-channel counts the campaign pacing starts from.

Runs inside the caller's transaction (the single writer thread for writes).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, text, update

from app.domain.reminders import WAITING
from app.services.ports_reminders import (
    ContactFacts,
    NewReminder,
    ReminderQuery,
    ReminderRecord,
)
from app.store.rows import new_id
from app.store.schema import contacts, messages, opt_outs, reminders

r = reminders.c
SCHEDULED = "scheduled"
_AWAITING = text("ask_confirmation = 1 AND answer IS NULL")


def _record(row: Any) -> ReminderRecord:
    return ReminderRecord(
        id=row.id, branch_id=row.branch_id, channel_id=row.channel_id, contact_id=row.contact_id,
        body=row.body, next_run_at=row.next_run_at, every_days=row.every_days, cron=row.cron,
        campaign=row.campaign, status=row.status, created_by=row.created_by,
        created_at=row.created_at, last_sent_at=row.last_sent_at,
        contact_name=getattr(row, "contact_name", None), ask_confirmation=row.ask_confirmation,
        asked_ticket_id=row.asked_ticket_id, answer=row.answer, answered_at=row.answered_at,
    )  # fmt: skip


def _readable(query: ReminderQuery) -> Any:
    """Every reminder of the managed branches, and the user's own in the others."""
    managed = r.branch_id.in_(sorted(query.branch_ids or ()))
    if not query.own_branch_ids or query.own_user_id is None:
        return managed
    own = r.branch_id.in_(sorted(query.own_branch_ids)) & (r.created_by == query.own_user_id)
    return or_(managed, own)


def _answer_is(answer: str, asked_since: datetime | None) -> Any:
    """``waiting``: the question was sent (since ``asked_since``: it can still be answered)
    and is unanswered; otherwise that answer."""
    if answer == WAITING:
        return and_(_AWAITING, r.last_sent_at >= asked_since, r.last_sent_at.is_not(None))
    return r.answer == answer


class ReminderRepository:
    """Reminders and opt-outs."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, new: NewReminder) -> int:
        values: dict[str, object] = {"branch_id": new.branch_id, "channel_id": new.channel_id}
        values |= {"contact_id": new.contact_id, "body": new.body, "status": SCHEDULED}
        values |= {"next_run_at": new.next_run_at, "every_days": new.every_days}
        values |= {"cron": new.cron, "campaign": new.campaign, "created_by": new.created_by}
        values["ask_confirmation"] = new.ask_confirmation
        return new_id(self._c.execute(insert(reminders).values(**values, created_at=new.at)))

    def get(self, reminder_id: int) -> ReminderRecord | None:
        row = self._c.execute(select(reminders).where(r.id == reminder_id)).first()
        return _record(row) if row else None

    def list(self, query: ReminderQuery) -> builtins.list[ReminderRecord]:
        """A keyset page, each with the contact's name (one join: the list shows it)."""
        name = contacts.c.display_name.label("contact_name")
        q = select(reminders, name).join(contacts, contacts.c.id == r.contact_id)
        if query.branch_ids is not None:
            q = q.where(_readable(query))
        for column, value in ((r.status, query.status), (r.campaign, query.campaign)):
            if value is not None:
                q = q.where(column == value)
        if query.contact_id is not None:
            q = q.where(r.contact_id == query.contact_id)
        if query.answer is not None:
            q = q.where(_answer_is(query.answer, query.asked_since))
        if query.before is not None:
            at, row_id = query.before
            q = q.where(or_(r.created_at < at, (r.created_at == at) & (r.id < row_id)))
        q = q.order_by(r.created_at.desc(), r.id.desc()).limit(query.limit)
        return [_record(row) for row in self._c.execute(q)]

    def update(self, reminder_id: int, **values: object) -> None:
        self._c.execute(update(reminders).where(r.id == reminder_id).values(**values))

    def scheduled(self) -> builtins.list[tuple[int, datetime]]:
        where = (r.status == SCHEDULED) & r.next_run_at.is_not(None)
        q = select(r.id, r.next_run_at).where(where).order_by(r.next_run_at, r.id)
        return [(int(i), at) for i, at in self._c.execute(q)]

    def scheduled_in_campaign(self, campaign: str) -> builtins.list[ReminderRecord]:
        where = (r.campaign == campaign) & (r.status == SCHEDULED)
        return [_record(row) for row in self._c.execute(select(reminders).where(where))]

    def contact(self, contact_id: int) -> ContactFacts | None:
        c = contacts.c
        cols = (c.id, c.branch_id, c.display_name, c.merged_into_id, c.opted_out_at)
        row = self._c.execute(select(*cols).where(c.id == contact_id)).first()
        if row is None:
            return None
        return ContactFacts(row[0], row[1], row[2], row[3], row[4])

    def set_opted_out(self, contact_id: int, at: datetime | None) -> None:
        query = update(contacts).where(contacts.c.id == contact_id)
        self._c.execute(query.values(opted_out_at=at))

    def add_opt_out(
        self, contact_id: int, keyword: str, message_id: int | None, at: datetime
    ) -> int:
        values = {"contact_id": contact_id, "keyword": keyword, "message_id": message_id}
        return new_id(self._c.execute(insert(opt_outs).values(**values, at=at)))

    def choices_of(self, contact_id: int) -> builtins.list[tuple[str, datetime]]:
        """The patient's SAIR/PARAR/STOP/VOLTAR keywords with their times, oldest first."""
        o = opt_outs.c
        query = select(o.keyword, o.at).where(o.contact_id == contact_id).order_by(o.at, o.id)
        return [(str(k), at) for k, at in self._c.execute(query)]

    def link_message(self, message_id: int, reminder_id: int) -> None:
        query = update(messages).where(messages.c.id == message_id)
        self._c.execute(query.values(reminder_id=reminder_id))

    def awaiting_answer(
        self, contact_id: int, channel_id: int, since: datetime
    ) -> ReminderRecord | None:
        """The latest question sent to the contact on the channel since ``since`` that is
        still unanswered (the partial index ``ix_reminders_awaiting`` serves it)."""
        where = (r.contact_id == contact_id) & (r.channel_id == channel_id)
        where &= _AWAITING  # word for word the index's WHERE, so SQLite can use the index
        where &= (r.last_sent_at >= since) & r.asked_ticket_id.is_not(None)
        q = select(reminders).where(where).order_by(r.last_sent_at.desc(), r.id.desc()).limit(1)
        row = self._c.execute(q).first()
        return _record(row) if row else None

    def sent_wa_id(self, reminder_id: int, ticket_id: int) -> str | None:
        """The WhatsApp id of the reminder's latest message in the ticket (None until sent)."""
        m = messages.c
        where = (m.ticket_id == ticket_id) & (m.reminder_id == reminder_id)
        query = select(m.wa_id).where(where).order_by(m.id.desc()).limit(1)
        found = self._c.execute(query).scalar()
        return str(found) if found else None

    def channel_sends(self, channel_id: int, since: datetime) -> tuple[datetime | None, int]:
        """The newest reminder message queued on the channel, and how many since ``since``."""
        m = messages.c
        sent = (m.channel_id == channel_id) & m.reminder_id.is_not(None)
        last = self._c.execute(select(func.max(m.stored_at)).where(sent)).scalar()
        count = self._c.execute(select(func.count()).where(sent & (m.stored_at >= since))).scalar()
        return last, int(count or 0)
