"""neonize events → one ordered queue → the engine's transport events (base of the transport).

neonize runs each handler as its own task on a module-global loop and drops their exceptions
(WHATSAPP_ENGINES.md §1.2-6/7). So every handler registered here only enqueues, thread-safe,
tagged with its client incarnation; one consumer task takes the items in arrival order, drops
those of stopped incarnations, and maps each to the engine's vocabulary. A step that raises is
logged by code (never text, names or numbers) and the consumer carries on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, fields
from typing import Any

from app.channels.transports import wa_mapping as m
from app.channels.transports.wa_neonize import NeonizeApi
from app.domain.channels import Reason
from app.services.transport import EventKind, EventSink, TransportEvent

log = logging.getLogger(__name__)

Item = tuple[int, str, Any]  # (incarnation, event name, payload)
#: 16 MiB protocol lines carry base64 (4/3): media above this is reported, not attached.
MAX_MEDIA_BYTES = 11 * 1024 * 1024


@dataclass(frozen=True)
class NeonizeSettings:
    """Timings of the transport; WHATSAPP_ENGINES.md defaults, overridable per channel config."""

    qr_window: float = 170.0  # whatsmeow: first QR 60 s + 5 × 20 s, then it gives up silently
    code_wait: float = 30.0  # for the first QR before a pairing code may be requested
    recover_after: float = 150.0  # watchdog: no Connected this long after a drop → re-create
    keepalive_failures: int = 1  # KeepAliveTimeout with this ErrorCount arms the watchdog
    restart_grace: float = 20.0  # a connect() this soon after a (re)start waits for its outcome
    seal_every: float = 60.0  # re-seal the device store while running (a crash loses little)
    stop_timeout: float = 4.0  # per step; the worker gives a whole close 10 s
    history_days: int = 1  # initial history sync asked of the phone (days / MB)
    history_mb: int = 5
    sync_progress: bool = False  # subscribe to HistorySync for progress events (big payloads)

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> NeonizeSettings:
        """Defaults, with any field present in ``config`` (numbers/bools only) taking over."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = config.get(f.name)
            if isinstance(raw, bool) and f.type in ("bool", bool):
                values[f.name] = raw
            elif isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
                values[f.name] = type(getattr(cls, f.name))(raw)
        return cls(**values)


@dataclass
class Life:
    """One client incarnation: its number, neonize client, uuid, and link facts."""

    n: int
    client: Any
    uuid: str
    started: float
    task: asyncio.Task[None] | None = None
    connected: bool = False
    stopping: bool = False

    def age(self) -> float:
        return time.monotonic() - self.started


class EventRouter:
    """Queue, consumer, event mapping and the link watchdog (see the module docstring)."""

    def __init__(
        self, channel: str, emit: EventSink, settings: NeonizeSettings, api: NeonizeApi
    ) -> None:
        self.channel = channel
        self._sink, self._s, self._api = emit, settings, api
        self._life: Life | None = None
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.handler_errors = 0

    # ---- intake (any thread) --------------------------------------------------------------

    def _enqueue(self, item: Item) -> None:
        """Queue ``item`` from the loop thread or from a Go callback thread."""
        loop = self._loop
        if loop is None:
            return
        try:
            if threading.get_ident() == self._loop_thread:
                self._queue.put_nowait(item)
            else:
                loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # loop closed: the worker is exiting
            pass

    def _handler(self, n: int, name: str) -> Callable[[Any, Any], Coroutine[Any, Any, None]]:
        """A neonize handler whose first and only statement enqueues (keeps arrival order)."""

        async def handle(_client: Any, payload: Any) -> None:
            try:
                self._enqueue((n, name, payload))
            except Exception:  # neonize would drop it without a trace
                log.exception("enqueue failed", extra={"code": f"wa.enqueue.{name}"})

        return handle

    def _register(self, life: Life) -> None:
        ev, on = self._api.events, life.client.event
        table = {
            "connected": ev.ConnectedEv, "disconnected": ev.DisconnectedEv,
            "logged_out": ev.LoggedOutEv, "replaced": ev.StreamReplacedEv,
            "temp_ban": ev.TemporaryBanEv, "connect_failure": ev.ConnectFailureEv,
            "outdated": ev.ClientOutdatedEv, "stream_error": ev.StreamErrorEv,
            "pair_status": ev.PairStatusEv, "message": ev.MessageEv, "receipt": ev.ReceiptEv,
            "keepalive_timeout": ev.KeepAliveTimeoutEv,
            "keepalive_restored": ev.KeepAliveRestoredEv,
        }  # fmt: skip
        if self._s.sync_progress:
            table["history_sync"] = ev.HistorySyncEv
        for name, cls in table.items():
            on(cls)(self._handler(life.n, name))
        on.qr(self._handler(life.n, "qr"))

    # ---- the consumer (loop thread) -----------------------------------------------------------

    def _ensure_consumer(self) -> None:
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        while True:
            n, name, payload = await self._queue.get()
            life = self._life
            if life is None or life.n != n or life.stopping:
                continue  # an old incarnation's leftovers
            try:
                await self._route(life, name, payload)
            except Exception as exc:
                self.handler_errors += 1
                log.warning("event step failed", extra={"code": f"wa.{name}.{type(exc).__name__}"})

    async def _route(self, life: Life, name: str, payload: Any) -> None:
        if name == "message":
            await self._on_message(life, payload)
        elif name == "receipt":
            self._on_receipt(payload)
        elif name == "qr":
            self._on_qr(life, payload)
        elif name == "pair_status":
            life.started = time.monotonic()  # whatsmeow restarts the link (515) by itself now
            self._on_paired(payload.Status == 2)  # PStatus.SUCCESS
        elif name == "history_sync":
            self._emit_event(EventKind.SYNC, progress=float(payload.Data.progress or 0))
        else:
            self._on_link(life, name, payload)

    # ---- link events ----------------------------------------------------------------------

    def _on_link(self, life: Life, name: str, ev: Any) -> None:
        if name == "connected":
            life.connected = True
            self._cancel_watchdog()
            self._state(m.StateFact(Reason.CONNECTED, "connected"))
            self._spawn_guarded(self.seal_now())
        elif name == "disconnected":
            life.connected, life.started = False, time.monotonic()  # whatsmeow retries now
            self._state(m.StateFact(Reason.CONNECTION_LOST, "disconnected"))
            self._arm_watchdog(life.n)
        elif name == "keepalive_timeout":
            if ev.ErrorCount >= self._s.keepalive_failures:
                self._arm_watchdog(life.n)
        elif name == "keepalive_restored":
            self._cancel_watchdog()
        elif name == "stream_error":
            log.info("stream error", extra={"code": f"wa.stream_error.{ev.Code[:8]}"})
        elif name == "ended":
            self._on_ended(life, ev)
        else:
            self._on_stop_event(name, ev)

    def _on_stop_event(self, name: str, ev: Any) -> None:
        """Outcomes after which whatsmeow does not reconnect: report, stop the client."""
        if name == "temp_ban":
            fact = m.temp_ban_fact(ev.Code, ev.Expire, time.time())
        elif name == "replaced":
            fact = m.StateFact(Reason.REPLACED, "440")
        elif name == "outdated":
            fact = m.StateFact(Reason.CLIENT_OUTDATED, "405")
        else:  # logged_out, connect_failure
            fact = m.failure_fact(ev.Reason)
        self._blocked_by(fact)
        self._state(fact)
        gone = fact.reason in m.SESSION_GONE
        self._spawn_guarded(self._after_session_gone() if gone else self._after_stop_reason())

    def _on_ended(self, life: Life, task: asyncio.Task[None]) -> None:
        """neonize's connect task ended unasked: the transport is dead (§1.2-8)."""
        failed = task.cancelled() or task.exception() is not None
        detail = "engine_error" if failed else "engine_returned"
        reason = Reason.CONNECTION_LOST if life.connected else Reason.CONNECT_FAILED
        if self._pairing_active():
            reason = Reason.PAIRING_FAILED
        life.connected = False
        self._state(m.StateFact(reason, detail))
        self._spawn_guarded(self._after_link_dead(life.n))

    def _arm_watchdog(self, n: int) -> None:
        if self._watchdog is None and self._loop is not None:
            self._watchdog = self._loop.call_later(self._s.recover_after, self._bark, n)

    def _bark(self, n: int) -> None:
        self._watchdog = None
        life = self._life
        if life is None or life.n != n:
            return
        life.connected = False  # keep-alives failing: the link is not usable any more
        self._state(m.StateFact(Reason.CONNECTION_LOST, "watchdog"))
        self._spawn_guarded(self._watchdog_recreate(n))

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    # ---- messages -------------------------------------------------------------------------

    async def _on_message(self, life: Life, ev: Any) -> None:
        source = ev.Info.MessageSource
        if source.IsFromMe or not m.is_person_chat(source):
            return  # own messages from the phone, groups, status, newsletters
        kind = m.kind_of(ev.Message)
        if kind is None:
            log.info("inbound kind not stored", extra={"code": "wa.inbound.skipped"})
            return
        message = m.normalise(ev, kind)
        if kind == "reaction" and not message.text:
            log.info("reaction removed", extra={"code": "wa.inbound.skipped"})
            return  # taking a reaction back is not a message
        if kind in m.MEDIA_KINDS:
            message = await self._with_media(life, ev, kind, message)
        self._emit_event(EventKind.INBOUND, message=message, wa_id=message.wa_id)

    async def _with_media(self, life: Life, ev: Any, kind: str, message: Any) -> Any:
        """``message`` with its media downloaded now (WhatsApp's media URLs expire)."""
        extra = dict(message.extra)
        declared = m.media_part(ev.Message, kind).fileLength
        if declared > MAX_MEDIA_BYTES:
            extra["media_error"] = "too_large"
            return _replace(message, extra=extra)
        try:
            data: bytes = await life.client.download_any(ev.Message)
        except Exception as exc:
            log.warning("media download failed", extra={"code": type(exc).__name__})
            extra["media_error"] = "download_failed"
            return _replace(message, extra=extra)
        if len(data) > MAX_MEDIA_BYTES:
            extra["media_error"] = "too_large"
            return _replace(message, extra=extra)
        return _replace(message, media_b64=base64.b64encode(data).decode("ascii"))

    def _on_receipt(self, ev: Any) -> None:
        receipt = m.receipt_of(ev.Type)
        if receipt is None:
            return
        for wa_id in ev.MessageIDs:
            self._emit_event(EventKind.RECEIPT, wa_id=wa_id, receipt=receipt)

    # ---- output ---------------------------------------------------------------------------

    def _state(self, fact: m.StateFact) -> None:
        self._emit_event(EventKind.STATE, reason=fact.reason, detail=fact.detail, until=fact.until)

    def _emit_event(self, kind: EventKind, **values: Any) -> None:
        try:
            self._sink(TransportEvent(kind=kind, channel=self.channel, **values))
        except Exception:
            log.exception("event sink failed", extra={"code": "wa.emit"})

    def _spawn_guarded(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background; failures are logged by code, never lost."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("background step failed", extra={"code": type(exc).__name__})

    # ---- provided by the transport ----------------------------------------------------------

    def _pairing_active(self) -> bool:
        return getattr(self, "_pairing", None) is not None

    def _on_qr(self, life: Life, data: bytes) -> None:
        raise NotImplementedError

    def _on_paired(self, ok: bool) -> None:
        raise NotImplementedError

    def _blocked_by(self, fact: m.StateFact) -> None:
        raise NotImplementedError

    async def seal_now(self) -> None:
        raise NotImplementedError

    async def _after_session_gone(self) -> None:
        raise NotImplementedError

    async def _after_stop_reason(self) -> None:
        raise NotImplementedError

    async def _after_link_dead(self, n: int) -> None:
        raise NotImplementedError

    async def _watchdog_recreate(self, n: int) -> None:
        raise NotImplementedError


def _replace(message: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(message, **changes)
