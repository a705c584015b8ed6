"""Patient contacts (minimal for now: the messaging issue grows this)."""

from __future__ import annotations

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.models import Contact
from app.domain.phones import normalise_phone
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Clock, Store, Tx


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
