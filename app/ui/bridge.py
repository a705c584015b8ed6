"""The one bridge from the engine's ``/events`` WebSocket into Qt signals (Electrum style).

Nothing else in the desk talks to the event stream: models and pages connect to these typed
signals. The bridge owns the socket's life as an explicit state machine::

    IDLE ─start()→ CONNECTING ─open→ CONNECTED ─drop→ BACKOFF ─delay→ CONNECTING …
                      │  └─fail→ BACKOFF
                      └─ closed 1008 (token refused) → AUTH_NEEDED ─set_token()→ CONNECTING
    stop() from any state → STOPPED

Reconnects wait a bounded, fully jittered exponential delay (``app.domain.channels.Backoff``).
A failure is logged once when the link is lost and once when it comes back, never per attempt.
After every reconnect ``resynced`` fires: events may have been missed, so views reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, Signal
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from app.domain.channels import Backoff

log = logging.getLogger(__name__)
CLOSE_POLICY_VIOLATION = 1008  # the engine refused our token (events_ws.py)


class LinkStatus(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"
    AUTH_NEEDED = "auth_needed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class OutboxUpdate:
    """An outbox row changed (``OutboxChanged``): ids and status codes only."""

    outbox_id: int
    message_id: int
    ticket_id: int | None
    status: str
    attempts: int
    error: str | None


class EventBridge(QObject):
    """Owns ``/events``; re-emits each engine event as a typed Qt signal on the UI thread."""

    statusChanged = Signal(str)  # LinkStatus value
    resynced = Signal()  # connected again after a gap: reload what is on screen
    authLost = Signal()  # the engine no longer knows our token (restarted): log in again
    ticketChanged = Signal(int, str, str)  # ticket_id, status, action
    inboundReceived = Signal(int, int)  # ticket_id (0: unknown), channel_id
    outboxChanged = Signal(object)  # OutboxUpdate
    ackChanged = Signal(int, int, str)  # message_id, ticket_id (0: none), ack
    channelStateChanged = Signal(int, str, str)  # channel_id, state, reason
    channelWarning = Signal(int, bool)  # channel_id, deaf suspected
    pairingQr = Signal(int, str, float)  # channel_id, qr payload, seconds left
    pairingCode = Signal(int, str)  # channel_id, code
    reminderChanged = Signal(int, str)  # reminder_id, status (sent, answered, cancelled…)

    def __init__(
        self,
        url: str,
        *,
        backoff: Backoff | None = None,
        uniform: Callable[[], float] = random.random,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.url = url
        self.status = LinkStatus.IDLE
        self.attempt = 0
        self._backoff = backoff or Backoff(base=0.5, cap=15.0)
        self._uniform = uniform
        self._token: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._token_set = asyncio.Event()
        self._ever_connected = False
        self._failing = False
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "TicketChanged": self._ticket,
            "InboundReceived": self._inbound,
            "OutboxChanged": self._outbox,
            "MessageAckChanged": self._ack,
            "ChannelStateChanged": self._channel_state,
            "ChannelDeafSuspected": lambda e: self.channelWarning.emit(e["channel_id"], True),
            "ChannelDeafCleared": lambda e: self.channelWarning.emit(e["channel_id"], False),
            "PairingQr": lambda e: self.pairingQr.emit(e["channel_id"], e["qr"], e["expires_in"]),
            "PairingCode": lambda e: self.pairingCode.emit(e["channel_id"], e["code"]),
            "ReminderChanged": lambda e: self.reminderChanged.emit(e["reminder_id"], e["status"]),
        }

    # ---- control -----------------------------------------------------------------------------

    def start(self, token: str) -> None:
        """Connect with ``token`` and keep connected until :meth:`stop`."""
        self.set_token(token)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def set_token(self, token: str) -> None:
        """A fresh token (after a refresh or a new login); wakes an AUTH_NEEDED bridge."""
        self._token = token
        self._token_set.set()

    async def stop(self) -> None:
        """Close the socket and stop reconnecting."""
        self._set_status(LinkStatus.STOPPED)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    # ---- the state machine --------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.status is LinkStatus.STOPPED

    def _set_status(self, status: LinkStatus) -> None:
        if status is not self.status:
            self.status = status
            self.statusChanged.emit(status.value)

    async def _run(self) -> None:
        while not self.stopped:
            if self._token is None:
                await self._wait_for_token()
                continue
            self._set_status(LinkStatus.CONNECTING)
            used = self._token
            closed = await self._session()
            if closed == CLOSE_POLICY_VIOLATION and self._token == used:
                await self._wait_for_token()
            elif not self.stopped:
                await self._back_off()

    async def _session(self) -> int | None:
        """One connection, until it ends; returns the close code (None: never opened)."""
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with connect(self.url, additional_headers=headers, proxy=None) as ws:
                return await self._pump(ws)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self._note_failure(type(exc).__name__)
            return None
        except ConnectionClosed as exc:
            self._note_failure("closed")
            return exc.rcvd.code if exc.rcvd else None

    async def _pump(self, ws: ClientConnection) -> int | None:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "Hello":
            return None
        self._on_connected()
        try:
            async for raw in ws:
                self._dispatch(json.loads(raw))
        except ConnectionClosed:
            pass
        self._note_failure("closed")
        return ws.close_code

    def _on_connected(self) -> None:
        if self._failing:
            log.info("event stream back", extra={"code": "events.recovered"})
        self._failing, self.attempt = False, 0
        self._set_status(LinkStatus.CONNECTED)
        if self._ever_connected:
            self.resynced.emit()
        self._ever_connected = True

    def _note_failure(self, what: str) -> None:
        if not self._failing and not self.stopped:
            log.warning("event stream lost", extra={"code": "events.lost", "what": what})
        self._failing = True

    async def _back_off(self) -> None:
        self._set_status(LinkStatus.BACKOFF)
        delay = max(0.05, self._backoff.delay(self.attempt, self._uniform()))
        self.attempt += 1
        await asyncio.sleep(delay)

    async def _wait_for_token(self) -> None:
        self._set_status(LinkStatus.AUTH_NEEDED)
        self._token = None
        self._token_set.clear()
        self.authLost.emit()
        await self._token_set.wait()

    # ---- events → signals ---------------------------------------------------------------------

    def _dispatch(self, event: dict[str, Any]) -> None:
        handler = self._handlers.get(str(event.get("type")))
        if handler is None:
            return
        try:
            handler(event)
        except (KeyError, TypeError, ValueError):  # a malformed event must not end the stream
            log.warning("bad event", extra={"code": str(event.get("type"))})

    def _ticket(self, e: dict[str, Any]) -> None:
        self.ticketChanged.emit(e["ticket_id"], e["status"], e["action"])

    def _inbound(self, e: dict[str, Any]) -> None:
        self.inboundReceived.emit(e.get("ticket_id") or 0, e["channel_id"])

    def _outbox(self, e: dict[str, Any]) -> None:
        update = OutboxUpdate(
            e["outbox_id"], e["message_id"], e.get("ticket_id"), e["status"],
            e.get("attempts", 0), e.get("error"),
        )  # fmt: skip
        self.outboxChanged.emit(update)

    def _ack(self, e: dict[str, Any]) -> None:
        self.ackChanged.emit(e["message_id"], e.get("ticket_id") or 0, e["ack"])

    def _channel_state(self, e: dict[str, Any]) -> None:
        self.channelStateChanged.emit(e["channel_id"], e["state"], e["reason"])
