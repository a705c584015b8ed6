"""A patient's data on request (LGPD): ``POST /contacts/{id}/export`` (a download) and
``POST /contacts/{id}/erase``.

The archive (``app.services.patient_export``) is written to the data directory's ``exports``
folder, sent as ``application/zip`` with its one-time password in the ``X-Export-Password``
header, and deleted once sent. Supervisors and admins of the patient's branch; others 403, and
another branch's patient 404. Archives left behind by an interrupted send are swept on the next
export. Erasure (``app.services.patient_erase``) is for admins and needs ``{"confirm": true}``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from app.api.deps import ActorDep, CoreDep
from app.domain.errors import ClinicDeskError, ErrorCode

router = APIRouter()
STALE_S = 3600.0  # an archive older than this was never collected: remove it


@router.post("/contacts/{contact_id}/export", response_class=FileResponse)
async def export_contact(contact_id: int, actor: ActorDep, core: CoreDep) -> FileResponse:
    """The patient's conversations, attachments, choices and reminders as an AES-256 ZIP."""
    folder = core.data_dir.exports
    await asyncio.to_thread(_prepare, folder)
    target = folder / f"{secrets.token_hex(8)}.zip"
    result = await core.exports.export(actor, contact_id, target)
    return FileResponse(
        result.path,
        media_type="application/zip",
        filename=f"dados-do-paciente-{contact_id}.zip",
        headers={"X-Export-Password": result.password, "Cache-Control": "no-store"},
        background=BackgroundTask(result.path.unlink, missing_ok=True),
    )


def _prepare(folder: Path) -> None:
    """Create the folder (owner only) and sweep archives an interrupted send left."""
    folder.mkdir(mode=0o700, exist_ok=True)
    cutoff = time.time() - STALE_S
    for leftover in folder.iterdir():
        if leftover.is_file() and leftover.stat().st_mtime < cutoff:
            leftover.unlink(missing_ok=True)


class EraseIn(BaseModel):
    confirm: bool = False  # must be true: an erasure cannot be undone


class ErasureOut(BaseModel):
    """What was removed (counts only)."""

    contact_id: int
    messages: int
    attachments: int
    tickets_closed: int
    reminders: int


@router.post("/contacts/{contact_id}/erase")
async def erase_contact(
    contact_id: int, body: EraseIn, actor: ActorDep, core: CoreDep
) -> ErasureOut:
    """Erase the patient's messages, attachments, reminders and ids (admins; cannot be undone;
    the conversations' bare rows stay, closed, for the reports)."""
    if not body.confirm:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="confirm", reason="required")
    done = await core.erasures.erase(actor, contact_id)
    return ErasureOut(
        contact_id=done.contact_id, messages=done.messages, attachments=done.attachments,
        tickets_closed=done.tickets_closed, reminders=done.reminders,
    )  # fmt: skip
