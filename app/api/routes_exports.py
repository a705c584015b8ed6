"""``POST /contacts/{id}/export``: a patient's data for an LGPD request, as a download.

The archive (``app.services.patient_export``) is written to the data directory's ``exports``
folder, sent as ``application/zip`` with its one-time password in the ``X-Export-Password``
header, and deleted once sent. Supervisors and admins of the patient's branch; others 403, and
another branch's patient 404. Archives left behind by an interrupted send are swept on the next
export.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from app.api.deps import ActorDep, CoreDep

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
