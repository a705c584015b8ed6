"""Reminders and campaigns: schedule a text to one contact or a list (once, every N days, or on
a cron), list them (keyset pages) and cancel them. Supervisors and admins of the branch.

Changes are announced as ``ReminderChanged`` events; sends follow as ``OutboxChanged``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CoreDep
from app.domain.reminders import CRON_MAX, MAX_EVERY_DAYS
from app.services.outbound import TEXT_MAX
from app.services.ports_reminders import ReminderRecord
from app.services.reminders import (
    MAX_CONTACTS,
    ReminderFilters,
    ReminderRequest,
    ReminderService,
)

router = APIRouter()
CAMPAIGN_PATTERN = r"^[0-9a-f]{1,32}$"


class ReminderIn(BaseModel):
    """One contact, or several (a campaign). ``text`` may use {nome}, {primeiro_nome},
    {clinica}. At most one of ``every_days`` / ``cron`` (5 fields, branch time zone)."""

    channel_id: int
    contact_ids: list[int] = Field(min_length=1, max_length=MAX_CONTACTS)
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    start_at: AwareDatetime
    every_days: int | None = Field(default=None, ge=1, le=MAX_EVERY_DAYS)
    cron: str | None = Field(default=None, min_length=9, max_length=CRON_MAX)
    # the text gets "Responda 1 para confirmar ou 2 para remarcar"; the answer is recorded
    ask_confirmation: bool = False


class ReminderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: int
    channel_id: int
    contact_id: int
    body: str
    next_run_at: datetime | None
    every_days: int | None
    cron: str | None
    campaign: str | None
    status: str
    created_by: int | None
    created_at: datetime
    last_sent_at: datetime | None
    contact_name: str | None = None  # in GET /reminders pages
    ask_confirmation: bool = False
    asked_ticket_id: int | None = None  # the conversation the latest occurrence went into
    answer: Literal["confirmed", "declined"] | None = None  # to the latest occurrence
    answered_at: datetime | None = None
    # pending, waiting, no_answer (3 days passed), confirmed, declined; null: asks nothing
    answer_state: str | None = None


class ReminderListOut(BaseModel):
    items: list[ReminderOut]


class ReminderPageOut(BaseModel):
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page (None: end)."""

    items: list[ReminderOut]
    next_cursor: str | None


class ReminderListQuery(BaseModel):
    branch_id: int | None = None
    status: str | None = Field(default=None, max_length=20)
    campaign: str | None = Field(default=None, pattern=CAMPAIGN_PATTERN)
    contact_id: int | None = None
    answer: Literal["confirmed", "declined", "waiting"] | None = None
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=200)


def get_reminders(core: CoreDep) -> ReminderService:
    """The core's reminder service (``Core.reminders``, wired in ``app.bootstrap``)."""
    return core.reminders


RemindersDep = Annotated[ReminderService, Depends(get_reminders)]


def reminder_out(rem: ReminderRecord, reminders: ReminderService) -> ReminderOut:
    """The API's form of ``rem``, with where its question stands now."""
    out = ReminderOut.model_validate(rem)
    out.answer_state = reminders.answer_state(rem)
    return out


def _items(rows: list[ReminderRecord], reminders: ReminderService) -> ReminderListOut:
    return ReminderListOut(items=[reminder_out(r, reminders) for r in rows])


@router.post("/reminders", status_code=201)
async def create_reminder(
    body: ReminderIn, actor: ActorDep, reminders: RemindersDep
) -> ReminderListOut:
    """Schedule a reminder per contact (several contacts share one ``campaign``)."""
    request = ReminderRequest(
        body.channel_id, tuple(body.contact_ids), body.text, body.start_at,
        body.every_days, body.cron, body.ask_confirmation,
    )  # fmt: skip
    return _items(await reminders.create(actor, request), reminders)


@router.get("/reminders")
async def list_reminders(
    params: Annotated[ReminderListQuery, Query()], actor: ActorDep, reminders: RemindersDep
) -> ReminderPageOut:
    """Reminders of the caller's branches, newest first; filter by status, campaign, contact,
    or answer (``waiting``: asked, sent, not answered yet)."""
    p = params
    filters = ReminderFilters(
        p.branch_id, p.status, p.campaign, p.contact_id, p.cursor, p.limit, p.answer
    )
    page = await reminders.list(actor, filters)
    items = [reminder_out(r, reminders) for r in page.items]
    return ReminderPageOut(items=items, next_cursor=page.next_cursor)


@router.get("/reminders/{reminder_id}")
async def get_reminder(reminder_id: int, actor: ActorDep, reminders: RemindersDep) -> ReminderOut:
    """One reminder."""
    return reminder_out(await reminders.get(actor, reminder_id), reminders)


@router.post("/reminders/{reminder_id}/cancel")
async def cancel_reminder(
    reminder_id: int, actor: ActorDep, reminders: RemindersDep
) -> ReminderOut:
    """Cancel a scheduled reminder (a done or cancelled one is returned unchanged)."""
    return reminder_out(await reminders.cancel(actor, reminder_id), reminders)


@router.post("/campaigns/{campaign}/cancel")
async def cancel_campaign(
    campaign: Annotated[str, Path(pattern=CAMPAIGN_PATTERN)],
    actor: ActorDep,
    reminders: RemindersDep,
) -> ReminderListOut:
    """Cancel every still-scheduled reminder of a campaign; returns those cancelled."""
    return _items(await reminders.cancel_campaign(actor, campaign), reminders)
