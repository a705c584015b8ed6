"""``GET /search``: messages and contacts matching the query, only what the actor may see
(scoping, sanitising and auditing live in :mod:`app.services.search`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from app.api.deps import ActorDep, CoreDep
from app.services.search import MAX_LIMIT, SearchService

router = APIRouter()


class MessageHitOut(BaseModel):
    """A matching message; the snippet marks matches with U+E000 … U+E001."""

    model_config = ConfigDict(from_attributes=True)

    message_id: int
    ticket_id: int
    contact_id: int | None
    sent_at: datetime
    snippet: str


class ContactHitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contact_id: int
    display_name: str


class SearchOut(BaseModel):
    messages: list[MessageHitOut]
    contacts: list[ContactHitOut]


def _search(core: CoreDep) -> SearchService:
    """The search service wired in ``app.bootstrap``."""
    return core.search


SearchDep = Annotated[SearchService, Depends(_search)]


@router.get("/search")
async def search(
    actor: ActorDep,
    service: SearchDep,
    q: str = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> SearchOut:
    """Message and contact hits, best first; an empty or punctuation-only ``q`` finds nothing;
    over 200 characters or 12 words is ``input.invalid`` (field ``q``)."""
    found = await service.search(actor, q, limit)
    return SearchOut(
        messages=[MessageHitOut.model_validate(h) for h in found.messages],
        contacts=[ContactHitOut.model_validate(h) for h in found.contacts],
    )
