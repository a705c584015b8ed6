"""A patient's data for an LGPD access or portability request (Lei 13.709/2018 art. 18 II and
V, art. 19; RELIABILITY_SECURITY §5.2 item 6).

Supervisors and admins of the patient's branch (``export_patient_data``). One read snapshot
gathers what the clinic holds about the patient: the contact (name, number, WhatsApp ids,
opt-out), every conversation of theirs in the branch, every message with its attachments, the
history of their SAIR/VOLTAR choices and the reminders scheduled to them. The archive writer
(:class:`PatientArchive`, ``app.infra.patient_archive``) puts it in a password-protected file;
the password is random, returned once and never stored or logged: the clinic sends the file
and the password by different means.

Left out on purpose: staff names (outbound messages say "clínica") and internal notes, which are
the clinic's working notes (their disclosure is for the DPO to decide, docs/SECURITY.md). The
export is audited (``contact.export``: counts, never content).
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.contacts_merge import living_contact
from app.services.ports import Clock, Store, Tx
from app.services.ports_messaging import ContactRecord, MessageRecord, TicketRecord
from app.services.ports_reminders import ReminderQuery, ReminderRecord
from app.services.reminders_fire import timezone_of
from app.services.ticket_extras import CLINIC_NAME_SETTING

PAGE = 500
SYMBOLS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
PASSWORD_GROUPS = 5  # 5 × 4 characters of 32: 100 bits


@dataclass(frozen=True, slots=True)
class PatientData:
    """Everything exported about one patient (plain values; patient data: never log it)."""

    contact: ContactRecord
    opted_out_at: datetime | None
    identities: list[tuple[str, str]]
    tickets: list[TicketRecord]
    queue_names: dict[int, str]
    messages: list[MessageRecord]  # oldest first, every ticket
    choices: list[tuple[str, datetime]]  # SAIR / PARAR / STOP / VOLTAR, oldest first
    reminders: list[ReminderRecord]
    clinic: str
    timezone: str  # the branch's, for the times a person reads
    exported_at: datetime
    media: list[str] = field(default_factory=list)  # sha256 of every attachment, once each


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The archive written, its one-time password and what it holds (counts)."""

    path: Path
    password: str
    messages: int
    attachments: int


class PatientArchive(Protocol):
    """Writes :class:`PatientData` as a password-protected archive (blocking file work)."""

    def write(
        self, data: PatientData, blob: Callable[[str], bytes], target: Path, password: str
    ) -> int:
        """Write the archive; the number of attachments in it (a blob the media store no
        longer has is left out, and its message says so)."""
        ...


class PatientExportService:
    """Exports one patient's data (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        auditor: Auditor,
        blob: Callable[[str], bytes],
        archive: PatientArchive,
    ) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor
        self._blob, self._archive = blob, archive

    async def export(self, actor: Actor, contact_id: int, target: Path) -> ExportResult:
        """Write the patient's archive to ``target`` (which must not exist) and audit it."""
        if target.exists():
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="target", reason="exists")
        now = self._clock.now()
        data = await self._store.read(lambda tx: gather(tx, actor, contact_id, now))
        password = new_password()
        files = await asyncio.to_thread(self._archive.write, data, self._blob, target, password)
        try:
            await self._store.transaction(lambda tx: self._audit(tx, actor, data, files))
        except BaseException:
            target.unlink(missing_ok=True)  # an export nobody can account for is not kept
            raise
        return ExportResult(target, password, len(data.messages), files)

    def _audit(self, tx: Tx, actor: Actor, data: PatientData, files: int) -> None:
        target = AuditTarget("contact", data.contact.id, data.contact.branch_id)
        self._auditor.record(
            tx, actor, "contact.export", target, tickets=len(data.tickets),
            messages=len(data.messages), attachments=files,
        )  # fmt: skip


def new_password() -> str:
    """A random password in groups of four ("K7PX-3MQA-…"), easy to dictate."""
    chars = "".join(secrets.choice(SYMBOLS) for _ in range(4 * PASSWORD_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def gather(tx: Tx, actor: Actor, contact_id: int, now: datetime) -> PatientData:
    """The patient's data, if ``actor`` may export it; NOT_FOUND otherwise (other branches
    never learn the patient exists), ACCESS_DENIED for a receptionist of the branch."""
    contact = living_contact(tx, contact_id)
    if contact is None or not actor.can(Permission.VIEW_BRANCH, contact.branch_id):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
    actor.require(Permission.EXPORT_PATIENT_DATA, contact.branch_id)
    tickets = tx.messaging.tickets_of_contact(contact.id)
    messages = [m for t in tickets for m in _messages(tx, t.id)]
    facts = tx.reminders.contact(contact.id)
    queues = {q.id: q.name for q in tx.messaging.queues(contact.branch_id)}
    return PatientData(
        contact, facts.opted_out_at if facts else None, tx.messaging.identities_of(contact.id),
        tickets, queues, messages, tx.reminders.choices_of(contact.id),
        _reminders(tx, contact.id), _clinic(tx, contact.branch_id),
        timezone_of(tx, contact.branch_id), now,
        list(dict.fromkeys(m.media_sha256 for m in messages if m.media_sha256)),
    )  # fmt: skip


def _clinic(tx: Tx, branch_id: int) -> str:
    """The clinic's name as patients know it (the branch's name when none is set)."""
    name = tx.messaging.setting(branch_id, CLINIC_NAME_SETTING)
    routing = tx.messaging.routing(branch_id)
    return name if isinstance(name, str) and name else (routing.name if routing else "")


def _messages(tx: Tx, ticket_id: int) -> builtins.list[MessageRecord]:
    """Every message of the ticket, oldest first (read newest first, a page at a time)."""
    found: builtins.list[MessageRecord] = []
    before: tuple[datetime, int] | None = None
    while page := tx.messaging.list_messages(ticket_id, before, PAGE):
        found.extend(page)
        before = (page[-1].sent_at, page[-1].id)
    return found[::-1]


def _reminders(tx: Tx, contact_id: int) -> builtins.list[ReminderRecord]:
    found: builtins.list[ReminderRecord] = []
    before: tuple[datetime, int] | None = None
    while True:
        query = ReminderQuery(None, PAGE, contact_id=contact_id, before=before)
        page = tx.reminders.list(query)
        found.extend(page)
        if len(page) < PAGE:
            return found[::-1]
        before = (page[-1].created_at, page[-1].id)
