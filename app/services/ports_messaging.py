"""Ports of the messaging pipeline (contacts' identities, messages, tickets, queues, quarantine).

``Tx.messaging`` exposes them inside a transaction. Every listing is keyset-paginated: a cursor
is the sort key of the last row seen, so pages stay stable and cheap however deep they go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.services.ports_media import MediaRepo


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact row as the pipeline needs it (``merged_into_id`` set: it lives on elsewhere)."""

    id: int
    branch_id: int
    phone_e164: str | None
    wa_lid: str | None
    display_name: str | None
    merged_into_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message row to insert; ``(channel, chat, sender, wa_id, direction)`` is its natural key."""

    channel_id: int
    chat_jid: str
    sender_jid: str
    wa_id: str | None
    direction: str  # "in" | "out"
    sent_at: datetime
    stored_at: datetime
    kind: str = "text"
    body: str | None = None
    contact_id: int | None = None
    ticket_id: int | None = None
    media_mime: str | None = None
    media_name: str | None = None
    media_size: int | None = None
    author_id: int | None = None
    automatic: bool = False
    media_sha256: str | None = None  # set only when the blob is stored (``media_blobs``)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    ticket_id: int | None
    channel_id: int
    contact_id: int | None
    wa_id: str | None
    direction: str
    kind: str
    body: str | None
    media_mime: str | None
    media_name: str | None
    media_size: int | None
    ack: str
    author_id: int | None
    automatic: bool
    sent_at: datetime
    media_sha256: str | None = None
    has_thumbnail: bool = False
    outbox_id: int | None = None  # an outgoing message's send: POST /outbox/{id}/retry
    outbox_status: str | None = None  # queued, sending, sent, failed, needs_review
    outbox_error: str | None = None  # the last failure's code (a failed or retried send)

    @property
    def media_refused(self) -> bool:
        """The patient sent a file that was not stored (unsupported type, too large...):
        the size is known but there is no blob. The reason is in the audit entry."""
        return self.media_size is not None and self.media_sha256 is None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    branch_id: int
    contact_id: int
    channel_id: int
    queue_id: int | None
    assignee_id: int | None
    status: str
    unread_count: int
    last_activity_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    last_inbound_at: datetime | None
    awaiting_menu: bool
    menu_prompts: int = 0  # menus sent while awaiting the choice


@dataclass(frozen=True, slots=True)
class QueueRecord:
    id: int
    branch_id: int
    name: str
    color: str
    greeting: str | None
    menu_order: int


@dataclass(frozen=True, slots=True)
class NoteRecord:
    id: int
    ticket_id: int
    author_id: int
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class QuickReplyRecord:
    id: int
    branch_id: int
    shortcut: str
    body: str


@dataclass(frozen=True, slots=True)
class BranchRouting:
    """What routing needs of a branch: its zone, hours and out-of-hours text."""

    branch_id: int
    name: str
    timezone: str
    business_hours: str | None  # JSON, see app.domain.tickets.parse_hours
    out_of_hours_message: str | None


@dataclass(frozen=True, slots=True)
class ListingExtras:
    """What an inbox row shows beyond the ticket row: contact name, tags, newest message."""

    contact_name: str | None = None
    tags: tuple[str, ...] = ()
    last_direction: str | None = None
    last_kind: str | None = None
    last_body: str | None = None
    last_automatic: bool = False  # the newest message is an automatic reply (menu, greeting)


@dataclass(frozen=True, slots=True)
class TicketScope:
    """Which tickets a reader may see, as data the SQL applies (None: every branch).

    A ticket is visible when its branch is in ``branches`` and one of: the branch is in
    ``whole_branches``; its queue is in ``queue_ids``; it is assigned to ``user_id``; or it is
    pending without a queue in one of ``unqueued_branches``.
    """

    branches: frozenset[int] | None
    whole_branches: frozenset[int] | None = None
    queue_ids: frozenset[int] = frozenset()
    user_id: int | None = None
    unqueued_branches: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class TicketQuery:
    """Filters of a ticket listing, plus the keyset cursor ``(last_activity_at, id)``."""

    scope: TicketScope
    status: str | None = None
    queue_id: int | None = None
    channel_id: int | None = None
    tag: str | None = None
    assignee_id: int | None = None
    after: tuple[datetime, int] | None = None
    limit: int = 50
    ids: tuple[int, ...] | None = None  # only these tickets


class MessagingRepo(MediaRepo, Protocol):
    """Messages, tickets, queues, identities, quarantine and media rows in one transaction."""

    # contacts and identities
    def find_identities(self, branch_id: int, pairs: list[tuple[str, str]]) -> set[int]: ...
    def add_identity(
        self, branch_id: int, contact_id: int, kind: str, value: str, at: datetime
    ) -> None: ...
    def move_identities(self, drop_id: int, keep_id: int) -> None: ...
    def identities_of(self, contact_id: int) -> list[tuple[str, str]]: ...
    def get_contact(self, contact_id: int) -> ContactRecord | None: ...
    def find_contacts(self, branch_id: int, phone: str | None, lid: str | None) -> set[int]: ...
    def add_contact(
        self, branch_id: int, phone: str | None, lid: str | None, name: str | None, at: datetime
    ) -> int: ...
    def update_contact(self, contact_id: int, **values: object) -> None: ...
    def move_contact_rows(self, drop_id: int, keep_id: int) -> None: ...
    # messages
    def insert_message(self, new: NewMessage) -> int | None: ...
    def set_message_links(self, message_id: int, contact_id: int, ticket_id: int) -> None: ...
    def list_messages(
        self, ticket_id: int, before: tuple[datetime, int] | None, limit: int
    ) -> list[MessageRecord]: ...
    def move_ticket_messages(self, from_ticket: int, to_ticket: int) -> None: ...
    def add_outbox(self, channel_id: int, message_id: int, key: str, at: datetime) -> bool: ...
    def outbox_key_exists(self, key: str) -> bool: ...
    # tickets
    def active_ticket(
        self, branch_id: int, contact_id: int, channel_id: int
    ) -> TicketRecord | None: ...
    def latest_closed_ticket(
        self, branch_id: int, contact_id: int, channel_id: int
    ) -> TicketRecord | None: ...
    def tickets_of_contact(self, contact_id: int) -> list[TicketRecord]: ...
    def add_ticket(
        self, branch_id: int, contact_id: int, channel_id: int, queue_id: int | None, at: datetime
    ) -> int: ...
    def get_ticket(self, ticket_id: int) -> TicketRecord | None: ...
    def update_ticket(self, ticket_id: int, **values: object) -> None: ...
    def list_tickets(self, query: TicketQuery) -> list[TicketRecord]: ...
    def ticket_visible(self, ticket_id: int, scope: TicketScope) -> bool: ...
    def listing_extras(self, rows: Sequence[TicketRecord]) -> dict[int, ListingExtras]: ...
    # queues
    def add_queue(
        self, branch_id: int, name: str, greeting: str | None, menu_order: int, color: str | None
    ) -> int: ...
    def get_queue(self, queue_id: int) -> QueueRecord | None: ...
    def queues(self, branch_id: int) -> list[QueueRecord]: ...
    def add_queue_member(self, queue_id: int, user_id: int) -> None: ...
    def remove_queue_member(self, queue_id: int, user_id: int) -> None: ...
    def queues_of_user(self, user_id: int) -> set[int]: ...
    def queue_member_ids(self, queue_id: int) -> list[int]: ...
    def update_queue(self, queue_id: int, **values: object) -> None: ...
    # tags, notes, quick replies
    def add_tag(self, ticket_id: int, branch_id: int, name: str) -> bool: ...
    def remove_tag(self, ticket_id: int, name: str) -> bool: ...
    def tags_of(self, ticket_id: int) -> list[str]: ...
    def add_note(self, ticket_id: int, author_id: int, body: str, at: datetime) -> int: ...
    def notes_of(self, ticket_id: int) -> list[NoteRecord]: ...
    def add_quick_reply(self, branch_id: int, shortcut: str, body: str) -> int: ...
    def quick_replies(self, branch_id: int) -> list[QuickReplyRecord]: ...
    def quick_reply(self, branch_id: int, shortcut: str) -> QuickReplyRecord | None: ...
    def quick_reply_by_id(self, reply_id: int) -> QuickReplyRecord | None: ...
    def update_quick_reply(self, reply_id: int, shortcut: str, body: str) -> None: ...
    def delete_quick_reply(self, reply_id: int) -> None: ...
    # branch routing, settings, quarantine
    def routing(self, branch_id: int) -> BranchRouting | None: ...
    def setting(self, branch_id: int, key: str) -> object | None: ...
    def set_setting(self, branch_id: int, key: str, value: object, at: datetime) -> None: ...
    def quarantine(self, channel_id: int, reason: str, payload: str, at: datetime) -> bool: ...
