"""Starting a conversation from the desk ("Nova conversa"): the clinic writes first.

A receptionist calls a patient back, confirms an appointment the patient asked for by phone,
or answers someone who left a number at the front desk. The patient is found (or created) by
phone number exactly as an inbound message would find them, so a later reply lands in the
same contact and ticket; a patient who already has an active ticket on that number gets that
ticket, never a second one (PEERS_AND_USER_PAINS §2-E).

The new ticket is open and assigned to the one who started it, in the queue they chose (a
receptionist only one of their own queues) or in none; being theirs, they always see it.
``started_by_id`` marks it: nobody waited for the clinic, so it gets no first-response time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import AccessDeniedError, ClinicDeskError, ErrorCode, NotFoundError
from app.domain.identity import IdentityKeys, typed_phone
from app.domain.models import Channel
from app.domain.roles import Actor, Permission, Role
from app.services.contacts_merge import Resolved, resolve_contact
from app.services.ports import Tx
from app.services.ports_messaging import TicketRecord
from app.services.ticket_access import require_user, scope_for

NAME_MAX = 120  # contacts.display_name


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A conversation to start: the channel, the patient's number as typed, and optionally
    the queue and the patient's name (kept only when the contact has none)."""

    channel_id: int
    phone: str
    queue_id: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """The ticket to talk in; ``created`` False when the patient's active ticket was reused."""

    ticket: TicketRecord
    created: bool
    contact: Resolved


def start_in(tx: Tx, actor: Actor, request: StartRequest, now: datetime) -> Started:
    """Find or create the patient and their ticket on the channel (see the module docstring).

    Errors: the number ``phone.invalid``; the channel ``not_found`` (also for another branch);
    the queue ``not_found``; another queue than their own for a receptionist
    ``access.denied``; an active ticket of the patient that the actor cannot see
    ``entity.already_exists``.
    """
    user_id = require_user(actor)
    channel = _channel(tx, actor, request.channel_id)
    contact = resolve_contact(
        tx, channel.branch_id, IdentityKeys("", _e164(request.phone)), _name(request.name), now
    )
    m = tx.messaging
    active = m.active_ticket(channel.branch_id, contact.contact_id, channel.id)
    if active is not None:
        if not m.ticket_visible(active.id, scope_for(tx, actor)):
            raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="ticket")
        return Started(active, created=False, contact=contact)
    queue_id = _queue(tx, actor, channel.branch_id, request.queue_id)
    ticket_id = m.add_ticket(channel.branch_id, contact.contact_id, channel.id, queue_id, now)
    m.update_ticket(
        ticket_id, status="open", assignee_id=user_id, accepted_at=now, started_by_id=user_id
    )
    if not m.ticket_visible(ticket_id, scope_for(tx, actor)):
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="ticket_queue")
    ticket = m.get_ticket(ticket_id)
    assert ticket is not None  # written just above, in this transaction
    return Started(ticket, created=True, contact=contact)


def _channel(tx: Tx, actor: Actor, channel_id: int) -> Channel:
    """The channel, if the actor handles tickets in its branch (else not-found)."""
    channel = tx.channels.get(channel_id)
    if channel is None or not actor.can(Permission.HANDLE_TICKETS, channel.branch_id):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="channel")
    return channel


def _e164(typed: str) -> str:
    phone = typed_phone(typed)
    if phone is None:
        raise ClinicDeskError(ErrorCode.PHONE_INVALID, field="phone")
    return phone


def _name(typed: str | None) -> str | None:
    name = " ".join((typed or "").split())[:NAME_MAX]
    return name or None


def _queue(tx: Tx, actor: Actor, branch_id: int, queue_id: int | None) -> int | None:
    """The chosen queue of the branch; a receptionist may only choose one of their own (the
    ticket is theirs either way, but the queue's other members will see it)."""
    if queue_id is None:
        return None
    queue = tx.messaging.get_queue(queue_id)
    if queue is None or queue.branch_id != branch_id:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="queue")
    mine = actor.user_id is not None and queue.id in tx.messaging.queues_of_user(actor.user_id)
    if actor.roles.get(branch_id) is Role.RECEPTIONIST and not actor.super_admin and not mine:
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="ticket_queue")
    return queue.id
