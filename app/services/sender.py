"""The outbox sender: drains each channel's queued rows, in order, through the runtime.

One lane (an asyncio task) per channel sends the channel's oldest queued row, one at a time,
through ``runtime_send`` (the supervisor's ``send_text``: pacing and "typing…" first), or, for a
row with an attachment, through ``media.send`` after reading the blob from the encrypted media
store (off the loop). A row is
claimed (``sending``, committed) **before** the transport is called, so a row still ``sending``
when the engine starts again has an unknown outcome: :meth:`OutboxSender.start` moves every such
row to NEEDS_REVIEW and nothing ever resends it by itself (at most once for patients).

Receipts arrive on the bus; they are applied in batches, forward only. A receipt can arrive
before the send's result is stored; it is held and applied with the result.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.outbox import Action, Decision, RetryPolicy, SendFailure, decide
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.events import (
    ChannelStateChanged,
    Event,
    EventBus,
    InboundReceived,
    ReceiptReceived,
    Subscription,
)
from app.services.events_outbound import MessageAckChanged
from app.services.outbound import changed_event
from app.services.ports import Clock, Store, Tx
from app.services.ports_media import MediaBlobs
from app.services.ports_outbox import AckChange, OutboxItem
from app.services.transport import OutboundMedia, SendFailedError, SendFailureKind

log = logging.getLogger(__name__)

RuntimeSend = Callable[[int, str, str, str], Awaitable[str]]
RuntimeSendMedia = Callable[[int, str, OutboundMedia, str], Awaitable[str]]
SENDER_ACTOR = Actor(user_id=None, username="engine.sender")
RECEIPT_BATCH = 200


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """Tuning; tests shorten the waits."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    idle_poll: float = 30.0  # look at an idle channel this often even without a wake-up
    link_poll: float = 30.0  # while the link is down, try again this often without an event
    stop_grace: float = 5.0  # how long stop() lets a send in flight finish before cancelling
    early_receipts: int = 1000  # receipts held for sends whose result is not stored yet


@dataclass(frozen=True, slots=True)
class MediaSending:
    """What sending attachments needs: the blob store and the runtime's ``send_media``."""

    blobs: MediaBlobs
    send: RuntimeSendMedia


@dataclass(eq=False)
class _Lane:
    channel_id: int
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    link_down: bool = False  # the last send found the link down: wait for CONNECTED
    link_retry_at: float = 0.0  # loop time of the next try without a CONNECTED event
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class _Claim:
    item: OutboxItem | None = None
    wait: float | None = None  # nothing claimed: seconds until the head is due (None: empty)


class OutboxSender:
    """Sends queued outbox rows per channel (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        runtime_send: RuntimeSend,
        bus: EventBus,
        rng: random.Random,
        *,
        settings: SenderSettings | None = None,
        auditor: Auditor | None = None,
        media: MediaSending | None = None,
    ) -> None:
        self._store, self._clock, self._send, self._bus = store, clock, runtime_send, bus
        self._media = media
        self._rng, self._settings = rng, settings or SenderSettings()
        self._auditor = auditor or Auditor(clock)
        self._lanes: dict[int, _Lane] = {}
        self._receipts: asyncio.Queue[ReceiptReceived] = asyncio.Queue()
        self._early: OrderedDict[tuple[int, str], list[str]] = OrderedDict()
        self._ack_lock = asyncio.Lock()  # orders receipt batches against stored results
        self._sub: Subscription | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False

    # ---- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover rows left ``sending`` (→ NEEDS_REVIEW, audited), then drain every channel."""
        for item in await self._store.transaction(self._recover):
            self._bus.publish(changed_event(item))
        self._sub = self._bus.subscribe(self._on_event, None)
        self._consumer = asyncio.create_task(self._consume_receipts(), name="outbox-receipts")
        self._started = True
        channel_ids = await self._store.read(lambda tx: [c.id for c in tx.channels.list()])
        for channel_id in channel_ids:
            self.wake(channel_id)

    def _recover(self, tx: Tx) -> list[OutboxItem]:
        items = tx.outbox.recover(self._clock.now())
        for item in items:
            self._audit_outcome(tx, item, "outbox.needs_review")
        if items:
            log.warning(
                "%d sends of unknown outcome held for review", len(items),
                extra={"code": "outbox.recovered"},
            )  # fmt: skip
        return items

    async def stop(self) -> None:
        """Stop taking rows; let sends in flight finish for ``stop_grace`` s, then cancel.

        A send cancelled mid-flight stays ``sending`` and is reviewed at the next start.
        """
        self._stopping = True
        if self._sub is not None:
            self._bus.unsubscribe(self._sub)
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for lane in self._lanes.values():
            lane.wakeup.set()
        if tasks:
            await asyncio.wait(tasks, timeout=self._settings.stop_grace)
        await _cancel(*tasks, self._consumer)
        await self._flush_receipts()

    def wake(self, channel_id: int) -> None:
        """A row was queued (or the link came back) on ``channel_id``: look at it now.

        Before :meth:`start` this does nothing: no row may be claimed before recovery ran, and
        ``start`` looks at every channel anyway.
        """
        if self._stopping or not self._started:
            return
        lane = self._lanes.get(channel_id)
        if lane is None:
            lane = self._lanes[channel_id] = _Lane(channel_id)
            lane.task = asyncio.create_task(self._drain(lane), name=f"outbox-{channel_id}")
        lane.wakeup.set()

    # ---- one channel's lane ---------------------------------------------------------------

    async def _drain(self, lane: _Lane) -> None:
        """Send the channel's rows one by one until stopped; a failure never ends the lane."""
        while not self._stopping:
            lane.wakeup.clear()
            try:
                wait = await self._step(lane)
            except Exception:  # store trouble: the lane pauses, it must neither die nor spin
                log.exception("outbox lane paused", extra={"channel_id": lane.channel_id})
                wait = self._settings.link_poll
            if wait != 0.0 and not self._stopping:
                await _nap(lane.wakeup, self._settings.idle_poll if wait is None else wait)

    async def _step(self, lane: _Lane) -> float | None:
        """Send the head row if due; else how long to wait (None: until woken)."""
        if lane.link_down:  # a new row alone does not bring the link back
            left = lane.link_retry_at - asyncio.get_running_loop().time()
            if left > 0:
                return left
            lane.link_down = False
        claim = await self._store.transaction(lambda tx: self._claim(tx, lane.channel_id))
        if claim.item is None:
            return claim.wait
        self._bus.publish(changed_event(claim.item))
        await self._attempt(lane, claim.item)
        return self._settings.link_poll if lane.link_down else 0.0

    def _claim(self, tx: Tx, channel_id: int) -> _Claim:
        head = tx.outbox.head(channel_id)
        if head is None:
            return _Claim()
        now = self._clock.now()
        if head.next_attempt_at is not None and head.next_attempt_at > now:
            return _Claim(wait=(head.next_attempt_at - now).total_seconds())
        return _Claim(tx.outbox.claim(head.id, now), wait=0.0)

    async def _attempt(self, lane: _Lane, item: OutboxItem) -> None:
        """Call the runtime once for the claimed ``item`` and store what came of it."""
        try:
            wa_id = await self._dispatch(item)
        except SendFailedError as exc:
            failure = SendFailure(exc.kind.value, exc.code, exc.ambiguous, exc.retry_after)
        except ClinicDeskError as exc:
            failure = _failure_of(exc)
        except Exception:  # an unknown error after the call began: it may have been sent
            log.exception("send raised", extra={"code": "outbox.send_raised"})
            failure = SendFailure("unknown", "exception", ambiguous=True)
        else:
            await self._sent(item, wa_id)
            return
        await self._failed(lane, item, failure)

    async def _dispatch(self, item: OutboxItem) -> str:
        """One call to the runtime: ``send_text``, or ``send_media`` for an attachment."""
        if item.media_sha256 is None:
            return await self._send(item.channel_id, item.to_jid, item.text, item.idempotency_key)
        if self._media is None:  # nothing left: a person may retry once media is wired
            raise SendFailedError(SendFailureKind.PERMANENT, "media_not_available")
        media = await self._load(self._media.blobs, item)
        return await self._media.send(item.channel_id, item.to_jid, media, item.idempotency_key)

    @staticmethod
    async def _load(blobs: MediaBlobs, item: OutboxItem) -> OutboundMedia:
        """The row's attachment, read and base64-encoded off the loop. A missing or damaged
        blob fails the row before anything is sent (not ambiguous)."""
        sha = str(item.media_sha256)
        try:
            data_b64 = await asyncio.to_thread(lambda: base64.b64encode(blobs.get(sha)).decode())
        except ClinicDeskError as exc:
            code = "media_missing" if exc.code is ErrorCode.NOT_FOUND else "media_unreadable"
            raise SendFailedError(SendFailureKind.PERMANENT, code) from None
        mime = item.media_mime or "application/octet-stream"
        return OutboundMedia(data_b64, mime, item.media_name, item.text or None)

    async def _sent(self, item: OutboxItem, wa_id: str) -> None:
        async with self._ack_lock:
            held = self._early.pop((item.channel_id, wa_id), [])
            stored, changes = await self._store.transaction(
                lambda tx: _store_sent(tx, item, wa_id, held, self._clock)
            )
        self._bus.publish(changed_event(stored))
        self._publish_acks(changes)

    async def _failed(self, lane: _Lane, item: OutboxItem, failure: SendFailure) -> None:
        decision = decide(failure, item.attempts, self._rng.random(), self._settings.policy)
        extra = {"code": decision.error, "channel_id": item.channel_id}
        log.info("send of outbox row %d not completed: %s", item.id, decision.action, extra=extra)
        if decision.action is Action.WAIT_LINK:
            lane.link_down = True
            lane.link_retry_at = asyncio.get_running_loop().time() + self._settings.link_poll
        stored = await self._store.transaction(lambda tx: self._store_failure(tx, item, decision))
        self._bus.publish(changed_event(stored))

    def _store_failure(self, tx: Tx, item: OutboxItem, decision: Decision) -> OutboxItem:
        now, error = self._clock.now(), decision.error
        if decision.action is Action.RETRY:
            next_at = now + timedelta(seconds=decision.delay)
            return tx.outbox.mark_retry(item.id, error, next_at, now)
        if decision.action is Action.WAIT_LINK:
            return tx.outbox.release(item.id, error, now)
        if decision.action is Action.FAIL:
            stored = tx.outbox.mark_failed(item.id, error, now)
            self._audit_outcome(tx, stored, "outbox.failed")
            return stored
        stored = tx.outbox.mark_needs_review(item.id, error, now)
        self._audit_outcome(tx, stored, "outbox.needs_review")
        return stored

    def _audit_outcome(self, tx: Tx, item: OutboxItem, action: str) -> None:
        target = AuditTarget("outbox", item.id, item.branch_id)
        details = {"error": item.last_error, "attempts": item.attempts, "ticket_id": item.ticket_id}
        self._auditor.record(tx, SENDER_ACTOR, action, target, **details)

    # ---- bus: receipts and links ----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Bus handler (must be quick): queue receipts; wake a lane on inbound or link back."""
        if isinstance(event, ReceiptReceived):
            self._receipts.put_nowait(event)
        elif isinstance(event, InboundReceived):  # its commit may have queued a greeting/menu
            self.wake(event.channel_id)
        elif isinstance(event, ChannelStateChanged) and event.state == "CONNECTED":
            if (lane := self._lanes.get(event.channel_id)) is not None:
                lane.link_down = False
            self.wake(event.channel_id)

    async def _consume_receipts(self) -> None:
        while True:
            batch = [await self._receipts.get()]
            while not self._receipts.empty() and len(batch) < RECEIPT_BATCH:
                batch.append(self._receipts.get_nowait())
            try:
                await self._apply_receipts(batch)
            except Exception:  # lost receipts only delay ticks: the consumer must not die
                log.exception("receipts not stored", extra={"code": "outbox.receipts_lost"})

    async def _apply_receipts(self, batch: list[ReceiptReceived]) -> None:
        async with self._ack_lock:
            changes, unknown = await self._store.transaction(lambda tx: _apply_batch(tx, batch))
            for event in unknown:
                self._hold_early(event)
        self._publish_acks(changes)

    def _hold_early(self, event: ReceiptReceived) -> None:
        """Keep a receipt for a wa_id not stored yet (its send's result is on its way)."""
        key = (event.channel_id, event.wa_id)
        self._early.setdefault(key, []).append(str(event.receipt))
        self._early.move_to_end(key)
        while len(self._early) > self._settings.early_receipts:
            self._early.popitem(last=False)  # receipts of messages this engine never stored

    async def _flush_receipts(self) -> None:
        batch: list[ReceiptReceived] = []
        while not self._receipts.empty():
            batch.append(self._receipts.get_nowait())
        if batch:
            with contextlib.suppress(ClinicDeskError):
                await self._apply_receipts(batch)

    def _publish_acks(self, changes: list[AckChange]) -> None:
        for c in changes:
            self._bus.publish(
                MessageAckChanged(c.branch_id, c.channel_id, c.message_id, c.ticket_id, c.ack)
            )


def _store_sent(
    tx: Tx, item: OutboxItem, wa_id: str, held: list[str], clock: Clock
) -> tuple[OutboxItem, list[AckChange]]:
    """Record the WhatsApp id and ack ``sent``, then any receipts that arrived before it."""
    stored = tx.outbox.mark_sent(item.id, wa_id, clock.now())
    changes = [AckChange(item.message_id, item.channel_id, item.branch_id, item.ticket_id, "sent")]
    for receipt in held:
        if (change := tx.outbox.apply_receipt(item.channel_id, wa_id, receipt)) is not None:
            changes.append(change)
    return stored, changes


def _apply_batch(
    tx: Tx, batch: list[ReceiptReceived]
) -> tuple[list[AckChange], list[ReceiptReceived]]:
    """Apply receipts forward only; returns the changes and the receipts of unknown wa_ids."""
    changes: list[AckChange] = []
    unknown: list[ReceiptReceived] = []
    for event in batch:
        change = tx.outbox.apply_receipt(event.channel_id, event.wa_id, str(event.receipt))
        if change is not None:
            changes.append(change)
        elif not tx.outbox.knows_wa_id(event.channel_id, event.wa_id):
            unknown.append(event)
    return changes, unknown


def _failure_of(exc: ClinicDeskError) -> SendFailure:
    """A core error from the runtime as a send failure.

    An unknown channel failed before anything was sent: wait for it like a down link. Any
    other error (a worker that died or timed out mid-request) may come after the send left.
    """
    if exc.code is ErrorCode.NOT_FOUND:
        return SendFailure("not_connected", "not_hosted")
    return SendFailure("transient", exc.code.value, ambiguous=True)


async def _nap(wakeup: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wakeup.wait(), max(0.0, seconds))


async def _cancel(*tasks: asyncio.Task[None] | None) -> None:
    live = [t for t in tasks if t is not None and not t.done()]
    for task in live:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)
