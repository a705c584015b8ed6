"""Per-channel live state kept by the supervisor, and the pure rules it applies to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime

from app.channels.ratelimit import SendPacer
from app.channels.workers import WorkerSlot
from app.domain.channels import Backoff, CircuitBreaker, LinkState, Policy, Reason, outcome_of
from app.domain.models import Channel
from app.services.transport import TransportEvent

log = logging.getLogger(__name__)
S = LinkState

#: Kinds whose engine is unsafe with several clients in one process (WHATSAPP_ENGINES.md §1.2).
SINGLE_CHANNEL_KINDS = frozenset({"whatsapp-web"})
# A channel's backlog of events from its worker: above INBOX_HIGH the engine stops reading that
# worker until the consumer is down to INBOX_LOW. A burst (a phone's offline queue after a long
# outage) then waits in the worker and the network, not in the engine's heap, where tens of
# thousands of queued events made every full GC pass long (docs/PERFORMANCE.md, stall).
INBOX_HIGH = 200
INBOX_LOW = 50


def default_worker_command() -> tuple[str, ...]:
    """How to start ``clinicdesk channel-worker`` from this installation (frozen or not)."""
    if getattr(sys, "frozen", False):  # PyInstaller bundle: the executable is clinicdesk itself
        return (sys.executable, "channel-worker")
    return (sys.executable, "-m", "app", "channel-worker")


@dataclass(frozen=True)
class SupervisorSettings:
    """Tuning of the supervisor; defaults follow WHATSAPP_ENGINES.md §2.3 (tests shorten them)."""

    connect_cap: int = 32  # connects in flight across all channels
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 300.0))
    breaker_threshold: int = 10
    breaker_probe_after: float = 600.0
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 15.0
    pairing_timeout: float = 160.0  # a little under WhatsApp's own QR rotation limit
    channels_per_worker: int = 250
    worker_command: tuple[str, ...] = field(default_factory=default_worker_command)
    connect_timeout: float = 60.0  # a connect with no outcome by then counts as failed
    shutdown_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel's live link state as the supervisor knows it."""

    channel_id: int
    branch_id: int
    name: str
    state: LinkState
    reason: str
    since: datetime
    reconnects: int
    breaker_open: bool
    worker_pid: int | None
    until: float | None
    warning: str | None = None  # e.g. "deaf_suspected" (docs/CHANNELS.md "Deaf channels")
    warning_since: datetime | None = None


def policy_of(reason: str | None) -> Policy:
    """The policy a stored reason code stands for (NONE for codes this version does not know)."""
    try:
        return outcome_of(Reason(reason or "")).policy
    except ValueError:
        return Policy.NONE


def connects_at_boot(state: LinkState, reason: str | None) -> bool:
    """Whether a channel stored in ``state`` reconnects by itself when the engine starts.

    Channels that wait for a person (to pair, to check a ban, to resume a pause) keep waiting;
    every other one, CONNECTED before the restart included, connects with its credentials.
    """
    if state is S.QR_REQUIRED:
        return False
    if state is S.SUSPENDED:
        return reason != Reason.SUSPENDED_BY_USER  # a temporary ban: the server repeats it
    return not (state is S.ERROR and policy_of(reason) is Policy.STOP)


def dropped_while(state: LinkState, reason: Reason) -> bool:
    """Whether a transport report of ``reason`` is ignored while the channel is in ``state``.

    While pairing, a person drives the link: late connect failures or "not paired" from an
    earlier connect attempt must not end the pairing window.
    """
    if state is not S.PAIRING:
        return False
    if reason in (Reason.WORKER_CRASHED, Reason.WORKER_HUNG):
        return False
    return reason is Reason.NOT_PAIRED or outcome_of(reason).policy is Policy.RECONNECT


@dataclass(eq=False)
class ChannelRuntime:
    """What the supervisor tracks for one channel while the engine runs."""

    channel: Channel
    state: LinkState
    reason: str
    since: datetime
    breaker: CircuitBreaker
    pacer: SendPacer
    reconnects: int = 0
    until: float | None = None  # end of a temporary ban, epoch seconds
    attempt: int = 0  # reconnect attempts since the last CONNECTED
    hold: bool = False  # a person (or a stop policy) holds the channel: no automatic connect
    connecting: bool = False  # a connect is queued or in flight
    failure_logged: bool = False
    pairing_ends: float | None = None  # loop time the pairing window closes
    worker: WorkerSlot | None = None
    timer: asyncio.TimerHandle | None = None  # next reconnect, probe or ban expiry
    pairing_timer: asyncio.TimerHandle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    inbox: asyncio.Queue[TransportEvent] = field(default_factory=asyncio.Queue)
    room: asyncio.Event = field(default_factory=asyncio.Event)  # set: the inbox takes more
    consumer: asyncio.Task[None] | None = None
    warning: str | None = None  # shown next to the state; set by the deaf watch
    warning_since: datetime | None = None

    def __post_init__(self) -> None:
        self.room.set()

    def put_from_worker(self, event: TransportEvent) -> asyncio.Event | None:
        """Queue a worker's event; returns the event to wait on when the backlog is full."""
        self.inbox.put_nowait(event)
        if self.inbox.qsize() >= INBOX_HIGH:
            self.room.clear()
            return self.room
        return None

    def took_one(self) -> None:
        """The consumer took an event: reading the worker may resume below the low mark."""
        if not self.room.is_set() and self.inbox.qsize() <= INBOX_LOW:
            self.room.set()

    @property
    def id(self) -> int:
        return self.channel.id

    @property
    def key(self) -> str:
        """The channel's name on the worker protocol."""
        return str(self.channel.id)

    def worker_ready(self) -> bool:
        return self.worker is not None and self.worker.ready

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def cancel_pairing_timer(self) -> None:
        if self.pairing_timer is not None:
            self.pairing_timer.cancel()
            self.pairing_timer = None
        self.pairing_ends = None

    async def close(self) -> None:
        """Stop the timers and the event consumer (the channel is removed or the engine stops)."""
        self.hold = True
        self.cancel_timer()
        self.cancel_pairing_timer()
        if self.consumer is not None:
            self.consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.consumer

    def status(self) -> ChannelStatus:
        return ChannelStatus(
            channel_id=self.id,
            branch_id=self.channel.branch_id,
            name=self.channel.name,
            state=self.state,
            reason=self.reason,
            since=self.since,
            reconnects=self.reconnects,
            breaker_open=self.breaker.is_open,
            worker_pid=self.worker.pid if self.worker else None,
            until=self.until,
            warning=self.warning,
            warning_since=self.warning_since,
        )
