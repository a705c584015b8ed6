"""The desk's asynchronous client of the engine API (httpx on the qasync loop).

Every call is a coroutine: the UI thread never waits on the network. Results are small frozen
dataclasses (the desk never handles raw JSON); failures are :class:`ClinicDeskError` with the
engine's error code and placeholders, so the UI translates codes and never shows English server
text. An engine that does not answer is ``engine.unreachable``.

Tokens are short-lived (15 min, ``app/security/tokens.py``): after login the client refreshes
its token in the background at two thirds of its remaining life (``POST /auth/refresh``). A
refused refresh (engine restarted: tokens live in its memory) calls ``on_auth_lost`` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client_contact import ContactProfile, StateChange, contact_of, state_change_of

log = logging.getLogger(__name__)
Json = dict[str, Any]
IDS_PER_READ = 200  # the API's limit on GET /tickets?ids=
REFRESH_FLOOR_S = 5.0  # never hammer the engine with refreshes, even for very short tokens
RUN_READ_TIMEOUT_S = 3600.0  # POST /backups/run answers when the archive is verified


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


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def backup_status_of(d: Json) -> BackupStatus:
    s = d["status"]
    ok, failed = s.get("last_success") or {}, s.get("last_failure") or {}
    return BackupStatus(
        _moment(ok.get("at")), ok.get("archive"), _moment(failed.get("at")), failed.get("code"),
        _moment((s.get("last_verify") or {}).get("at")),
        _moment((s.get("last_restore_test") or {}).get("at")), _moment(s.get("next_run")),
        tuple((t["path"], t.get("free_bytes")) for t in s.get("targets", [])),
        len(d.get("archives", [])),
    )  # fmt: skip


def _when(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ticket_of(j: Json) -> Ticket:
    return Ticket(
        j["id"], j["branch_id"], j["channel_id"], j["contact_id"], j.get("contact_name"),
        j.get("queue_id"), j.get("assignee_id"), j["status"], int(j.get("unread_count", 0)),
        _when(j.get("last_activity_at")), _when(j.get("created_at")),
        tuple(j.get("tags") or ()), j.get("last_preview"), j.get("last_kind"),
        j.get("last_direction"),
    )  # fmt: skip


def message_of(j: Json) -> Message:
    return Message(
        j["id"], j["direction"], j["kind"], j.get("body"), j.get("ack", "pending"),
        _when(j.get("sent_at")), bool(j.get("automatic")), j.get("media_sha256"),
        j.get("media_mime"), j.get("media_name"), bool(j.get("has_thumbnail")),
        j.get("outbox_id"), j.get("outbox_status"), j.get("media_size"),
        bool(j.get("media_refused")), j.get("outbox_error"),
    )  # fmt: skip


def search_of(d: Json) -> SearchPage:
    hits = tuple(
        MessageHit(h["message_id"], h["ticket_id"], h.get("contact_id"), _when(h["sent_at"]),
                   h["snippet"])
        for h in d["messages"]
    )  # fmt: skip
    contacts = tuple(ContactHit(c["contact_id"], c["display_name"]) for c in d["contacts"])
    return SearchPage(hits, contacts, d.get("messages_next_before"), d.get("contacts_next_before"))


def outbound_of(d: Json) -> Outbound:
    return Outbound(
        d["outbox_id"], d["message_id"], d.get("ticket_id"), d["status"], d["ack"],
        _when(d.get("created_at")),
    )  # fmt: skip


def channel_of(j: Json) -> Channel:
    return Channel(
        j["id"], j["branch_id"], j["name"], j.get("display_name") or j["name"], j["kind"],
        j.get("phone_e164"), bool(j.get("enabled", True)), j["state"], j.get("reason"),
        int(j.get("reconnects", 0)), j.get("warning"),
    )  # fmt: skip


def error_of(response: httpx.Response) -> ClinicDeskError:
    """The engine's error code and params; anything unparseable counts as unreachable."""
    try:
        body = response.json()["error"]
        return ClinicDeskError(ErrorCode(body["code"]), **dict(body.get("params") or {}))
    except (ValueError, KeyError, TypeError):
        return ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE, status=response.status_code)


class DeskClient:
    """One logged-in (or not yet) session with one engine. Use from the qasync loop only."""

    def __init__(self, base_url: str, *, timeout: float = 15.0, workstation: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.workstation = workstation
        self.token: str | None = None
        self.expires_at: datetime | None = None
        self.on_auth_lost: Callable[[], None] | None = None
        self.on_token: Callable[[str], None] | None = None
        # trust_env=False: loopback calls must never go through a proxy from the environment
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, trust_env=False)
        self._refresher: asyncio.Task[None] | None = None

    @property
    def events_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/events"

    # ---- transport ---------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; its JSON (None when empty); ClinicDeskError on failure."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self._http.is_closed:  # the desk is closing: a late refresh fails like any other call
            raise ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE)
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError:
            raise ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE) from None
        if response.status_code >= 400:
            raise error_of(response)
        return response.json() if response.content else None

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request for the per-page API modules (e.g. ``client_reminders``): its JSON."""
        return await self._call(method, path, **kwargs)

    async def health(self) -> bool:
        """True when an engine answers ``/health``."""
        try:
            return bool(await self._call("GET", "/health"))
        except ClinicDeskError:
            return False

    async def close(self) -> None:
        self._stop_refresh()
        await self._http.aclose()

    # ---- auth ---------------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> Me:
        """Log in, start background token refresh, and say who we are."""
        body = {"username": username, "password": password, "workstation": self.workstation}
        data = await self._call("POST", "/auth/login", json=body)
        self._set_token(data)
        return await self.me()

    async def me(self) -> Me:
        d = await self._call("GET", "/me")
        roles = tuple(
            BranchRole(b["branch_id"], b["branch_name"], b["role"]) for b in d["branches"]
        )
        return Me(d["id"], d["username"], d["display_name"], d["super_admin"], roles)

    async def branches(self) -> list[Branch]:
        return [Branch(b["id"], b["name"]) for b in await self._call("GET", "/branches")]

    async def logout(self) -> None:
        self._stop_refresh()
        with contextlib.suppress(ClinicDeskError):
            await self._call("POST", "/auth/logout")
        self.token = None

    def _set_token(self, data: Json) -> None:
        self.token = str(data["token"])
        self.expires_at = _when(data["expires_at"]) if data.get("expires_at") else None
        if self.on_token is not None:
            self.on_token(self.token)
        self._stop_refresh()
        if self.expires_at is not None:
            self._refresher = asyncio.ensure_future(self._refresh_later())

    def _stop_refresh(self) -> None:
        if self._refresher is not None and not self._refresher.done():
            self._refresher.cancel()
        self._refresher = None

    def refresh_delay(self, now: datetime) -> float:
        """Seconds until the next refresh: two thirds of the token's remaining life."""
        if self.expires_at is None:
            return 0.0
        left = (self.expires_at - now).total_seconds()
        return max(REFRESH_FLOOR_S, left * 2 / 3)

    async def _refresh_later(self) -> None:
        await asyncio.sleep(self.refresh_delay(datetime.now(UTC)))
        try:
            data = await self._call("POST", "/auth/refresh")
        except ClinicDeskError as exc:
            await self._refresh_failed(exc)
            return
        self._refresher = None  # _set_token starts the next round
        self._set_token(data)

    async def _refresh_failed(self, exc: ClinicDeskError) -> None:
        if exc.code is ErrorCode.ENGINE_UNREACHABLE:
            await asyncio.sleep(REFRESH_FLOOR_S)  # engine away: try again while the token lasts
            self._refresher = asyncio.ensure_future(self._refresh_later())
            return
        log.info("session ended", extra={"code": exc.code.value})
        self.token = None
        if self.on_auth_lost is not None:
            self.on_auth_lost()

    # ---- tickets ------------------------------------------------------------------------------

    async def tickets(
        self, status: str | None, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> TicketPage:
        """One keyset page of the inbox (most recent activity first)."""
        params: Json = {"limit": limit} | {k: v for k, v in filters.items() if v is not None}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        data = await self._call("GET", "/tickets", params=params)
        return TicketPage(tuple(ticket_of(t) for t in data["items"]), data["next_cursor"])

    async def tickets_by_id(self, ticket_ids: Sequence[int]) -> dict[int, Ticket]:
        """The listing rows of these tickets, by id (``GET /tickets?ids=``, one call per
        :data:`IDS_PER_READ`: the listing read, not the audited detail read). Tickets this user
        may not see (another queue, gone) are absent."""
        found: dict[int, Ticket] = {}
        for first in range(0, len(ticket_ids), IDS_PER_READ):
            chunk = list(ticket_ids[first : first + IDS_PER_READ])
            page = await self.tickets(None, limit=len(chunk), ids=chunk)
            found.update((t.id, t) for t in page.items)
        return found

    async def ticket(self, ticket_id: int) -> Ticket:
        return ticket_of((await self._call("GET", f"/tickets/{ticket_id}"))["ticket"])

    async def messages(
        self, ticket_id: int, cursor: str | None = None, limit: int = 50
    ) -> MessagePage:
        """One page of the conversation, newest first."""
        params: Json = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        data = await self._call("GET", f"/tickets/{ticket_id}/messages", params=params)
        return MessagePage(tuple(message_of(m) for m in data["items"]), data["next_cursor"])

    async def send(self, ticket_id: int, text: str, client_key: str) -> Outbound:
        """Queue a reply; the same ``client_key`` never sends twice."""
        body = {"text": text, "client_key": client_key}
        return outbound_of(await self._call("POST", f"/tickets/{ticket_id}/messages", json=body))

    async def send_attachment(
        self, ticket_id: int, data_b64: str, filename: str, caption: str | None, client_key: str
    ) -> Outbound:
        """Queue a file (base64, at most 10 MB decoded) with an optional caption."""
        body = {"data_b64": data_b64, "filename": filename, "caption": caption,
                "client_key": client_key}  # fmt: skip
        path = f"/tickets/{ticket_id}/attachments"
        return outbound_of(await self._call("POST", path, json=body))

    async def mark_read(self, ticket_id: int) -> Ticket:
        """The conversation was seen: its unread count goes back to zero."""
        return ticket_of(await self._call("POST", f"/tickets/{ticket_id}/read"))

    async def notes(self, ticket_id: int) -> list[Note]:
        """The ticket's internal notes (``GET /tickets/{id}``), oldest first."""
        data = await self._call("GET", f"/tickets/{ticket_id}")
        return [
            Note(n["id"], n["author_id"], n["body"], _when(n["created_at"])) for n in data["notes"]
        ]

    async def add_note(self, ticket_id: int, body: str) -> int:
        return int(
            (await self._call("POST", f"/tickets/{ticket_id}/notes", json={"body": body}))["id"]
        )

    async def add_tag(self, ticket_id: int, tag: str) -> tuple[str, ...]:
        path = f"/tickets/{ticket_id}/tags/{quote(tag, safe='')}"
        return tuple((await self._call("POST", path))["tags"])

    async def remove_tag(self, ticket_id: int, tag: str) -> tuple[str, ...]:
        path = f"/tickets/{ticket_id}/tags/{quote(tag, safe='')}"
        return tuple((await self._call("DELETE", path))["tags"])

    async def search(
        self, q: str, before: int | None = None, contacts_before: int | None = None
    ) -> SearchPage:
        """Message and contact hits, newest first; the cursors continue each list."""
        params: Json = {"q": q} | ({"before": before} if before else {})
        if contacts_before:
            params["contacts_before"] = contacts_before
        return search_of(await self._call("GET", "/search", params=params))

    async def users(self) -> list[User]:
        """People the caller manages (admins); others get ``access.denied``."""
        data = await self._call("GET", "/users")
        return [User(u["id"], u["display_name"]) for u in data if not u.get("disabled")]

    async def retry(self, outbox_id: int, confirm_resend: bool = False) -> str:
        """Queue a failed send again; returns its new outbox status."""
        body = {"confirm_resend": confirm_resend}
        return str((await self._call("POST", f"/outbox/{outbox_id}/retry", json=body))["status"])

    async def accept(self, ticket_id: int) -> Ticket:
        return ticket_of(await self._call("POST", f"/tickets/{ticket_id}/accept"))

    async def resolve(self, ticket_id: int) -> Ticket:
        return ticket_of(await self._call("POST", f"/tickets/{ticket_id}/resolve"))

    async def reopen(self, ticket_id: int) -> Ticket:
        return ticket_of(await self._call("POST", f"/tickets/{ticket_id}/reopen"))

    async def transfer(
        self, ticket_id: int, queue_id: int | None = None, user_id: int | None = None
    ) -> Ticket:
        body = {"queue_id": queue_id, "user_id": user_id}
        return ticket_of(await self._call("POST", f"/tickets/{ticket_id}/transfer", json=body))

    async def queues(self, branch_id: int) -> list[Queue]:
        data = await self._call("GET", "/queues", params={"branch_id": branch_id})
        return [Queue(q["id"], q["branch_id"], q["name"], q["color"]) for q in data]

    async def quick_replies(self, branch_id: int) -> list[QuickReply]:
        data = await self._call("GET", "/quick-replies", params={"branch_id": branch_id})
        return [QuickReply(q["shortcut"], q["body"]) for q in data]

    async def render_quick_reply(self, ticket_id: int, shortcut: str) -> str:
        path = f"/tickets/{ticket_id}/quick-replies/{shortcut}"
        return str((await self._call("GET", path))["text"])

    # ---- channels -----------------------------------------------------------------------------

    async def channels(self) -> list[Channel]:
        return [channel_of(c) for c in await self._call("GET", "/channels")]

    async def pair(self, channel: str | int, phone: str | None = None) -> str | None:
        """Start pairing: QR codes arrive on the event stream; with ``phone``, a code returns."""
        data = await self._call("POST", f"/channels/{channel}/pair", json={"phone": phone})
        return data.get("code") if data else None

    async def cancel_pairing(self, channel: str | int) -> None:
        await self._call("POST", f"/channels/{channel}/pair/cancel")

    async def channel_action(self, channel: str | int, action: str) -> None:
        """``logout`` (WhatsApp will need a new QR scan), ``suspend`` or ``resume``."""
        if action not in ("logout", "suspend", "resume"):
            raise ValueError(action)
        await self._call("POST", f"/channels/{channel}/{action}")

    async def channel_history(self, channel: str | int) -> list[StateChange]:
        """Stored state transitions, newest first."""
        return [state_change_of(h) for h in await self._call("GET", f"/channels/{channel}/history")]

    async def contact(self, contact_id: int) -> ContactProfile:
        """The contact panel's profile (``not.found`` unless one of its tickets is visible)."""
        return contact_of(await self._call("GET", f"/contacts/{contact_id}"))

    async def media(self, sha256: str, thumbnail: bool = False) -> bytes:
        """Hook for attachments (``GET /media/{sha}[/thumbnail]``): the raw bytes."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        path = f"/media/{sha256}/thumbnail" if thumbnail else f"/media/{sha256}"
        try:
            response = await self._http.get(path, headers=headers)
        except httpx.HTTPError:
            raise ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE) from None
        if response.status_code >= 400:
            raise error_of(response)
        return response.content

    # ---- painel -------------------------------------------------------------------------------

    async def dashboard(self, branch_id: int | None = None) -> Dashboard:
        """Today's counts for the Painel, over ``branch_id`` or all the user's branches."""
        params = {"branch_id": branch_id} if branch_id else {}
        d = await self._call("GET", "/stats/dashboard", params=params)
        return Dashboard(
            d["channels_connected"], d["channels_total"], d["messages_in"], d["messages_out"],
            d["waiting"], d.get("avg_first_response_s"), d.get("avg_resolution_s"),
            tuple(d["hourly_in"]), tuple(d["hourly_out"]),
        )  # fmt: skip

    # ---- backups (admins) ---------------------------------------------------------------------

    async def backups(self) -> BackupStatus:
        """The backup status and how many archives the targets hold (``GET /backups``)."""
        return backup_status_of(await self._call("GET", "/backups"))

    async def run_backup(self) -> str:
        """Back up now (``POST /backups/run``): returns the archive's path once it is written
        and verified. The engine answers only then (no progress stream): a long read timeout."""
        timeout = httpx.Timeout(15.0, read=RUN_READ_TIMEOUT_S)
        return str((await self._call("POST", "/backups/run", timeout=timeout))["archive"])
