"""The engine's channel supervisor: one state machine per channel, workers kept alive.

Transports report reasons; here each reason becomes a state through ``outcome_of`` and
``check_transition``, every transition is stored (time, reason) and published, and the policy
that follows runs: reconnect with backoff under the circuit breaker, wait for a person, stop,
or stay suspended until a ban expires. Connects across all channels are bounded by
``connect_cap``. Link failures are logged once when they start and once on recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.channels.linkstate import LinkStateMachine
from app.channels.protocol import Op
from app.channels.ratelimit import SendPacer, limits_from_config
from app.channels.runtime import (
    SINGLE_CHANNEL_KINDS,
    ChannelRuntime,
    ChannelStatus,
    SupervisorSettings,
    connects_at_boot,
)
from app.channels.workers import SlotConfig, SlotHooks, WorkerSlot
from app.config import DataDir
from app.domain.channels import ALLOWED, CircuitBreaker, LinkState, Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.models import Channel
from app.security.fsperms import make_private_dir
from app.security.sealing import DeviceStoreKeys
from app.services.events import EventBus
from app.services.ports import Store
from app.services.transport import (
    EventKind,
    OutboundMedia,
    SendFailedError,
    SendFailureKind,
    TransportEvent,
)
from app.store.types import utcnow

__all__ = ["ChannelStatus", "Supervisor", "SupervisorSettings"]

log = logging.getLogger(__name__)
S = LinkState
InboundSink = Callable[[int, TransportEvent], Awaitable[None]]
START_CHUNK = 50  # channels brought up per step at start
SEALED_STORE_KINDS = frozenset({"whatsapp-web"})  # device store sealed with a per-channel key


class Supervisor(LinkStateMachine):
    """Runs every enabled channel of the installation (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        data_dir: DataDir,
        settings: SupervisorSettings,
        *,
        inbound_sink: InboundSink | None = None,
        rng: random.Random | None = None,
        device_keys: DeviceStoreKeys | None = None,
    ) -> None:
        super().__init__(store, bus, settings, inbound_sink, rng or random.Random())  # noqa: S311 - jitter, not secrets
        self._data_dir = data_dir
        self._device_keys = device_keys  # seals whatsapp-web device stores (never the DEK)
        self._slots: list[WorkerSlot] = []
        self._connect_slots = asyncio.Semaphore(settings.connect_cap)
        self._in_flight = 0
        self._peak = 0
        self._started = False

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the enabled channels, start their workers and connect those that may connect."""
        if self._started:
            return
        self._started = True
        loaded = await self._store.read(_load_channels)
        runtimes = [self._runtime_for(channel, reconnects) for channel, reconnects in loaded]
        # concurrently, so the DB writer groups the state changes into a few commits; in chunks,
        # so 1,000 channels do not hold the event loop in one go
        for first in range(0, len(runtimes), START_CHUNK):
            chunk = runtimes[first : first + START_CHUNK]
            await asyncio.gather(*(self._host(rt) for rt in chunk))

    async def stop(self) -> None:
        """Stop every worker gracefully (kill stragglers) and store each channel's last state.

        Channels that were live are stored DISCONNECTED(stopped) and reconnect at the next
        start; channels waiting for a person keep their state. Safe to call twice.
        """
        if self._stopping:
            return
        self._stopping = True
        for rt in self._runtimes.values():
            rt.hold = True
            rt.cancel_timer()
        await self._cancel_tasks()
        await asyncio.gather(*(slot.stop() for slot in self._slots), return_exceptions=True)
        await asyncio.gather(*(self._close(rt) for rt in list(self._runtimes.values())))

    async def _close(self, rt: ChannelRuntime) -> None:
        await rt.close()
        await self._record_stopped(rt)

    async def _record_stopped(self, rt: ChannelRuntime) -> None:
        if rt.state in (S.CONNECTED, S.CONNECTING, S.PAIRING, S.INITIALIZING):
            with contextlib.suppress(ClinicDeskError):
                await self._transition(rt, S.DISCONNECTED, Reason.STOPPED)

    async def add_channel(self, channel: Channel) -> None:
        """Start hosting a newly created (or re-enabled) channel."""
        if channel.id in self._runtimes:
            raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="channel", id=channel.id)
        if channel.enabled and not self._stopping:
            await self._host(self._runtime_for(channel, 0))

    async def remove_channel(self, channel_id: int) -> None:
        """Stop hosting a channel (deleted or disabled); its worker closes the transport."""
        rt = self._runtime(channel_id)
        del self._runtimes[channel_id]
        await rt.close()
        slot = rt.worker
        if slot is None:
            return
        slot.channels.discard(rt.key)
        with contextlib.suppress(ClinicDeskError):
            await slot.request(Op.CLOSE, channel=rt.key)
        if not slot.channels:
            self._slots.remove(slot)
            await slot.stop()

    # ---- what people do -------------------------------------------------------------------

    async def pair(self, channel_id: int, phone_e164: str | None = None) -> str | None:
        """Start pairing: QR codes follow as events (returns None), or returns the pairing code.

        Raises ``CHANNEL_ALREADY_CONNECTED`` for a connected channel and ``NOT_FOUND`` for an
        unknown one, leaving the state unchanged. Pairing ends by itself after
        ``pairing_timeout`` (QR_REQUIRED, pairing_timeout): no QR is made after that.
        """
        rt = self._runtime(channel_id)
        async with rt.lock:
            self._check_pairable(rt)
            if rt.state is not S.PAIRING:
                await self._transition(rt, S.PAIRING, Reason.PAIRING_STARTED)
                self._arm_pairing_timeout(rt)
            rt.hold = False
            rt.cancel_timer()
        try:
            if phone_e164 is None:
                await self._request(rt, Op.PAIR_QR)
                return None
            return str(await self._request(rt, Op.PAIR_CODE, phone=phone_e164))
        except ClinicDeskError:
            await self._end_pairing(rt, Reason.PAIRING_FAILED)
            raise

    def _check_pairable(self, rt: ChannelRuntime) -> None:
        if rt.state is S.CONNECTED:
            raise ClinicDeskError(ErrorCode.CHANNEL_ALREADY_CONNECTED, channel_id=rt.id)
        if rt.state is not S.PAIRING and S.PAIRING not in ALLOWED[rt.state]:
            raise ClinicDeskError(
                ErrorCode.CHANNEL_INVALID_TRANSITION, from_state=rt.state, to_state=S.PAIRING
            )
        if not rt.worker_ready():
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING, channel_id=rt.id)

    async def cancel_pairing(self, channel_id: int) -> None:
        """End a pairing window now (QR_REQUIRED, not_paired); a no-op when not pairing."""
        await self._end_pairing(self._runtime(channel_id), Reason.NOT_PAIRED)

    async def logout(self, channel_id: int) -> None:
        """Unlink the device and wipe its credentials → QR_REQUIRED(logout_by_user).

        If the worker cannot log out (``CHANNEL_NOT_RUNNING``) the state is left unchanged.
        """
        rt = self._runtime(channel_id)
        async with rt.lock:
            held = rt.hold
            rt.hold = True
            try:
                await self._request(rt, Op.LOGOUT)
            except ClinicDeskError:
                rt.hold = held
                raise
            rt.cancel_timer()
            if rt.state is not S.QR_REQUIRED:
                await self._transition(rt, S.QR_REQUIRED, Reason.LOGOUT_BY_USER)

    async def suspend(self, channel_id: int) -> None:
        """Pause the channel → SUSPENDED(suspended_by_user); credentials are kept."""
        rt = self._runtime(channel_id)
        async with rt.lock:
            if rt.state is S.SUSPENDED and rt.reason == Reason.SUSPENDED_BY_USER:
                return
            await self._transition(rt, S.SUSPENDED, Reason.SUSPENDED_BY_USER)
            rt.hold = True
            rt.cancel_timer()
            rt.until = None
        with contextlib.suppress(ClinicDeskError):
            await self._request(rt, Op.CLOSE)

    async def resume(self, channel_id: int) -> None:
        """Connect a suspended or stopped channel again (also clears an open circuit).

        A no-op while the channel is linking, pairing or waiting to be paired (only pairing
        helps there); ``CHANNEL_ALREADY_CONNECTED`` when it is connected.
        """
        rt = self._runtime(channel_id)
        async with rt.lock:
            if rt.state is S.CONNECTED:
                raise ClinicDeskError(ErrorCode.CHANNEL_ALREADY_CONNECTED, channel_id=rt.id)
            if rt.state is S.QR_REQUIRED or (rt.state in (S.CONNECTING, S.PAIRING) and not rt.hold):
                return
            await self._transition(rt, S.CONNECTING, Reason.RESUMED_BY_USER)
            rt.hold, rt.until, rt.attempt = False, None, 0
            rt.breaker.record_success()
        self._spawn(self._attempt_connect(rt))

    async def send_text(self, channel_id: int, to_jid: str, text: str, key: str) -> str:
        """Send ``text`` when the channel's pacer grants a turn; returns WhatsApp's message id.

        Waits in the channel's FIFO queue (never dropped); raises :class:`SendFailedError`
        (``not_connected``) when the link is down, so the caller keeps the message queued.
        """
        rt = await self._turn(channel_id, to_jid, len(text))
        return str(await self._request(rt, Op.SEND_TEXT, to=to_jid, text=text, key=key))

    async def send_media(self, channel_id: int, to_jid: str, media: OutboundMedia, key: str) -> str:
        """Send an attachment like :meth:`send_text` (same pacing queue, same failures)."""
        rt = await self._turn(channel_id, to_jid, len(media.caption or ""))
        body = dataclasses.asdict(media)
        return str(await self._request(rt, Op.SEND_MEDIA, to=to_jid, media=body, key=key))

    async def _turn(self, channel_id: int, to_jid: str, chars: int) -> ChannelRuntime:
        """Wait for the pacer's turn (and show "typing…"); the link must be up before and after."""
        rt = self._runtime(channel_id)
        _require_connected(rt)
        typing = await rt.pacer.wait_turn(to_jid, chars)
        _require_connected(rt)
        if typing > 0:  # the indicator is cosmetic: not worth a round trip before the send
            self._notify(rt, Op.TYPING, chat=to_jid, on=True)
            await asyncio.sleep(typing)
        return rt

    # ---- deaf channels (app/channels/deafwatch.py decides; docs/CHANNELS.md) ---------------

    async def reconnect_deaf(self, channel_id: int, since: float) -> bool:
        """Replace a CONNECTED channel's session with a fresh one, then ask the worker to
        reconcile what arrived since ``since`` (epoch seconds). False if it was not CONNECTED.

        CONNECTED → CONNECTING(deaf_suspected) is stored like any transition; the transport is
        closed and opened again, so the new connection gets WhatsApp's offline queue.
        """
        rt = self._runtime(channel_id)
        async with rt.lock:
            if rt.state is not S.CONNECTED or rt.hold or self._stopping:
                return False
            await self._transition(rt, S.CONNECTING, Reason.DEAF_SUSPECTED)
        await self._quiet_request(rt, Op.CLOSE)
        await self._attempt_connect(rt)
        if rt.state is S.CONNECTED:
            await self._quiet_request(rt, Op.RECONCILE, since=since)
        return True

    @property
    def connects_in_flight(self) -> int:
        return self._in_flight

    @property
    def peak_connects_in_flight(self) -> int:
        return self._peak

    # ---- hosting ----------------------------------------------------------------------------

    def _runtime_for(self, channel: Channel, reconnects: int) -> ChannelRuntime:
        state = LinkState(channel.state)
        limits = limits_from_config(channel.send_limits)
        pacer = SendPacer(limits, time.monotonic, asyncio.sleep, self._rng)
        s = self._settings
        rt = ChannelRuntime(
            channel=channel,
            state=state,
            reason=channel.state_reason or "",
            since=channel.state_since or utcnow(),
            breaker=CircuitBreaker(s.breaker_threshold, s.breaker_probe_after),
            pacer=pacer,
            reconnects=reconnects,
            hold=not connects_at_boot(state, channel.state_reason),
        )
        rt.consumer = asyncio.create_task(self._consume(rt), name=f"channel-{channel.id}")
        self._runtimes[channel.id] = rt
        return rt

    async def _host(self, rt: ChannelRuntime) -> None:
        """Give the channel a private dir and a worker; connect it once the worker is up."""
        make_private_dir(self._private_dir(rt))
        slot = self._slot_for(rt.channel.kind)
        slot.channels.add(rt.key)
        rt.worker = slot
        if not rt.hold and rt.state is not S.CONNECTING:
            await self._transition(rt, S.CONNECTING, Reason.STARTING)
        if slot.ready:
            self._spawn(self._open_and_connect(rt))
        slot.start()

    def _private_dir(self, rt: ChannelRuntime) -> Path:
        return self._data_dir.channels / rt.key

    def _slot_for(self, kind: str) -> WorkerSlot:
        """A worker of ``kind`` with room for one more channel (a new one if none has room)."""
        for slot in self._slots:
            if slot.kind == kind and len(slot.channels) < slot.capacity:
                return slot
        s = self._settings
        capacity = 1 if kind in SINGLE_CHANNEL_KINDS else s.channels_per_worker
        command = (*s.worker_command, "--kinds", kind, "--heartbeat", str(s.heartbeat_interval))
        config = SlotConfig(command, s.heartbeat_timeout, s.backoff, s.shutdown_timeout)
        hooks = SlotHooks(self._on_worker_event, self._on_worker_ready, self._on_worker_down)
        slot = WorkerSlot(kind, capacity, config, hooks, self._rng)
        self._slots.append(slot)
        return slot

    async def _on_worker_ready(self, slot: WorkerSlot) -> None:
        """A (re)started worker said hello: open its channels, connect those that may."""
        rts = [self._runtimes[int(k)] for k in list(slot.channels) if int(k) in self._runtimes]
        for rt in rts:
            self._spawn(self._open_and_connect(rt))

    async def _open_and_connect(self, rt: ChannelRuntime) -> None:
        """Open the transport (so a person can pair a held channel), then connect if wanted."""
        try:
            await self._ensure_open(rt)
        except ClinicDeskError as exc:
            if exc.code is ErrorCode.CHANNEL_KIND_UNSUPPORTED:
                await self._stop_channel(rt, exc.code)
            return
        await self._attempt_connect(rt)

    async def _ensure_open(self, rt: ChannelRuntime) -> None:
        """Have the worker build the channel's transport (idempotent on the worker side)."""
        # the transport names its account after the channel (``simulator fault --channel NAME``)
        config = {"account": rt.channel.name, **rt.channel.config}
        if rt.channel.kind in SEALED_STORE_KINDS and self._device_keys is not None:
            # over the worker's stdin only: never on its command line, env or disk
            config["device_store_key"] = self._device_keys.for_channel(rt.key).hex()
        private_dir = str(self._private_dir(rt))
        await self._request(
            rt, Op.OPEN, kind=rt.channel.kind, config=config, private_dir=private_dir
        )

    async def _on_worker_down(self, slot: WorkerSlot, reason: Reason) -> None:
        """The worker exited or hung: its channels drop and reconnect once it is back."""
        for key in list(slot.channels):
            rt = self._runtimes.get(int(key))
            if rt is not None:
                rt.inbox.put_nowait(TransportEvent(EventKind.STATE, key, reason=reason))

    def _on_worker_event(self, key: str, event: TransportEvent) -> asyncio.Event | None:
        """Queue ``event`` for its channel; an event to wait on when that backlog is full."""
        try:
            rt = self._runtimes.get(int(key))
        except ValueError:
            rt = None
        if rt is None:
            log.warning(
                "event for a channel not hosted here", extra={"code": "worker.unknown_channel"}
            )
            return None
        return rt.put_from_worker(event)

    # ---- connecting -------------------------------------------------------------------------

    async def _attempt_connect(self, rt: ChannelRuntime) -> None:
        """Connect ``rt`` under the global cap, unless it is held, busy, or already linked."""
        if not self._may_connect(rt):
            return
        rt.connecting = True
        try:
            async with self._connect_slots:
                self._in_flight += 1
                self._peak = max(self._peak, self._in_flight)
                try:
                    await self._dial(rt)
                finally:
                    self._in_flight -= 1
        finally:
            rt.connecting = False

    def _may_connect(self, rt: ChannelRuntime) -> bool:
        now = asyncio.get_running_loop().time()
        return (
            not (self._stopping or rt.hold or rt.connecting)
            and rt.state not in (S.CONNECTED, S.PAIRING)
            and rt.worker_ready()
            and rt.breaker.may_attempt(now)
            and rt.id in self._runtimes
        )

    async def _dial(self, rt: ChannelRuntime) -> None:
        """Ask the worker to connect and wait until the channel leaves CONNECTING (or times out)."""
        async with rt.lock:
            if self._stopping or rt.hold or rt.state in (S.CONNECTED, S.PAIRING):
                return
            if rt.state is not S.CONNECTING:
                await self._transition(rt, S.CONNECTING, rt.reason or Reason.STARTING)
            rt.settled.clear()
        try:
            await self._ensure_open(rt)
            await self._request(rt, Op.CONNECT)
            await asyncio.wait_for(rt.settled.wait(), self._settings.connect_timeout)
        except ClinicDeskError as exc:
            if exc.code is ErrorCode.CHANNEL_KIND_UNSUPPORTED:
                await self._stop_channel(rt, exc.code)
                return
            self._dial_failed(rt, exc)
        except TimeoutError as exc:
            self._dial_failed(rt, exc)

    def _dial_failed(self, rt: ChannelRuntime, exc: Exception) -> None:
        """A connect that failed or never settled counts as a connect failure (backoff)."""
        detail = exc.code.value if isinstance(exc, ClinicDeskError) else "timeout"
        rt.inbox.put_nowait(
            TransportEvent(EventKind.STATE, rt.key, Reason.CONNECT_FAILED, detail=detail)
        )

    async def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _load_channels(tx: Any) -> list[tuple[Channel, int]]:
    return [(c, tx.channels.reconnects(c.id)) for c in tx.channels.list() if c.enabled]


def _require_connected(rt: ChannelRuntime) -> None:
    if rt.state is not S.CONNECTED:
        raise SendFailedError(SendFailureKind.NOT_CONNECTED, rt.state.value)
