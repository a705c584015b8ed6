"""The per-channel link state machine: transport reports in, transitions and policies out.

Each channel has one consumer task reading its inbox (events from its worker and synthetic
ones such as worker_crashed), so a channel's events are handled in order while one slow
channel never holds up another. Transitions run under the channel's lock, are checked against
``ALLOWED``, stored (time and reason) and then published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

from app.channels.protocol import Op
from app.channels.ratelimit import limits_from_config
from app.channels.runtime import ChannelRuntime, ChannelStatus, SupervisorSettings, dropped_while
from app.domain.channels import LinkState, Policy, Reason, check_transition, outcome_of
from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.services.events import (
    ChannelStateChanged,
    EventBus,
    InboundReceived,
    PairingCode,
    PairingQr,
    ReceiptReceived,
)
from app.services.ports import Store, Tx
from app.services.transport import EventKind, TransportEvent
from app.store.types import utcnow

log = logging.getLogger("app.channels.supervisor")
S = LinkState
InboundSink = Callable[[int, TransportEvent], Awaitable[None]]


class LinkStateMachine:
    """Base of the supervisor: everything that turns a channel's events into its state."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        settings: SupervisorSettings,
        sink: InboundSink | None,
        rng: random.Random,
    ) -> None:
        self._store, self._bus, self._settings = store, bus, settings
        # the sink stores the message and announces it; without one (tests, tools) the
        # supervisor only announces it
        self._sink: InboundSink = sink or self._announce_only
        self._rng = rng
        self._runtimes: dict[int, ChannelRuntime] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def _attempt_connect(self, rt: ChannelRuntime) -> None:
        raise NotImplementedError

    # ---- plumbing ---------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, tracked so :meth:`stop` can cancel it."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("channel task failed", exc_info=task.exception())

    async def _request(self, rt: ChannelRuntime, op: Op, **args: Any) -> Any:
        """Send ``op`` for ``rt`` to its worker; ``CHANNEL_NOT_RUNNING`` if it has none."""
        if rt.worker is None:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING, channel_id=rt.id)
        return await rt.worker.request(op, channel=rt.key, **args)

    def _notify(self, rt: ChannelRuntime, op: Op, **args: Any) -> None:
        """Send ``op`` without waiting for the answer (cosmetic or best-effort requests such as
        "typing…": a round trip to the worker would only delay what follows)."""
        if rt.worker is not None:
            with contextlib.suppress(ClinicDeskError):
                rt.worker.notify(op, channel=rt.key, **args)

    async def _quiet_request(self, rt: ChannelRuntime, op: Op, **args: Any) -> None:
        """A best-effort request (ack, cancel): a dead worker redelivers or forgets anyway."""
        with contextlib.suppress(ClinicDeskError):
            await self._request(rt, op, **args)

    def _schedule_connect(self, rt: ChannelRuntime, delay: float) -> None:
        """Try to connect ``rt`` after ``delay`` seconds (replaces any earlier timer)."""
        rt.cancel_timer()
        rt.timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._timer_fired, rt)

    def _timer_fired(self, rt: ChannelRuntime) -> None:
        rt.timer = None
        self._spawn(self._attempt_connect(rt))

    # ---- transitions ------------------------------------------------------------------------

    async def _transition(
        self, rt: ChannelRuntime, new: LinkState, reason: str, until: float | None = None
    ) -> None:
        """Move ``rt`` to ``new``: checked, stored with time and reason, then published.

        Raises ``CHANNEL_INVALID_TRANSITION`` (state unchanged) if ``ALLOWED`` forbids it.
        """
        old = rt.state
        check_transition(old, new)
        at = utcnow()

        def work(tx: Tx) -> int | None:
            tx.channels.set_state(rt.id, old.value, new.value, str(reason), at)
            return tx.channels.reconnects(rt.id) if new is S.CONNECTED else None

        count = await self._store.transaction(work)
        rt.state, rt.reason, rt.since, rt.until = new, str(reason), at, until
        rt.reconnects = rt.reconnects if count is None else count
        if old is S.PAIRING:
            rt.cancel_pairing_timer()
        self._publish_state(rt)

    def _publish_state(self, rt: ChannelRuntime) -> None:
        self._bus.publish(
            ChannelStateChanged(
                rt.channel.branch_id, rt.id, rt.state.value, rt.reason, rt.reconnects, rt.until
            )
        )

    async def _move(
        self, rt: ChannelRuntime, new: LinkState, reason: str, until: float | None = None
    ) -> None:
        """:meth:`_transition`, except that staying in the same state only updates the reason."""
        if new is rt.state:
            rt.reason, rt.until = str(reason), until
            return
        await self._transition(rt, new, reason, until)

    # ---- the hosted channels' live state -----------------------------------------------------

    def status(self, channel_id: int) -> ChannelStatus:
        """The live status of one channel; ``NOT_FOUND`` if the supervisor does not host it."""
        return self._runtime(channel_id).status()

    def statuses(self) -> list[ChannelStatus]:
        return [rt.status() for rt in self._runtimes.values()]

    def set_send_limits(self, channel_id: int, limits: Mapping[str, object]) -> None:
        """Pace the channel by ``limits`` from its next send on (no restart needed)."""
        rt = self._runtimes.get(channel_id)
        if rt is not None:
            rt.pacer.limits = limits_from_config(limits)

    def set_warning(self, channel_id: int, warning: str | None, since: datetime | None) -> None:
        """Show (or clear, with None) a warning next to the channel's state (the deaf watch)."""
        rt = self._runtimes.get(channel_id)
        if rt is not None:
            rt.warning, rt.warning_since = warning, since

    def _runtime(self, channel_id: int) -> ChannelRuntime:
        rt = self._runtimes.get(channel_id)
        if rt is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="channel", id=channel_id)
        return rt

    # ---- the consumer -------------------------------------------------------------------------

    async def _consume(self, rt: ChannelRuntime) -> None:
        """Handle the channel's events one at a time, in arrival order, until cancelled."""
        while True:
            event = await rt.inbox.get()
            rt.took_one()
            try:
                await self._handle(rt, event)
            except Exception:  # one bad event must not stop the channel's consumer
                log.exception("channel event failed", extra={"channel_id": rt.id})

    async def _handle(self, rt: ChannelRuntime, event: TransportEvent) -> None:
        if event.kind is EventKind.STATE:
            async with rt.lock:
                await self._on_state(rt, event)
            rt.settled.set()
        elif event.kind is EventKind.INBOUND:
            await self._on_inbound(rt, event)
        elif event.kind is EventKind.RECEIPT:
            self._on_receipt(rt, event)
        elif event.kind in (EventKind.QR, EventKind.PAIR_CODE):
            self._on_pairing_event(rt, event)

    async def _on_state(self, rt: ChannelRuntime, event: TransportEvent) -> None:
        """Apply a reported reason: its state via ``outcome_of``, then its policy."""
        reason = event.reason
        if reason is None or self._ignored(rt, reason):
            return
        outcome = outcome_of(reason)
        if outcome.policy is Policy.RECONNECT:
            await self._on_failure(rt, reason, outcome.state, event.detail)
            return
        try:
            await self._move(rt, outcome.state, reason, event.until)
        except ClinicDeskError as exc:
            log.warning("report %s ignored in %s", reason, rt.state, extra={"code": exc.code})
            return
        self._apply_policy(rt, reason, outcome.policy, event.until)

    def _ignored(self, rt: ChannelRuntime, reason: Reason) -> bool:
        """Reports that change nothing: engine stopping, channel held, or pairing under way."""
        if self._stopping or rt.hold or dropped_while(rt.state, reason):
            log.debug("channel %s: %s ignored in %s", rt.id, reason, rt.state)
            return True
        return False

    def _apply_policy(
        self, rt: ChannelRuntime, reason: Reason, policy: Policy, until: float | None
    ) -> None:
        if reason is Reason.CONNECTED:
            self._recovered(rt)
        elif reason is Reason.PAIRED:
            # Transports link by themselves after pairing; connect if one did not in time.
            self._schedule_connect(rt, self._settings.connect_timeout)
        elif policy in (Policy.REPAIR, Policy.STOP):
            self._wait_for_person(rt, reason, policy)
        elif policy is Policy.SUSPEND:
            self._suspend_until(rt, until)

    def _wait_for_person(self, rt: ChannelRuntime, reason: Reason, policy: Policy) -> None:
        rt.hold = True
        rt.cancel_timer()
        level = logging.WARNING if policy is Policy.STOP else logging.INFO
        log.log(level, "channel %s waits for a person: %s", rt.id, reason, extra=_ids(rt))
        rt.failure_logged = False

    def _suspend_until(self, rt: ChannelRuntime, until: float | None) -> None:
        """A temporary ban: stay SUSPENDED, then reconnect once it expires (if it says when)."""
        rt.hold = True
        rt.cancel_timer()
        log.warning("channel %s temporarily banned until %s", rt.id, until, extra=_ids(rt))
        if until is not None:
            delay = until - time.time()
            rt.timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._ban_over, rt)

    def _ban_over(self, rt: ChannelRuntime) -> None:
        rt.timer = None
        if rt.state is S.SUSPENDED and rt.reason == Reason.TEMP_BANNED:
            rt.hold = False
            self._spawn(self._attempt_connect(rt))

    async def _on_failure(
        self, rt: ChannelRuntime, reason: Reason, target: LinkState, detail: str | None
    ) -> None:
        """A link failure: back off and retry, or open the circuit after too many in a row."""
        opened = rt.breaker.record_failure(asyncio.get_running_loop().time())
        self._log_failure(rt, reason, detail)
        if rt.breaker.is_open:
            if opened:
                log.warning("channel %s: circuit open after %d failures", rt.id,
                            rt.breaker.failures, extra=_ids(rt))  # fmt: skip
            await self._move(rt, S.ERROR, Reason.CIRCUIT_OPEN)
            self._schedule_connect(rt, self._settings.breaker_probe_after)
            return
        await self._move(rt, target, reason)
        delay = self._settings.backoff.delay(rt.attempt, self._rng.random())
        rt.attempt += 1
        self._schedule_connect(rt, delay)

    def _log_failure(self, rt: ChannelRuntime, reason: Reason, detail: str | None) -> None:
        """Warn once when a channel's link starts failing; retries after that are debug."""
        if rt.failure_logged:
            log.debug("channel %s retry failed: %s (%s)", rt.id, reason, detail)
            return
        rt.failure_logged = True
        log.warning("channel %s link down: %s (%s)", rt.id, reason, detail, extra=_ids(rt))

    def _recovered(self, rt: ChannelRuntime) -> None:
        if rt.failure_logged:
            log.info("channel %s connected again after %d retries", rt.id, rt.attempt,
                     extra=_ids(rt))  # fmt: skip
        rt.failure_logged = False
        rt.attempt = 0
        rt.breaker.record_success()
        rt.cancel_timer()

    async def _stop_channel(self, rt: ChannelRuntime, code: ErrorCode) -> None:
        """The channel cannot run here at all (unsupported kind): ERROR, no retry loop."""
        async with rt.lock:
            rt.hold = True
            rt.cancel_timer()
            with contextlib.suppress(ClinicDeskError):
                await self._move(rt, S.ERROR, code.value)
        log.warning("channel %s cannot run: %s", rt.id, code.value, extra=_ids(rt))

    # ---- pairing ------------------------------------------------------------------------------

    def _arm_pairing_timeout(self, rt: ChannelRuntime) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._settings.pairing_timeout
        rt.cancel_pairing_timer()
        rt.pairing_ends = loop.time() + timeout
        rt.pairing_timer = loop.call_later(timeout, self._pairing_expired, rt)

    def _pairing_expired(self, rt: ChannelRuntime) -> None:
        rt.pairing_timer = None
        self._spawn(self._end_pairing(rt, Reason.PAIRING_TIMEOUT))

    async def _end_pairing(self, rt: ChannelRuntime, reason: Reason) -> None:
        """Close the pairing window: QR_REQUIRED(reason) first, so later QR codes are dropped."""
        async with rt.lock:
            if rt.state is not S.PAIRING:
                return
            rt.hold = True
            await self._transition(rt, S.QR_REQUIRED, reason)
        await self._quiet_request(rt, Op.CANCEL_PAIRING)

    def _on_pairing_event(self, rt: ChannelRuntime, event: TransportEvent) -> None:
        """Publish a QR or pairing code while a person pairs; otherwise drop it and say stop."""
        if rt.state is not S.PAIRING:
            log.warning("channel %s produced a QR while nobody pairs; dropped", rt.id,
                        extra=_ids(rt))  # fmt: skip
            self._spawn(self._quiet_request(rt, Op.CANCEL_PAIRING))
            return
        branch = rt.channel.branch_id
        if event.kind is EventKind.QR and event.qr:
            left = (rt.pairing_ends or 0.0) - asyncio.get_running_loop().time()
            self._bus.publish(PairingQr(branch, rt.id, event.qr, max(0.0, left)))
        elif event.code:
            self._bus.publish(PairingCode(branch, rt.id, event.code))

    # ---- messages -----------------------------------------------------------------------------

    async def _on_inbound(self, rt: ChannelRuntime, event: TransportEvent) -> None:
        """Hand a message to the sink and acknowledge it only after the sink returned (the
        sink commits, then announces): a crash before that means redelivery, not loss."""
        try:
            await self._sink(rt.id, event)
        except Exception:  # not acknowledged: the transport delivers it again
            log.exception("inbound message not stored", extra=_ids(rt))
            return
        self._acknowledge(rt, event)

    async def _announce_only(self, channel_id: int, event: TransportEvent) -> None:
        """The default sink: announce the message without storing it."""
        rt = self._runtimes[channel_id]
        wa_id = event.message.wa_id if event.message else (event.wa_id or "")
        self._bus.publish(InboundReceived(rt.channel.branch_id, rt.id, wa_id))

    def _on_receipt(self, rt: ChannelRuntime, event: TransportEvent) -> None:
        if event.wa_id and event.receipt:
            receipt = ReceiptReceived(rt.channel.branch_id, rt.id, event.wa_id, event.receipt)
            self._bus.publish(receipt)
        self._acknowledge(rt, event)

    def _acknowledge(self, rt: ChannelRuntime, event: TransportEvent) -> None:
        """Best effort: a lost ack only means the network delivers the event again, and the
        store ignores the repeat."""
        if event.ack_ref and rt.worker is not None:
            with contextlib.suppress(ClinicDeskError):
                rt.worker.notify(Op.ACK, channel=rt.key, ref=event.ack_ref)


def _ids(rt: ChannelRuntime) -> dict[str, object]:
    return {"channel_id": rt.id, "branch_id": rt.channel.branch_id, "code": rt.reason}
