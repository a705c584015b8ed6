"""The engine API's replies as the desk sees them: small frozen dataclasses, and the ``*_of``
functions that make them from the JSON of :class:`app.ui.client.DeskClient`'s calls (kept apart
so the client module holds the calls only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BranchRole:
    branch_id: int
    branch_name: str
    role: str


@dataclass(frozen=True, slots=True)
class Me:
    """Who is logged in, and where they may work."""

    id: int | None
    username: str
    display_name: str
    super_admin: bool
    branches: tuple[BranchRole, ...]

    @property
    def is_admin(self) -> bool:
        """Super admins and branch admins see Configurações."""
        return self.super_admin or any(b.role in ("admin", "super_admin") for b in self.branches)

    @property
    def is_supervisor(self) -> bool:
        """Supervisors and admins (anywhere): campaigns, every reminder, patients' data."""
        leads = ("supervisor", "admin", "super_admin")
        return self.super_admin or any(b.role in leads for b in self.branches)

    def manages_channels(self, branch_id: int) -> bool:
        """Admins of the branch (and super admins) pair, pause and log out its numbers."""
        admin = ("admin", "super_admin")
        return self.super_admin or any(
            b.branch_id == branch_id and b.role in admin for b in self.branches
        )


@dataclass(frozen=True, slots=True)
class Branch:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Ticket:
    """One inbox row; ``preview`` is the start of the newest message's text (None for media
    without text: ``last_kind`` says which kind)."""

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
    tags: tuple[str, ...]
    preview: str | None = None
    last_kind: str | None = None
    last_direction: str | None = None
    last_automatic: bool = False  # the newest message is an automatic reply


@dataclass(frozen=True, slots=True)
class TicketPage:
    items: tuple[Ticket, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation bubble. ``media_sha256`` is the hook for ``GET /media/{sha}``."""

    id: int
    direction: str
    kind: str
    body: str | None
    ack: str
    sent_at: datetime
    automatic: bool
    media_sha256: str | None = None
    media_mime: str | None = None
    media_name: str | None = None
    has_thumbnail: bool = False
    outbox_id: int | None = None
    send_status: str | None = None  # outbox status of an outgoing message (queued…failed)
    media_size: int | None = None
    media_refused: bool = False  # the patient's file was refused (type or size)
    send_error: str | None = None  # the last failure's code


@dataclass(frozen=True, slots=True)
class Note:
    """An internal note on a ticket (never sent to the patient)."""

    id: int
    author_id: int
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MessageHit:
    message_id: int
    ticket_id: int
    contact_id: int | None
    sent_at: datetime
    snippet: str  # matches marked with U+E000 … U+E001


@dataclass(frozen=True, slots=True)
class ContactHit:
    contact_id: int
    display_name: str
    phone_e164: str | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Newest first; a ``*_next`` cursor continues its list (None: complete)."""

    messages: tuple[MessageHit, ...]
    contacts: tuple[ContactHit, ...]
    messages_next: int | None
    contacts_next: int | None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class MessagePage:
    items: tuple[Message, ...]  # newest first
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Outbound:
    """A queued reply (``POST /tickets/{id}/messages``)."""

    outbox_id: int
    message_id: int
    ticket_id: int | None
    status: str
    ack: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    branch_id: int
    name: str
    display_name: str
    kind: str
    phone_e164: str | None
    enabled: bool
    state: str
    reason: str | None
    reconnects: int
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class Queue:
    id: int
    branch_id: int
    name: str
    color: str
    member: bool = False  # the logged-in user is a member


@dataclass(frozen=True, slots=True)
class QuickReply:
    shortcut: str
    body: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Today's figures (``GET /stats/dashboard``); averages in seconds, None: none today."""

    channels_connected: int
    channels_total: int
    messages_in: int
    messages_out: int
    waiting: int
    avg_first_response_s: float | None
    avg_resolution_s: float | None
    hourly_in: tuple[int, ...]
    hourly_out: tuple[int, ...]
    queues: tuple[QueueFigures, ...] = ()
    reminders_asked: int = 0  # confirming reminders sent today
    reminders_confirmed: int = 0
    reminders_declined: int = 0


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One queue's part of today (``name`` None: tickets in no queue)."""

    name: str | None
    waiting: int
    avg_first_response_s: float | None
    resolved: int
    avg_resolution_s: float | None


@dataclass(frozen=True, slots=True)
class BackupStatus:
    """``GET /backups`` for the Backups page: times are aware datetimes (None: never), the
    last failure's core error code, free bytes per target (None: unknown), archive count."""

    last_success_at: datetime | None
    last_archive: str | None
    last_failure_at: datetime | None
    last_failure_code: str | None
    last_verify_at: datetime | None
    last_restore_test_at: datetime | None
    next_run: datetime | None
    targets: tuple[tuple[str, int | None], ...]
    archives: int
    running: tuple[str, int, int] | None = None  # a backup running now: step, number, of


def moment(value: str | None) -> datetime | None:
    """The engine's ISO time (``Z`` or offset), or None for no value."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def backup_status_of(d: Json) -> BackupStatus:
    s = d["status"]
    ok, failed = s.get("last_success") or {}, s.get("last_failure") or {}
    return BackupStatus(
        moment(ok.get("at")), ok.get("archive"), moment(failed.get("at")), failed.get("code"),
        moment((s.get("last_verify") or {}).get("at")),
        moment((s.get("last_restore_test") or {}).get("at")), moment(s.get("next_run")),
        tuple((t["path"], t.get("free_bytes")) for t in s.get("targets", [])),
        len(d.get("archives", [])), _running(s.get("running")),
    )  # fmt: skip


def _running(r: Json | None) -> tuple[str, int, int] | None:
    return (str(r["step"]), int(r["index"]), int(r["total"])) if r else None


def when(value: str | None) -> datetime:
    """The engine's ISO time; now for a missing one (a row always shows some time)."""
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ticket_of(j: Json) -> Ticket:
    return Ticket(
        j["id"], j["branch_id"], j["channel_id"], j["contact_id"], j.get("contact_name"),
        j.get("queue_id"), j.get("assignee_id"), j["status"], int(j.get("unread_count", 0)),
        when(j.get("last_activity_at")), when(j.get("created_at")),
        tuple(j.get("tags") or ()), j.get("last_preview"), j.get("last_kind"),
        j.get("last_direction"), bool(j.get("last_automatic")),
    )  # fmt: skip


def message_of(j: Json) -> Message:
    return Message(
        j["id"], j["direction"], j["kind"], j.get("body"), j.get("ack", "pending"),
        when(j.get("sent_at")), bool(j.get("automatic")), j.get("media_sha256"),
        j.get("media_mime"), j.get("media_name"), bool(j.get("has_thumbnail")),
        j.get("outbox_id"), j.get("outbox_status"), j.get("media_size"),
        bool(j.get("media_refused")), j.get("outbox_error"),
    )  # fmt: skip


def search_of(d: Json) -> SearchPage:
    hits = tuple(
        MessageHit(h["message_id"], h["ticket_id"], h.get("contact_id"), when(h["sent_at"]),
                   h["snippet"])
        for h in d["messages"]
    )  # fmt: skip
    contacts = tuple(
        ContactHit(c["contact_id"], c["display_name"], c.get("phone_e164")) for c in d["contacts"]
    )
    return SearchPage(hits, contacts, d.get("messages_next_before"), d.get("contacts_next_before"))


def outbound_of(d: Json) -> Outbound:
    return Outbound(
        d["outbox_id"], d["message_id"], d.get("ticket_id"), d["status"], d["ack"],
        when(d.get("created_at")),
    )  # fmt: skip


def channel_of(j: Json) -> Channel:
    return Channel(
        j["id"], j["branch_id"], j["name"], j.get("display_name") or j["name"], j["kind"],
        j.get("phone_e164"), bool(j.get("enabled", True)), j["state"], j.get("reason"),
        int(j.get("reconnects", 0)), j.get("warning"),
    )  # fmt: skip
