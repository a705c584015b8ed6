"""The patient's answer to a reminder that asked "Responda 1 para confirmar ou 2 para remarcar".

Called from routing inside the inbound transaction. A message is an answer only when its whole
text is one (``app.domain.reminders.reminder_answer``: "1", "sim", "👍", "2", "remarcar"…) *and*
a question sent to the patient on that channel within ``ANSWER_WINDOW`` is still unanswered;
the word test comes first, so ordinary messages cost no query. Then:

- the answer is recorded on the reminder (``answer``, ``answered_at``) and audited;
- the message goes into the patient's active ticket on the channel, or else into the ticket
  the reminder went into. A confirmation leaves that ticket closed (a hundred "1"s must not
  fill the inbox; the Lembretes page shows them); a "2" reopens it for a person to call back;
- one short acknowledgement is the only automatic reply (no menu, greeting or out-of-hours
  notice on top of it).

A reaction (👍 on the reminder's own message) answers like the text; a reaction on any other
message does not. A numbered menu the clinic sent *after* the reminder wins: when the patient's
active ticket is another ticket awaiting a menu choice, "1" picks the menu's option 1, as it
always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.auto_texts import (
    CONFIRMATION_PROMPT,
    CONFIRMED_REPLY,
    DECLINED_REPLY,
    DEFAULTS,
)
from app.domain.reminders import ANSWER_WINDOW, CONFIRMED, reminder_answer
from app.domain.tickets import TicketStatus
from app.services.inbound_arrival import Arrival
from app.services.opt_out import branch_text
from app.services.ports import NewAuditEntry, Tx
from app.services.ports_messaging import TicketRecord
from app.services.ports_reminders import ReminderRecord

DEFAULT_PROMPT = DEFAULTS[CONFIRMATION_PROMPT]
DEFAULT_CONFIRMED_REPLY = DEFAULTS[CONFIRMED_REPLY]
DEFAULT_DECLINED_REPLY = DEFAULTS[DECLINED_REPLY]
ACTOR_NAME = "system.inbound"


@dataclass(frozen=True, slots=True)
class Answered:
    """Where an answer went: its ticket, whether that ticket reopened, the reply owed."""

    reminder_id: int
    status: str  # the reminder's own (scheduled when it recurs, else done)
    answer: str
    ticket_id: int
    reopened: bool
    reply: tuple[str, str]


def prompt_text(tx: Tx, branch_id: int) -> str:
    """The line a confirming reminder ends with (branch setting ``confirmation_prompt``)."""
    return branch_text(tx, branch_id, CONFIRMATION_PROMPT, DEFAULT_PROMPT)


def take_answer(tx: Tx, q: Arrival) -> Answered | None:
    """Record ``q`` as the answer to the patient's open question and file the message (see
    the module docstring); None when it is no answer, and then nothing was changed."""
    answer = reminder_answer(q.text)
    if answer is None:
        return None
    rem = tx.reminders.awaiting_answer(q.contact_id, q.channel_id, q.at - ANSWER_WINDOW)
    if rem is None or rem.asked_ticket_id is None:
        return None
    if q.reaction and not _on_the_question(tx, rem, q.reacted_to):
        return None  # a reaction to another message of the conversation
    m = tx.messaging
    active = m.active_ticket(q.branch_id, q.contact_id, q.channel_id)
    if active is not None and active.awaiting_menu and active.id != rem.asked_ticket_id:
        return None  # the menu came after the reminder: "1" is its option 1
    asked = active or m.get_ticket(rem.asked_ticket_id)
    if asked is None or asked.contact_id != q.contact_id:
        return None
    reopened = _file(tx, asked, answer, q.at)
    _record(tx, rem, answer, (q, asked.id))
    return Answered(rem.id, rem.status, answer, asked.id, reopened, _reply(tx, q.branch_id, answer))


def _on_the_question(tx: Tx, rem: ReminderRecord, reacted_to: str | None) -> bool:
    """Whether a reaction is on the message that asked (its WhatsApp id, once sent)."""
    assert rem.asked_ticket_id is not None  # take_answer checked it
    sent = tx.reminders.sent_wa_id(rem.id, rem.asked_ticket_id)
    return reacted_to is not None and sent == reacted_to


def _file(tx: Tx, ticket: TicketRecord, answer: str, at: datetime) -> bool:
    """Put the answer in ``ticket``; a closed ticket reopens only for a "2". True if reopened."""
    m = tx.messaging
    last = max(ticket.last_activity_at, at)
    if ticket.status == TicketStatus.CLOSED and answer == CONFIRMED:
        m.update_ticket(ticket.id, last_activity_at=last, last_inbound_at=at)
        return False
    values: dict[str, object] = {"last_activity_at": last, "last_inbound_at": at}
    values["unread_count"] = ticket.unread_count + 1
    if ticket.status == TicketStatus.CLOSED:
        status = TicketStatus.OPEN if ticket.assignee_id else TicketStatus.PENDING
        values |= {"status": status.value, "closed_at": None}
    m.update_ticket(ticket.id, **values)
    return ticket.status == TicketStatus.CLOSED


def _record(tx: Tx, rem: ReminderRecord, answer: str, where: tuple[Arrival, int]) -> None:
    q, ticket_id = where
    tx.reminders.update(rem.id, answer=answer, answered_at=q.at)
    details: dict[str, object] = {"answer": answer, "message_id": q.message_id}
    details |= {"ticket_id": ticket_id, "contact_id": q.contact_id}
    entry = NewAuditEntry(
        at=q.at, actor_user_id=None, actor_name=ACTOR_NAME, workstation="",
        action="reminder.answered", object_type="reminder", object_id=str(rem.id),
        branch_id=rem.branch_id, details=details,
    )  # fmt: skip
    tx.audit.append(entry)


def _reply(tx: Tx, branch_id: int, answer: str) -> tuple[str, str]:
    if answer == CONFIRMED:
        text = branch_text(tx, branch_id, CONFIRMED_REPLY, DEFAULT_CONFIRMED_REPLY)
    else:
        text = branch_text(tx, branch_id, DECLINED_REPLY, DEFAULT_DECLINED_REPLY)
    return f"reminder_{answer}", text
