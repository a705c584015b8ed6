"""Backups over the API (admins): status and archives, and "back up now".

The run happens in a thread (snapshot, sealing and verify are file and CPU work); the engine's
loop and its single DB writer keep going. One backup at a time (``backup.in_progress``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app.api.deps import ActorDep, CoreDep
from app.backup.service import BackupService
from app.bootstrap import Core
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor, Permission

router = APIRouter()


class BackupRunIn(BaseModel):
    """Optionally one target folder instead of the configured ones."""

    model_config = ConfigDict(extra="forbid")
    target: str | None = None


def _service(core: Core, actor: Actor) -> BackupService:
    actor.require(Permission.MANAGE_SETTINGS)
    if core.backups is None:
        raise ClinicDeskError(ErrorCode.BACKUP_KEY_MISSING)
    return core.backups


@router.get("/backups")
async def backups(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Backup status (last success, next run, last verify and restore test, free space) and
    the archives in the targets."""
    service = _service(core, actor)
    status = await asyncio.to_thread(service.status)
    archives = await asyncio.to_thread(service.archives)
    return {"status": status, "archives": archives}


@router.post("/backups/run")
async def run_backup(
    core: CoreDep, actor: ActorDep, body: BackupRunIn | None = None
) -> dict[str, str]:
    """Make, write and verify a backup now; answers with the archive's path when done."""
    service = _service(core, actor)
    target = Path(body.target) if body and body.target else None
    path = await asyncio.to_thread(service.run, target)
    return {"archive": str(path)}
