"""The engine's typed event bus: per-branch filtering, isolated handler failures.

Publishing is synchronous on the event loop; handlers must be quick (hand work to a task).
A failing handler is logged once (by code, never with payload) and the others still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all bus events. ``branch_id`` None: engine-wide (only super admins see it)."""

    branch_id: int | None

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class ChannelStateChanged(Event):
    channel_id: int
    state: str
    reason: str
    reconnects: int = 0
    until: float | None = None


@dataclass(frozen=True, slots=True)
class PairingQr(Event):
    channel_id: int
    qr: str
    expires_in: float


@dataclass(frozen=True, slots=True)
class PairingCode(Event):
    channel_id: int
    code: str


@dataclass(frozen=True, slots=True)
class InboundReceived(Event):
    """A patient message reached the engine (ids only; the text stays in the store)."""

    channel_id: int
    wa_id: str
    message_id: int | None = None
    ticket_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReceiptReceived(Event):
    channel_id: int
    wa_id: str
    receipt: str


@dataclass(frozen=True, slots=True)
class ChannelDeafSuspected(Event):
    """The channel is CONNECTED and receipts come back, but no inbound arrived for longer than
    its usual pattern allows (counts and times only; docs/CHANNELS.md "Deaf channels")."""

    channel_id: int
    since: str  # ISO-8601 UTC: when inbound went silent
    receipts: int  # sends with delivered/read receipts during the silence
    silence_s: float
    threshold_s: float


@dataclass(frozen=True, slots=True)
class ChannelDeafCleared(Event):
    """Inbound flows again on a channel that was suspected deaf."""

    channel_id: int
    since: str  # when the suspected silence had begun (ISO-8601 UTC)


Handler = Callable[[Event], None]


@dataclass(slots=True)
class Subscription:
    """A handler with the branches it may hear from (None: all, for super admins)."""

    handler: Handler
    branches: frozenset[int] | None
    failed: bool = field(default=False)

    def wants(self, event: Event) -> bool:
        if self.branches is None:
            return True
        return event.branch_id is not None and event.branch_id in self.branches


class EventBus:
    """Fan-out of events to subscribers allowed to see them."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, handler: Handler, branches: frozenset[int] | None) -> Subscription:
        """Call ``handler`` for events of ``branches`` (None: every event)."""
        sub = Subscription(handler, branches)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber that may see it; one failure stops no other."""
        for sub in list(self._subs):
            if sub.wants(event):
                self._deliver(sub, event)

    @staticmethod
    def _deliver(sub: Subscription, event: Event) -> None:
        try:
            sub.handler(event)
        except Exception:  # isolation is the point: a bad handler must not break the others
            if not sub.failed:
                log.exception("event handler failed", extra={"code": event.name})
            sub.failed = True

    def queue(self, branches: frozenset[int] | None, maxsize: int = 1000) -> QueueSubscription:
        """A bounded queue of events for a consumer such as a WebSocket client."""
        return QueueSubscription(self, branches, maxsize)


class QueueSubscription:
    """Events collected into an asyncio queue; a consumer too slow to keep up is cut off
    (``overflowed``) rather than letting memory grow or slowing the engine down."""

    def __init__(self, bus: EventBus, branches: frozenset[int] | None, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.cut_off = asyncio.Event()  # set when the consumer fell too far behind
        self._bus = bus
        self._sub = bus.subscribe(self._put, branches)

    def _put(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.cut_off.set()
            self.close()

    def close(self) -> None:
        self._bus.unsubscribe(self._sub)
