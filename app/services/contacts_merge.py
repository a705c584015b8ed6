"""One patient, one contact: resolving identities to a contact, and merging contacts.

A patient seen as a phone JID, as a LID, or with and without the Brazilian ninth digit is one
contact (PEERS_AND_USER_PAINS §4.2). Unknown patients get a *provisional* contact at once (the
message is never held back); when an event later links a LID to a phone number and both already
have contacts, they are merged automatically, keeping the older one. Staff can merge by hand
too. Either way identities, tickets, messages and reminders follow, and the merge is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.identity import IdentityKeys
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Clock, Store, Tx
from app.services.ports_messaging import ContactRecord

MAX_HOPS = 16  # merged_into chains are short; the cap only guards against a corrupt loop


@dataclass(frozen=True, slots=True)
class Resolved:
    """The contact a message belongs to, and what resolving it did."""

    contact_id: int
    created: bool
    merged: tuple[int, ...] = ()


def resolve_contact(
    tx: Tx, branch_id: int, keys: IdentityKeys, name: str | None, now: datetime
) -> Resolved:
    """The one contact behind ``keys`` in the branch, creating or merging as needed.

    Merges done here are left to the caller to audit (it knows the actor and the event).
    """
    m = tx.messaging
    found = m.find_identities(branch_id, keys.pairs()) | m.find_contacts(
        branch_id, keys.phone, keys.lid
    )
    roots = sorted({_root(tx, cid) for cid in found})
    if not roots:
        contact_id = m.add_contact(branch_id, keys.phone, keys.lid, name, now)
        _complete(tx, contact_id, keys, name, now)
        return Resolved(contact_id, created=True)
    keep, drops = roots[0], tuple(roots[1:])
    for drop in drops:
        merge_into(tx, keep, drop, now)
    _complete(tx, keep, keys, name, now)
    return Resolved(keep, created=False, merged=drops)


def _root(tx: Tx, contact_id: int) -> int:
    """Follow ``merged_into_id`` to the contact that lives on."""
    contact = living_contact(tx, contact_id)
    return contact.id if contact is not None else contact_id


def living_contact(tx: Tx, contact_id: int) -> ContactRecord | None:
    """The contact, or the one it was merged into (its rows moved there); None if unknown."""
    contact = tx.messaging.get_contact(contact_id)
    for _ in range(MAX_HOPS):  # merges chain rarely; the bound only guards against a cycle
        if contact is None or contact.merged_into_id is None:
            break
        contact = tx.messaging.get_contact(contact.merged_into_id)
    return contact


def _complete(tx: Tx, contact_id: int, keys: IdentityKeys, name: str | None, at: datetime) -> None:
    """Record every key and fill the contact's empty phone, LID and name."""
    m = tx.messaging
    contact = m.get_contact(contact_id)
    if contact is None:  # pragma: no cover - just found or created in this transaction
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
    for kind, value in keys.pairs():
        m.add_identity(contact.branch_id, contact_id, kind, value, at)
    values = _missing(contact, keys, name)
    if values:
        m.update_contact(contact_id, **values, updated_at=at)


def _missing(contact: ContactRecord, keys: IdentityKeys, name: str | None) -> dict[str, object]:
    values: dict[str, object] = {}
    if contact.phone_e164 is None and keys.phone:
        values["phone_e164"] = keys.phone
    if contact.wa_lid is None and keys.lid:
        values["wa_lid"] = keys.lid
    if contact.display_name is None and name:
        values["display_name"] = name
    return values


def merge_into(tx: Tx, keep_id: int, drop_id: int, now: datetime) -> None:
    """Move everything of ``drop_id`` to ``keep_id`` and mark drop as merged into keep.

    Drop's phone and LID move too (they are unique per branch, so drop lets go of them first).
    An active ticket of drop on a channel where keep has one too is folded into keep's, so the
    conversation is not split across two tickets (waha#1816).
    """
    m = tx.messaging
    keep, drop = m.get_contact(keep_id), m.get_contact(drop_id)
    if keep is None or drop is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
    _fold_tickets(tx, keep, drop, now)
    m.update_contact(drop_id, phone_e164=None, wa_lid=None, merged_into_id=keep_id, updated_at=now)
    m.move_identities(drop_id, keep_id)
    m.move_contact_rows(drop_id, keep_id)
    values = _missing(keep, IdentityKeys("", drop.phone_e164, drop.wa_lid), drop.display_name)
    if values:
        m.update_contact(keep_id, **values, updated_at=now)


def _fold_tickets(tx: Tx, keep: ContactRecord, drop: ContactRecord, now: datetime) -> None:
    m = tx.messaging
    for ticket in m.tickets_of_contact(drop.id):
        if ticket.status == "closed":
            continue
        target = m.active_ticket(ticket.branch_id, keep.id, ticket.channel_id)
        if target is None:
            continue
        m.move_ticket_messages(ticket.id, target.id)
        m.update_ticket(ticket.id, status="closed", closed_at=now)
        latest = max(target.last_activity_at, ticket.last_activity_at)
        m.update_ticket(target.id, last_activity_at=latest)


class ContactMergeService:
    """Merging two contacts of one branch by hand (supervisors and admins)."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor

    async def merge(self, actor: Actor, keep_id: int, drop_id: int) -> int:
        """Merge ``drop_id`` into ``keep_id`` (same branch, neither merged already); returns
        keep's id. Needs VIEW_ALL_TICKETS in the branch: tickets may change queues' hands."""
        if keep_id == drop_id:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="drop_id")
        actor.require(Permission.VIEW_ALL_TICKETS)

        def work(tx: Tx) -> int:
            keep, drop = self._pair(tx, actor, keep_id, drop_id)
            merge_into(tx, keep.id, drop.id, self._clock.now())
            target = AuditTarget("contact", keep.id, keep.branch_id)
            self._auditor.record(tx, actor, "contact.merged", target, dropped=drop.id)
            return keep.id

        return await self._store.transaction(work)

    @staticmethod
    def _pair(
        tx: Tx, actor: Actor, keep_id: int, drop_id: int
    ) -> tuple[ContactRecord, ContactRecord]:
        keep, drop = tx.messaging.get_contact(keep_id), tx.messaging.get_contact(drop_id)
        for contact in (keep, drop):
            if contact is None or not actor.can(Permission.VIEW_ALL_TICKETS, contact.branch_id):
                raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
        assert keep is not None and drop is not None
        if keep.branch_id != drop.branch_id:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="branch")
        if keep.merged_into_id is not None or drop.merged_into_id is not None:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="merged")
        return keep, drop
