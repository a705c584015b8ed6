"""Request and response bodies of the ticket desk API (tickets, queues, quick replies)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: int
    channel_id: int
    contact_id: int
    contact_name: str | None
    queue_id: int | None
    assignee_id: int | None
    status: str
    unread_count: int
    last_activity_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    tags: list[str]
    last_direction: str | None  # of the newest message: "in" or "out"
    last_kind: str | None  # text, image, document, audio...
    last_preview: str | None  # the start of its text (one line, at most 100 characters)
    last_automatic: bool = False  # it is an automatic reply (menu, greeting, notice)


class TicketListQuery(BaseModel):
    """Query of ``GET /tickets``: a tab (status), filters and a keyset page."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "open", "closed"] | None = None
    queue: int | None = None
    channel: int | None = None
    tag: str | None = Field(default=None, max_length=60)
    mine: bool = False
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=200)
    # these tickets only (those the caller may see, in any status): the desk re-reads the rows
    # that changed in one call instead of one audited GET each
    ids: list[int] | None = Field(default=None, min_length=1, max_length=200)


class TicketPageOut(BaseModel):
    """One keyset page; pass ``next_cursor`` back as ``cursor`` for the next (None: the end)."""

    items: list[TicketOut]
    next_cursor: str | None


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_id: int
    body: str
    created_at: datetime


class TicketDetailOut(BaseModel):
    ticket: TicketOut
    notes: list[NoteOut]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: str
    kind: str
    body: str | None
    media_sha256: str | None  # stored attachment: GET /media/{media_sha256}
    media_mime: str | None  # detected from the content, never the declared type
    media_name: str | None
    media_size: int | None
    has_thumbnail: bool  # GET /media/{media_sha256}/thumbnail
    media_refused: bool  # the patient sent a file that was refused (reason in the audit)
    ack: str
    author_id: int | None
    automatic: bool
    sent_at: datetime
    outbox_id: int | None  # outgoing only: retry a failed send with POST /outbox/{outbox_id}/retry
    outbox_status: str | None  # queued, sending, sent, failed, needs_review (None: inbound)
    outbox_error: str | None  # the last failure's code, never text from WhatsApp


class MessagePageOut(BaseModel):
    """Newest first; ``next_cursor`` leads to older messages."""

    items: list[MessageOut]
    next_cursor: str | None


class StartIn(BaseModel):
    """A conversation the clinic starts: the channel, the patient's number as typed
    ("(11) 98765-4321", "+351 912 345 678"), optionally the queue and the patient's name."""

    channel_id: int
    phone: str = Field(min_length=1, max_length=40)
    queue_id: int | None = None
    name: str | None = Field(default=None, max_length=120)


class TransferIn(BaseModel):
    queue_id: int | None = None
    user_id: int | None = None


class TagsOut(BaseModel):
    tags: list[str]


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


class IdOut(BaseModel):
    id: int


class QuickReplyIn(BaseModel):
    branch_id: int
    shortcut: str = Field(min_length=1, max_length=40)
    body: str = Field(min_length=1, max_length=4000)


class QuickReplyChangeIn(BaseModel):
    shortcut: str = Field(min_length=1, max_length=40)
    body: str = Field(min_length=1, max_length=4000)


class QuickReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: int
    shortcut: str
    body: str


class RenderedOut(BaseModel):
    text: str


class MergeIn(BaseModel):
    keep_id: int
    drop_id: int


class ContactTicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    channel_id: int
    created_at: datetime
    closed_at: datetime | None
    visible: bool


class ContactOut(BaseModel):
    """``GET /contacts/{id}``: identity kinds only (``phone``, ``lid``), never raw JIDs."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: int
    display_name: str | None
    phone_e164: str | None
    identity_kinds: list[str]
    opted_out_at: datetime | None
    created_at: datetime
    tickets: list[ContactTicketOut]


class QueueIn(BaseModel):
    branch_id: int
    name: str = Field(min_length=1, max_length=80)
    greeting: str | None = Field(default=None, max_length=4000)
    menu_order: int = Field(default=0, ge=0, le=99)
    color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")


class QueueChangeIn(BaseModel):
    """Fields to change (absent or null: unchanged; "" clears the greeting)."""

    name: str | None = Field(default=None, min_length=1, max_length=80)
    greeting: str | None = Field(default=None, max_length=4000)
    menu_order: int | None = Field(default=None, ge=0, le=99)
    color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")


class QueueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: int
    name: str
    color: str
    greeting: str | None
    menu_order: int
    member: bool = False  # GET /queues: the caller is a member of this queue


class MemberIn(BaseModel):
    user_id: int
