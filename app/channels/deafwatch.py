"""The deaf-channel watch: bus events in, warnings and fresh sessions out.

It feeds one :class:`~app.domain.deafness.DeafDetector` per channel from events that already
exist (``ChannelStateChanged``, ``InboundReceived``, ``ReceiptReceived``), checks every channel
each ``tick_s`` and on every receipt, and when a channel looks deaf it: shows a warning on the
channel (API view, ``clinicdesk status``), publishes ``ChannelDeafSuspected`` (reaches
``/events``, branch-filtered), writes an audit row, logs once, and asks the supervisor for a
fresh session plus a reconciliation since the silence began. The first inbound message clears it
all (``ChannelDeafCleared``, logged once). Reconnects for one suspicion are spaced by a doubling
delay (:func:`~app.domain.deafness.reconnect_delay`) and each needs fresh evidence from the new
connection, so a deaf channel never turns into a reconnect storm. See docs/CHANNELS.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from app.domain.deafness import DeafDetector, DeafSettings, Suspicion, Verdict, reconnect_delay
from app.domain.errors import ClinicDeskError
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.events import (
    ChannelDeafCleared,
    ChannelDeafSuspected,
    ChannelStateChanged,
    Event,
    EventBus,
    InboundReceived,
    ReceiptReceived,
    Subscription,
)
from app.services.ports import Store, Tx

log = logging.getLogger(__name__)

WARNING = "deaf_suspected"
WATCH_ACTOR = Actor(user_id=None, username="engine.deafwatch")
PROOF_RECEIPTS = frozenset({"delivered", "read"})  # "sent" only proves the server took it


class DeafActions(Protocol):
    """What the watch needs from the supervisor."""

    def set_warning(self, channel_id: int, warning: str | None, since: datetime | None) -> None: ...
    async def reconnect_deaf(self, channel_id: int, since: float) -> bool: ...


@dataclass(eq=False)
class _Watched:
    detector: DeafDetector
    branch_id: int | None
    attempt: int = 0  # deaf reconnects during the current suspicion
    next_reconnect_at: float = 0.0  # monotonic time before which no deaf reconnect happens
    wants_reconnect: bool = False  # still deaf on a new connection; reconnect when allowed
    # The wall time announced with the warning: the clearing repeats it exactly rather than
    # converting the monotonic start again (the two conversions can differ by a microsecond).
    announced_since: datetime | None = None


class DeafWatch:
    """Watches every channel for "connected but deaf" (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        auditor: Auditor,
        actions: DeafActions,
        settings: DeafSettings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._store, self._bus, self._auditor, self._actions = store, bus, auditor, actions
        self._settings, self._mono, self._wall = settings, monotonic, wall
        self._channels: dict[int, _Watched] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sub: Subscription | None = None
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen to the bus and re-check every channel each ``tick_s`` (start it before the
        supervisor, so no CONNECTED event is missed)."""
        self._sub = self._bus.subscribe(self._on_event, None)
        self._ticker = asyncio.create_task(self._tick(), name="deaf-watch")

    async def stop(self) -> None:
        if self._sub is not None:
            self._bus.unsubscribe(self._sub)
        tasks = [t for t in (self._ticker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- facts from the bus (quick: the bus calls this on the event loop) -------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChannelStateChanged):
            watched = self._watched(event.channel_id, event.branch_id)
            if event.state == "CONNECTED":
                watched.detector.connected(self._mono())
            else:
                watched.detector.disconnected()
        elif isinstance(event, InboundReceived):
            watched = self._watched(event.channel_id, event.branch_id)
            since = watched.detector.suspected_since
            if watched.detector.inbound(self._mono()) and since is not None:
                self._spawn(self._clear(event.channel_id, watched, since))
        elif isinstance(event, ReceiptReceived) and str(event.receipt) in PROOF_RECEIPTS:
            watched = self._watched(event.channel_id, event.branch_id)
            watched.detector.receipt(event.wa_id)
            self._evaluate(event.channel_id, watched)

    def _watched(self, channel_id: int, branch_id: int | None) -> _Watched:
        watched = self._channels.get(channel_id)
        if watched is None:
            watched = _Watched(DeafDetector(self._settings), branch_id)
            self._channels[channel_id] = watched
        return watched

    # ---- judgement --------------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._settings.tick_s)
            for channel_id, watched in list(self._channels.items()):
                self._evaluate(channel_id, watched)

    def _evaluate(self, channel_id: int, watched: _Watched) -> None:
        now = self._mono()
        verdict, evidence = watched.detector.check(now)
        if verdict is Verdict.SUSPECTED and evidence is not None:
            self._spawn(self._raise(channel_id, watched, evidence))
        elif verdict is Verdict.STILL_DEAF:
            log.debug("channel %s still deaf after a fresh session", channel_id)
            watched.wants_reconnect = True
        if watched.wants_reconnect and now >= watched.next_reconnect_at:
            watched.wants_reconnect = False
            self._spawn(self._reconnect(channel_id, watched))

    async def _raise(self, channel_id: int, watched: _Watched, evidence: Suspicion) -> None:
        """Warn everywhere a person looks, record it, then ask for a fresh session."""
        since = watched.announced_since = self._as_datetime(evidence.since)
        self._actions.set_warning(channel_id, WARNING, since)
        self._bus.publish(
            ChannelDeafSuspected(
                watched.branch_id, channel_id, since.isoformat(), evidence.receipts,
                round(evidence.silence_s, 3), round(evidence.threshold_s, 3),
            )
        )  # fmt: skip
        extra = {"channel_id": channel_id, "branch_id": watched.branch_id, "code": WARNING}
        log.warning("channel %s: no inbound for %.0f s while %d sends got receipts",
                    channel_id, evidence.silence_s, evidence.receipts, extra=extra)  # fmt: skip
        details = {"receipts": evidence.receipts, "silence_s": round(evidence.silence_s, 1)}
        await self._audit(channel_id, watched, "channel.deaf_suspected", details)
        watched.wants_reconnect = True
        self._evaluate(channel_id, watched)

    async def _reconnect(self, channel_id: int, watched: _Watched) -> None:
        """One fresh session for a suspected channel; the next one waits longer."""
        watched.next_reconnect_at = self._mono() + reconnect_delay(self._settings, watched.attempt)
        watched.attempt += 1
        since = watched.detector.suspected_since
        if since is None:  # inbound came back meanwhile
            return
        log.info("channel %s: fresh session for a suspected deaf link (attempt %d)",
                 channel_id, watched.attempt, extra={"channel_id": channel_id})  # fmt: skip
        with contextlib.suppress(ClinicDeskError):  # removed meanwhile: nothing to reconnect
            await self._actions.reconnect_deaf(channel_id, self._as_epoch(since))

    async def _clear(self, channel_id: int, watched: _Watched, since: float) -> None:
        """Inbound flows again: drop the warning, say so once, forget the reconnect backoff."""
        watched.attempt, watched.next_reconnect_at, watched.wants_reconnect = 0, 0.0, False
        self._actions.set_warning(channel_id, None, None)
        started = (watched.announced_since or self._as_datetime(since)).isoformat()
        watched.announced_since = None
        self._bus.publish(ChannelDeafCleared(watched.branch_id, channel_id, started))
        log.info("channel %s receives again", channel_id, extra={"channel_id": channel_id})
        await self._audit(channel_id, watched, "channel.deaf_cleared", {"since": started})

    async def _audit(
        self, channel_id: int, watched: _Watched, action: str, details: Mapping[str, object]
    ) -> None:
        target = AuditTarget("channel", channel_id, watched.branch_id)

        def work(tx: Tx) -> None:
            self._auditor.record(tx, WATCH_ACTOR, action, target, **details)

        try:
            await self._store.transaction(work)
        except ClinicDeskError as exc:  # the warning stands even if the audit row failed
            log.warning("deaf-watch audit row not written", extra={"code": exc.code})

    # ---- plumbing ---------------------------------------------------------------------------

    def _as_epoch(self, mono: float) -> float:
        return self._wall() - (self._mono() - mono)

    def _as_datetime(self, mono: float) -> datetime:
        return datetime.fromtimestamp(self._as_epoch(mono), UTC)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("deaf-watch task failed", exc_info=task.exception())
