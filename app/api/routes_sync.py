"""The sync agent over the API (admins): status, preview of the next report, enrolment and
"push now". Enrolment while the engine runs starts the report job and the sender at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CoreDep
from app.bootstrap import Core
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor, Permission
from app.sync.service import SyncService

router = APIRouter()


class EnrollIn(BaseModel):
    """The central's URL, IT's one-time code, optionally the office CA to pin."""

    model_config = ConfigDict(extra="forbid")
    central_url: str = Field(max_length=500)
    code: str = Field(max_length=80)
    ca_file: str | None = Field(default=None, max_length=1000)
    force: bool = False


def _service(core: Core, actor: Actor) -> SyncService:
    actor.require(Permission.MANAGE_SETTINGS)
    if core.sync is None:
        raise ClinicDeskError(ErrorCode.SYNC_NOT_ENROLLED)
    return core.sync


@router.get("/sync/status")
async def sync_status(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Enrolment, queue, counters, last success and error, sender state."""
    return await _service(core, actor).status()


@router.get("/sync/preview")
async def sync_preview(core: CoreDep, actor: ActorDep) -> Response:
    """The exact JSON the next report would carry (transparency: what leaves the clinic)."""
    body = await _service(core, actor).preview()
    return Response(content=body, media_type="application/json")


@router.post("/sync/enroll")
async def sync_enroll(body: EnrollIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Enrol with the central; answers the public identity (never the private key)."""
    service = _service(core, actor)
    return await service.enroll(actor, body.central_url, body.code, body.ca_file, force=body.force)


@router.post("/sync/push-now")
async def sync_push_now(core: CoreDep, actor: ActorDep) -> dict[str, int]:
    """Send what is queued now; an error when the central did not confirm all of it."""
    return await _service(core, actor).push_now()
