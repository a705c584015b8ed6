"""Erasing a patient's data (LGPD art. 18 IV and VI; RELIABILITY_SECURITY §5.2).

Admins of the patient's branch (``erase_patient_data``); it cannot be undone, so the API and
the desk ask for an explicit confirmation first. In one transaction:

- every message of the patient (text, WhatsApp ids, attachments' rows), their outbox rows, the
  internal notes and tags of their conversations, their reminders and SAIR/VOLTAR history,
  their WhatsApp ids and numbers, and quarantined events that name them are deleted;
- the contact row stays, emptied (no name, number or WhatsApp id; ``erased_at`` set), and so do
  the conversations' bare rows, closed: the reports' counts and averages do not change;
- the ledger (``erasures``) and the audit log (``contact.erase``) record who, when and how much,
  never what.

Then the attachment files no other patient's message uses are deleted from the media store. A
later message from the same number starts a new, unrelated patient.

Archives made before the erasure still hold the data until retention removes them. So the
ledger is also written beside the archives (``app.backup.ledger``), now and at every backup,
and a restore erases again every patient it lists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.contacts_merge import living_contact
from app.services.ports import Clock, Store, Tx
from app.services.ports_erase import ErasureCounts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed (counts only)."""

    contact_id: int
    messages: int
    attachments: int
    tickets_closed: int
    reminders: int


class PatientEraseService:
    """Erases one patient's data (see the module docstring)."""

    def __init__(
        self, store: Store, clock: Clock, auditor: Auditor, delete_blob: Callable[[str], bool]
    ) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor
        self._delete_blob = delete_blob
        # set by the composition root: rewrite the erasure ledger beside the backups
        self.after_erasure: Callable[[], object] | None = None

    async def erase(self, actor: Actor, contact_id: int) -> Erasure:
        """Erase the patient (NOT_FOUND outside the actor's branches or when already erased,
        ACCESS_DENIED without ``erase_patient_data``)."""
        kept, counts = await self._store.transaction(lambda tx: self._erase(tx, actor, contact_id))
        await asyncio.to_thread(self._delete_files, counts.blobs)
        await self._tell_backups()
        return Erasure(kept, counts.messages, counts.attachments, counts.tickets_closed,
                       counts.reminders)  # fmt: skip

    def _erase(self, tx: Tx, actor: Actor, contact_id: int) -> tuple[int, ErasureCounts]:
        contact = living_contact(tx, contact_id)  # a merged-away id: the patient it became
        if contact is None or not actor.can(Permission.VIEW_BRANCH, contact.branch_id):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
        actor.require(Permission.ERASE_PATIENT_DATA, contact.branch_id)
        if tx.contacts.erased(contact.id):
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="contact", reason="erased")
        now = self._clock.now()
        counts = tx.erasure.erase(contact.id, now)
        tx.erasure.record(contact.branch_id, contact.id, now, actor.user_id, counts.as_dict())
        target = AuditTarget("contact", contact.id, contact.branch_id)
        self._auditor.record(tx, actor, "contact.erase", target, **counts.as_dict())
        return contact.id, counts

    async def _tell_backups(self) -> None:
        """A restore of an older archive must erase this patient again: the ledger beside
        the archives is rewritten now (best effort; every backup writes it too)."""
        if self.after_erasure is None:
            return
        try:
            await asyncio.to_thread(self.after_erasure)
        except (ClinicDeskError, OSError) as exc:
            code = exc.code.value if isinstance(exc, ClinicDeskError) else type(exc).__name__
            log.warning("erasure ledger not updated", extra={"code": code})

    def _delete_files(self, blobs: tuple[str, ...]) -> None:
        """The attachment files (their rows are already gone); a failure is logged once and
        leaves an unreferenced encrypted file, never a patient's data in the database."""
        failed = 0
        for sha in blobs:
            try:
                self._delete_blob(sha)
            except OSError:
                failed += 1
        if failed:
            log.warning("erased attachments left on disk", extra={"code": "erase.files"})
