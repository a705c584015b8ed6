"""Firing one occurrence of a reminder, inside one store transaction.

Either the whole occurrence is written — the outbound ``messages`` row (``reminder_id`` set,
``automatic``) in the contact's current ticket or a new one, its ``outbox`` row, the reminder
moved on, the audit entry — or nothing is. The outbox idempotency key derives from (reminder
id, occurrence time), and the occurrence must still be the reminder's ``next_run_at``: a second
firing of the same occurrence (a duplicate job, a restart) changes nothing and sends nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from app.domain.reminders import Recurrence, next_occurrence, occurrence_key
from app.domain.roles import Actor
from app.domain.tickets import first_name, render_placeholders
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Tx
from app.services.ports_outbox import NewOutbound, OutboxItem, TicketTarget
from app.services.ports_reminders import ContactFacts, ReminderRecord
from app.services.reminder_answers import prompt_text
from app.services.ticket_extras import CLINIC_NAME_SETTING

SYSTEM = Actor(user_id=None, username="engine.reminders")
DEFAULT_TZ = "America/Sao_Paulo"
NAME_PLACEHOLDERS = ("{nome}", "{primeiro_nome}")
_SPACES = re.compile(r" {2,}")


@dataclass(frozen=True, slots=True)
class Fired:
    """What firing did: ``sent`` (queued), ``skipped_opt_out``, ``no_recipient`` or ``stale``
    (not scheduled, or that occurrence was already handled)."""

    reminder_id: int
    branch_id: int | None
    channel_id: int | None
    outcome: str
    next_run_at: datetime | None = None
    item: OutboxItem | None = None


def fire_in(
    tx: Tx, auditor: Auditor, reminder_id: int, occurrence: datetime, now: datetime
) -> Fired:
    """Handle ``occurrence`` of the reminder (see the module docstring)."""
    rem = tx.reminders.get(reminder_id)
    if rem is None or rem.status != "scheduled" or rem.next_run_at != occurrence:
        return Fired(reminder_id, None, None, "stale")
    facts = tx.reminders.contact(rem.contact_id)
    if facts is None or facts.opted_out_at is not None:
        return _skip(tx, auditor, rem, now)
    key = occurrence_key(rem.id, occurrence)
    item = tx.outbox.get_by_key(key)
    if item is None:
        target = _target(tx, rem, now)
        if target is None:
            return _finish(tx, auditor, rem, now, "no_recipient")
        text = render(tx, rem, facts)
        item, _ = tx.outbox.add(NewOutbound(target, text, None, key, now, automatic=True))
        tx.reminders.link_message(item.message_id, rem.id)
    return _finish(tx, auditor, rem, now, "sent", item=item)


def timezone_of(tx: Tx, branch_id: int) -> str:
    """The branch's time zone (recurrence, daily caps and cron run on its wall clock)."""
    routing = tx.messaging.routing(branch_id)
    return routing.timezone if routing is not None else DEFAULT_TZ


def render(tx: Tx, rem: ReminderRecord, facts: ContactFacts) -> str:
    """The reminder's text with ``{nome}``, ``{primeiro_nome}`` and ``{clinica}`` filled as in
    quick replies; a name the contact does not have is left out rather than sent as "{nome}".
    A reminder that asks for confirmation ends with the branch's "1 to confirm" line."""
    clinic = tx.messaging.setting(rem.branch_id, CLINIC_NAME_SETTING)
    routing = tx.messaging.routing(rem.branch_id)
    values = {
        "nome": facts.display_name,
        "primeiro_nome": first_name(facts.display_name),
        "clinica": clinic if isinstance(clinic, str) else (routing.name if routing else None),
    }
    text = render_placeholders(rem.body, values)
    for placeholder in NAME_PLACEHOLDERS:
        text = text.replace(placeholder, "")
    text = _SPACES.sub(" ", text).strip()
    if rem.ask_confirmation:  # the question the patient's "1" or "2" answers
        text = f"{text}\n\n{prompt_text(tx, rem.branch_id)}"
    return text


def _target(tx: Tx, rem: ReminderRecord, now: datetime) -> TicketTarget | None:
    """The contact's active ticket on the channel, else a new one (in their last ticket's
    queue), closed at once so that a campaign does not fill the inbox; a reply within the
    reopen window reopens it, with the reminder in its history. None when the contact has no
    WhatsApp address at all."""
    m = tx.messaging
    ticket = m.active_ticket(rem.branch_id, rem.contact_id, rem.channel_id)
    if ticket is not None:
        m.update_ticket(ticket.id, last_activity_at=max(ticket.last_activity_at, now))
        ticket_id = ticket.id
    else:
        # In the queue of the patient's last conversation on this number: a reply reopens it
        # there, and the people of that queue (who may have scheduled it) can open it.
        last = m.latest_closed_ticket(rem.branch_id, rem.contact_id, rem.channel_id)
        queue_id = last.queue_id if last is not None else None
        ticket_id = m.add_ticket(rem.branch_id, rem.contact_id, rem.channel_id, queue_id, now)
        m.update_ticket(ticket_id, status="closed", closed_at=now)
    target = tx.outbox.ticket_target(ticket_id)
    return target if target is not None and target.chat_jid is not None else None


def _skip(tx: Tx, auditor: Auditor, rem: ReminderRecord, now: datetime) -> Fired:
    """An opted-out (or vanished) contact: never sent; the reminder ends here."""
    tx.reminders.update(rem.id, status="skipped_opt_out", next_run_at=None)
    target = AuditTarget("reminder", rem.id, rem.branch_id)
    auditor.record(tx, SYSTEM, "reminder.skipped_opt_out", target, contact_id=rem.contact_id)
    return Fired(rem.id, rem.branch_id, rem.channel_id, "skipped_opt_out")


def _finish(
    tx: Tx, auditor: Auditor, rem: ReminderRecord, now: datetime, outcome: str, *,
    item: OutboxItem | None = None,
) -> Fired:  # fmt: skip
    """Move the reminder to its next occurrence (or to ``done``) and audit the outcome."""
    assert rem.next_run_at is not None  # fire_in checked it
    rec = Recurrence(rem.every_days, rem.cron)
    after = next_occurrence(rec, rem.next_run_at, now, timezone_of(tx, rem.branch_id))
    values: dict[str, object] = {"next_run_at": after}
    if after is None:
        values["status"] = "done"
    if item is not None:
        values["last_sent_at"] = now
        if rem.ask_confirmation:  # a new question: an answer to the last one no longer counts
            values |= {"asked_ticket_id": item.ticket_id, "answer": None, "answered_at": None}
    tx.reminders.update(rem.id, **values)
    details: dict[str, object] = {"contact_id": rem.contact_id, "outcome": outcome}
    if item is not None:
        details |= {"message_id": item.message_id, "outbox_id": item.id}
        details["ticket_id"] = item.ticket_id
    auditor.record(
        tx, SYSTEM, "reminder.fired", AuditTarget("reminder", rem.id, rem.branch_id), **details
    )
    return Fired(rem.id, rem.branch_id, rem.channel_id, outcome, after, item)
