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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client_contact import ContactProfile, StateChange, contact_of, state_change_of
from app.ui.client_types import (
    BackupStatus,
    Branch,
    BranchRole,
    Channel,
    Dashboard,
    Json,
    Me,
    MessagePage,
    Note,
    Outbound,
    Queue,
    QueueFigures,
    QuickReply,
    SearchPage,
    Ticket,
    TicketPage,
    User,
    backup_status_of,
    channel_of,
    message_of,
    outbound_of,
    search_of,
    ticket_of,
    when,
)

log = logging.getLogger(__name__)
IDS_PER_READ = 200  # the API's limit on GET /tickets?ids=
REFRESH_FLOOR_S = 5.0  # never hammer the engine with refreshes, even for very short tokens
RUN_READ_TIMEOUT_S = 3600.0  # POST /backups/run answers when the archive is verified


def error_of(response: httpx.Response) -> ClinicDeskError:
    """The engine's error code and params; anything unparseable counts as unreachable."""
    try:
        body = response.json()["error"]
        return ClinicDeskError(ErrorCode(body["code"]), **dict(body.get("params") or {}))
    except (ValueError, KeyError, TypeError):
        return ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE, status=response.status_code)


async def _save_stream(response: httpx.Response, path: Path) -> None:
    """Write the response body to ``path`` chunk by chunk, off the loop."""
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in response.aiter_bytes(1 << 16):
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)


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
        self.expires_at = when(data["expires_at"]) if data.get("expires_at") else None
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
            Note(n["id"], n["author_id"], n["body"], when(n["created_at"])) for n in data["notes"]
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
        return [
            Queue(q["id"], q["branch_id"], q["name"], q["color"], bool(q.get("member")))
            for q in data
        ]

    async def start_ticket(
        self, channel_id: int, phone: str, queue_id: int | None, name: str | None = None
    ) -> Ticket:
        """Start a conversation with a patient by number (``POST /tickets``): a new open ticket
        of the caller's, or the patient's active one on that channel."""
        body = {"channel_id": channel_id, "phone": phone, "queue_id": queue_id, "name": name}
        return ticket_of(await self._call("POST", "/tickets", json=body))

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

    async def erase_contact(self, contact_id: int) -> tuple[int, int]:
        """Erase the patient's data (``POST /contacts/{id}/erase``, admins; cannot be undone):
        how many messages and attachment files went."""
        done = await self._call("POST", f"/contacts/{contact_id}/erase", json={"confirm": True})
        return int(done["messages"]), int(done["attachments"])

    async def export_contact(self, contact_id: int, target: Path) -> str:
        """The patient's data archive (``POST /contacts/{id}/export``) streamed into
        ``target`` through ``<target>.partial``; returns its one-time password."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        partial = target.with_name(target.name + ".partial")
        path = f"/contacts/{contact_id}/export"
        try:
            async with self._http.stream("POST", path, headers=headers, timeout=300) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_of(response)
                password = response.headers["X-Export-Password"]
                await _save_stream(response, partial)
            await asyncio.to_thread(partial.replace, target)
        except httpx.HTTPError:
            raise ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE) from None
        finally:
            partial.unlink(missing_ok=True)
        return password

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
            tuple(
                QueueFigures(q.get("name"), q["waiting"], q.get("avg_first_response_s"),
                             q["resolved"], q.get("avg_resolution_s"))
                for q in d.get("queues", ())
            ),
            d.get("reminders_asked", 0), d.get("reminders_confirmed", 0),
            d.get("reminders_declined", 0),
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
