"""``GET /search``: messages and contacts matching the query, only what the actor may see
(scoping, sanitising and auditing live in :mod:`app.services.search`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from app.api.deps import ActorDep, CoreDep
from app.services.search import MAX_LIMIT, Cursors, SearchService

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
    """A matching contact; ``phone_e164`` null for a contact known only by a WhatsApp id."""

    model_config = ConfigDict(from_attributes=True)

    contact_id: int
    display_name: str
    phone_e164: str | None = None


class SearchOut(BaseModel):
    """Newest first; a ``*_next_before`` cursor continues its list (null: complete)."""

    messages: list[MessageHitOut]
    contacts: list[ContactHitOut]
    messages_next_before: int | None
    contacts_next_before: int | None


def _search(core: CoreDep) -> SearchService:
    """The search service wired in ``app.bootstrap``."""
    return core.search


SearchDep = Annotated[SearchService, Depends(_search)]


@router.get("/search")
async def search(
    actor: ActorDep,
    service: SearchDep,
    *,
    q: str = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    contacts_before: Annotated[int | None, Query(ge=1)] = None,
) -> SearchOut:
    """Message and contact hits, newest first; an empty or punctuation-only ``q`` finds
    nothing; over 200 characters or 12 words is ``input.invalid`` (field ``q``). A ``q`` that
    is a phone number (digits and phone punctuation, at least 4 digits) finds contacts by
    number instead of by name.

    ``before`` / ``contacts_before`` take the previous answer's ``messages_next_before`` /
    ``contacts_next_before`` and continue that list only; a page may be short, even empty,
    while its cursor is not null (one call looks at a bounded number of matches)."""
    found = await service.search(actor, q, limit, Cursors(before, contacts_before))
    return SearchOut(
        messages=[MessageHitOut.model_validate(h) for h in found.messages],
        contacts=[ContactHitOut.model_validate(h) for h in found.contacts],
        messages_next_before=found.messages_next_before,
        contacts_next_before=found.contacts_next_before,
    )
