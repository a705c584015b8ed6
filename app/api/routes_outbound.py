"""Outbound messages: queue a reply on a ticket, retry a failed send, list send problems.

Sending is asynchronous: ``POST /tickets/{id}/messages`` answers 202 once the message and its
outbox row are committed; progress follows as ``OutboxChanged`` / ``MessageAckChanged`` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CoreDep
from app.services.outbound import TEXT_MAX, OutboundService

router = APIRouter()


class OutboundIn(BaseModel):
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    client_key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")


class RetryIn(BaseModel):
    confirm_resend: bool = False  # required for NEEDS_REVIEW rows: a resend may duplicate


class OutboundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    outbox_id: int
    message_id: int
    ticket_id: int | None
    channel_id: int
    branch_id: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    wa_id: str | None
    ack: str
    text: str
    created_at: datetime
    updated_at: datetime
    media_sha256: str | None = None  # an attachment: GET /media/{media_sha256}
    media_mime: str | None = None
    media_name: str | None = None


def get_outbound(core: CoreDep) -> OutboundService:
    """The core's outbound service (``Core.outbound``, wired in ``app.bootstrap``)."""
    return core.outbound


OutboundDep = Annotated[OutboundService, Depends(get_outbound)]


@router.post("/tickets/{ticket_id}/messages", status_code=202)
async def send_message(
    ticket_id: int, body: OutboundIn, actor: ActorDep, outbound: OutboundDep
) -> OutboundOut:
    """Queue a text reply; repeating the same ``client_key`` returns the first row."""
    view = await outbound.send_text(actor, ticket_id, body.text, body.client_key)
    return OutboundOut.model_validate(view)


@router.post("/outbox/{outbox_id}/retry")
async def retry_send(
    outbox_id: int, actor: ActorDep, outbound: OutboundDep, body: RetryIn | None = None
) -> OutboundOut:
    """Queue a FAILED row again, or a NEEDS_REVIEW row with ``confirm_resend``."""
    confirm = body.confirm_resend if body is not None else False
    view = await outbound.retry(actor, outbox_id, confirm_resend=confirm)
    return OutboundOut.model_validate(view)


@router.get("/outbox/problems")
async def send_problems(
    actor: ActorDep, outbound: OutboundDep, branch_id: int | None = None
) -> list[OutboundOut]:
    """FAILED and NEEDS_REVIEW sends the caller may handle, newest first."""
    views = await outbound.list_problems(actor, branch_id)
    return [OutboundOut.model_validate(v) for v in views]
