"""``GET /stats/dashboard``: today's figures for the desk's Painel (counts only; scoping and
the meaning of each figure live in :mod:`app.services.dashboard`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from app.api.deps import ActorDep, CoreDep
from app.services.dashboard import DashboardService

router = APIRouter()


class QueueFiguresOut(BaseModel):
    """One queue's part of today (``queue_id``/``name`` null: tickets in no queue)."""

    model_config = ConfigDict(from_attributes=True)

    queue_id: int | None
    name: str | None
    waiting: int
    avg_first_response_s: float | None
    resolved: int
    avg_resolution_s: float | None


class DashboardOut(BaseModel):
    """Averages in seconds (null: nothing answered/closed today); ``hourly_*``: 24 local hours."""

    model_config = ConfigDict(from_attributes=True)

    branch_ids: list[int]
    channels_connected: int
    channels_total: int
    messages_in: int
    messages_out: int
    waiting: int
    avg_first_response_s: float | None
    avg_resolution_s: float | None
    hourly_in: list[int]
    hourly_out: list[int]
    generated_at: datetime
    queues: list[QueueFiguresOut]  # menu order, branch by branch; no queue last
    reminders_asked: int = 0  # confirming reminders sent today
    reminders_confirmed: int = 0  # of those, answered "1"
    reminders_declined: int = 0  # of those, answered "2"


def _dashboard(core: CoreDep) -> DashboardService:
    """The dashboard service wired in ``app.bootstrap``."""
    return core.dashboard


DashboardDep = Annotated[DashboardService, Depends(_dashboard)]


@router.get("/stats/dashboard")
async def dashboard(
    actor: ActorDep,
    service: DashboardDep,
    branch_id: Annotated[int | None, Query(ge=1)] = None,
) -> DashboardOut:
    """Today's figures over the caller's branches (super admin: all), or only ``branch_id``
    (``entity.not_found`` when the caller does not work there)."""
    return DashboardOut.model_validate(await service.today(actor, branch_id))
