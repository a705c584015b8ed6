"""An in-memory stand-in for :class:`DeskClient` that records what the desk asked for.

Widget tests use it where the behaviour under test is the desk's (which call, with which
arguments, when); the end-to-end tests use the real engine.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client import DeskClient
from app.ui.client_contact import ContactProfile, StateChange
from app.ui.client_types import (
    ContactHit,
    Message,
    MessageHit,
    MessagePage,
    Note,
    Outbound,
    SearchPage,
    Ticket,
    TicketPage,
    User,
)
from tests.helpers.desk import make_ticket

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
IMAGE_SHA = "ab" * 32


def png_bytes(width: int = 40, height: int = 30) -> bytes:
    """A small real PNG (the engine's thumbnail endpoint returns a JPEG: both decode)."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(0x3366CC)
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(array.data())


def text_message(n: int, direction: str = "in", **changes: Any) -> Message:
    base = Message(n, direction, "text", f"Mensagem {n}", "read", T0 + timedelta(minutes=n), False)
    return replace(base, **changes)


class FakeDesk:
    """Tickets, messages and every desk call, in memory; ``calls`` lists (name, args)."""

    def __init__(self, tickets: int = 3) -> None:
        self.rows: dict[int, Ticket] = {n: make_ticket(n) for n in range(1, tickets + 1)}
        self.conversations: dict[int, list[Message]] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.search_pages: list[SearchPage] = []
        self.users_list: list[User] = []
        self.notes_of: dict[int, list[Note]] = {}
        self.media_bytes: dict[str, bytes] = {}
        self.profiles: dict[int, ContactProfile] = {}
        self.history: list[StateChange] = []
        self.pair_code = "ABCD1234"
        self.refuse: ClinicDeskError | None = None  # raised by the channel actions when set

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]

    # ---- tickets ------------------------------------------------------------------------------

    # the real batching over the fake ``tickets`` read (it only calls self.tickets)
    tickets_by_id = DeskClient.tickets_by_id

    async def tickets(
        self, status: str | None, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> TicketPage:
        self.calls.append(("tickets", (status, cursor, dict(filters))))
        if filters.get("ids") is not None:  # a re-read of changed rows: those still visible
            return TicketPage(tuple(self.rows[i] for i in filters["ids"] if i in self.rows), None)
        rows = [t for t in self.rows.values() if t.status == status]
        return TicketPage(tuple(sorted(rows, key=lambda t: t.id)), None)

    async def ticket(self, ticket_id: int) -> Ticket:
        self.calls.append(("ticket", (ticket_id,)))
        if ticket_id not in self.rows:
            raise ClinicDeskError(ErrorCode.NOT_FOUND)
        return self.rows[ticket_id]

    async def messages(
        self, ticket_id: int, cursor: str | None = None, limit: int = 50
    ) -> MessagePage:
        self.calls.append(("messages", (ticket_id,)))
        newest_first = sorted(self.conversations.get(ticket_id, []), key=lambda m: -m.id)
        return MessagePage(tuple(newest_first[:limit]), None)

    async def mark_read(self, ticket_id: int) -> Ticket:
        self.calls.append(("mark_read", (ticket_id,)))
        self.rows[ticket_id] = replace(self.rows[ticket_id], unread_count=0)
        return self.rows[ticket_id]

    async def transfer(
        self, ticket_id: int, queue_id: int | None = None, user_id: int | None = None
    ) -> Ticket:
        self.calls.append(("transfer", (ticket_id, queue_id, user_id)))
        self.rows[ticket_id] = replace(self.rows[ticket_id], queue_id=queue_id)
        return self.rows[ticket_id]

    async def users(self) -> list[User]:
        return list(self.users_list)

    async def notes(self, ticket_id: int) -> list[Note]:
        return list(self.notes_of.get(ticket_id, []))

    async def add_note(self, ticket_id: int, body: str) -> int:
        self.calls.append(("add_note", (ticket_id, body)))
        notes = self.notes_of.setdefault(ticket_id, [])
        notes.append(Note(len(notes) + 1, 1, body, T0))
        return len(notes)

    async def add_tag(self, ticket_id: int, tag: str) -> tuple[str, ...]:
        self.calls.append(("add_tag", (ticket_id, tag)))
        t = self.rows[ticket_id]
        self.rows[ticket_id] = replace(t, tags=(*t.tags, tag))
        return self.rows[ticket_id].tags

    async def remove_tag(self, ticket_id: int, tag: str) -> tuple[str, ...]:
        self.calls.append(("remove_tag", (ticket_id, tag)))
        t = self.rows[ticket_id]
        self.rows[ticket_id] = replace(t, tags=tuple(x for x in t.tags if x != tag))
        return self.rows[ticket_id].tags

    async def contact(self, contact_id: int) -> ContactProfile:
        self.calls.append(("contact", (contact_id,)))
        return self.profiles.get(contact_id) or ContactProfile(contact_id, None, None, (), None, ())

    # ---- channels -----------------------------------------------------------------------------

    async def channel_action(self, channel: str | int, action: str) -> None:
        self.calls.append(("channel_action", (channel, action)))
        if self.refuse is not None:
            raise self.refuse

    async def channel_history(self, channel: str | int) -> list[StateChange]:
        self.calls.append(("channel_history", (channel,)))
        return list(self.history)

    async def pair(self, channel: str | int, phone: str | None = None) -> str | None:
        self.calls.append(("pair", (channel, phone)))
        return self.pair_code if phone else None

    # ---- sending ------------------------------------------------------------------------------

    async def send(self, ticket_id: int, text: str, client_key: str) -> Outbound:
        self.calls.append(("send", (ticket_id, text, client_key)))
        return Outbound(900, 900, ticket_id, "queued", "pending", T0)

    async def send_attachment(
        self, ticket_id: int, data_b64: str, filename: str, caption: str | None, client_key: str
    ) -> Outbound:
        self.calls.append(("send_attachment", (ticket_id, data_b64, filename, caption, client_key)))
        return Outbound(901, 901, ticket_id, "queued", "pending", T0)

    async def retry(self, outbox_id: int, confirm_resend: bool = False) -> str:
        self.calls.append(("retry", (outbox_id, confirm_resend)))
        return "queued"

    # ---- media and search ---------------------------------------------------------------------

    async def media(self, sha256: str, thumbnail: bool = False) -> bytes:
        self.calls.append(("media", (sha256, thumbnail)))
        if sha256 not in self.media_bytes:
            raise ClinicDeskError(ErrorCode.NOT_FOUND)
        return self.media_bytes[sha256]

    async def search(
        self, q: str, before: int | None = None, contacts_before: int | None = None
    ) -> SearchPage:
        self.calls.append(("search", (q, before, contacts_before)))
        return self.search_pages.pop(0) if self.search_pages else SearchPage((), (), None, None)


def hit(message_id: int, ticket_id: int) -> MessageHit:
    return MessageHit(message_id, ticket_id, None, T0, "quero \ue000remarcar\ue001 a consulta")


def contact_hit(contact_id: int, name: str) -> ContactHit:
    return ContactHit(contact_id, name)
