"""Patient contacts: adding one by hand, and the desk's contact profile.

The profile (``GET /contacts/{id}``) is shown only to a caller who may see at least one of the
contact's tickets (``ticket_access`` rules); anyone else gets "not found", so the existence of a
patient in another queue or branch is not revealed. The read is audited with ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.models import Contact
from app.domain.phones import normalise_phone
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Clock, Store, Tx
from app.services.ports_messaging import TicketRecord
from app.services.ticket_access import scope_for

PROFILE_TICKETS = 50  # newest first; older ones stay reachable through the inbox search


@dataclass(frozen=True, slots=True)
class ContactTicket:
    """One of the contact's tickets; ``visible``: the caller may open it."""

    id: int
    status: str
    channel_id: int
    created_at: datetime
    closed_at: datetime | None
    visible: bool


@dataclass(frozen=True, slots=True)
class ContactProfile:
    """Who the patient is: name, E.164 phone, WhatsApp identity kinds, consent, tickets."""

    id: int
    branch_id: int
    display_name: str | None
    phone_e164: str | None
    identity_kinds: tuple[str, ...]
    opted_out_at: datetime | None
    created_at: datetime
    tickets: tuple[ContactTicket, ...]


class ContactService:
    """Creating and reading contacts within the actor's branches."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor

    async def add(self, actor: Actor, branch_id: int, phone: str, name: str | None) -> Contact:
        """Create a contact for ``phone`` (normalised to E.164) in ``branch_id``."""
        actor.require(Permission.HANDLE_TICKETS, branch_id)
        e164 = normalise_phone(phone)

        def work(tx: Tx) -> Contact:
            if tx.branches.get(branch_id) is None:
                raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
            if tx.contacts.find_by_phone(branch_id, e164) is not None:
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="contact")
            contact_id = tx.contacts.add(branch_id, e164, name, None, self._clock.now())
            target = AuditTarget("contact", contact_id, branch_id)
            self._auditor.record(tx, actor, "contact.add", target)
            contact = tx.contacts.get(contact_id)
            if contact is None:  # pragma: no cover - inserted above
                raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
            return contact

        return await self._store.transaction(work)

    async def profile(self, actor: Actor, contact_id: int) -> ContactProfile:
        """The contact's profile, if ``actor`` may see one of its tickets; else not-found."""
        return await self._store.transaction(lambda tx: self._profile(tx, actor, contact_id))

    def _profile(self, tx: Tx, actor: Actor, contact_id: int) -> ContactProfile:
        record = tx.messaging.get_contact(contact_id)
        # Only tickets the caller may open are listed: a receptionist must not learn that the
        # patient also talks to another queue or branch (the same rule as ticket reads).
        marked = _visible_marks(tx, actor, tx.messaging.tickets_of_contact(contact_id))
        tickets = tuple(t for t in marked if t.visible)
        if record is None or not tickets:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
        identities = tx.messaging.identities_of(contact_id)
        phones = [v for k, v in identities if k == "phone"]
        facts = tx.reminders.contact(contact_id)
        target = AuditTarget("contact", contact_id, record.branch_id)
        self._auditor.record(tx, actor, "contact.read", target, tickets=len(tickets))
        return ContactProfile(
            record.id, record.branch_id, record.display_name,
            record.phone_e164 or (phones[0] if phones else None),
            tuple(dict.fromkeys(k for k, _ in identities)),
            facts.opted_out_at if facts else None, record.created_at,
            tickets[:PROFILE_TICKETS],
        )  # fmt: skip


def _visible_marks(tx: Tx, actor: Actor, rows: list[TicketRecord]) -> tuple[ContactTicket, ...]:
    """The tickets, newest first, each marked with whether ``actor`` may open it."""
    scope = scope_for(tx, actor)
    newest = sorted(rows, key=lambda t: (t.created_at, t.id), reverse=True)
    return tuple(
        ContactTicket(t.id, t.status, t.channel_id, t.created_at, t.closed_at,
                      actor.can(Permission.HANDLE_TICKETS, t.branch_id)
                      and tx.messaging.ticket_visible(t.id, scope))
        for t in newest
    )  # fmt: skip
