"""The ``whatsapp-web`` transport: one neonize (whatsmeow) client in this worker process.

The kind is single-channel per worker (app.channels.runtime.SINGLE_CHANNEL_KINDS): neonize is
unsafe with several clients in one process (WHATSAPP_ENGINES.md §1.2). Traps handled here:

- every neonize handler only enqueues (thread-safe) and one consumer forwards events in order;
  a failing step is logged by code and the consumer goes on (neonize would swallow it);
- each incarnation gets a fresh client uuid and its GC finalizer is detached after an explicit
  stop, so collecting an old client can never stop a re-created one;
- the module-global event loop of neonize is pointed at this worker's loop before connecting;
- any end of neonize's connect task is "transport dead": stop, report, re-create on connect;
- QR codes only after :meth:`pair_qr`; a watchdog ends pairing after whatsmeow's QR window
  (neonize drops the QR-timeout status); pairing succeeds only when ``Connected`` follows;
- a watchdog after ``Disconnected``/``KeepAliveTimeout`` stops and re-creates the client when
  whatsmeow's own reconnect does not bring ``Connected`` back in time.

The device store is sealed at rest (app.channels.transports.wa_store); the key arrives in the
``open`` config (``device_store_key``, hex) from the engine over stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.channels.transports import wa_mapping as m
from app.channels.transports.wa_handlers import EventRouter, Life, NeonizeSettings
from app.channels.transports.wa_neonize import (
    NeonizeApi,
    load_neonize,
)
from app.channels.transports.wa_send import Sending
from app.channels.transports.wa_store import DeviceStore
from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.transport import (
    EventKind,
    EventSink,
)

log = logging.getLogger(__name__)

_PHONE = re.compile(r"^\+?(\d{8,15})$")
_BAD_PATH_CHARS = frozenset("?#%")  # the path is spliced into a SQLite URI by goneonize


@dataclass
class _Pairing:
    mode: str  # "qr" | "code"
    first_qr: asyncio.Future[None]
    window: asyncio.TimerHandle | None = None


class NeonizeTransport(Sending, EventRouter):
    """:class:`app.services.transport.Transport` on neonize; see the module docstring."""

    def __init__(
        self,
        channel: str,
        *,
        private_dir: str | Path,
        emit: EventSink,
        key: bytes | None,
        settings: NeonizeSettings,
        api: NeonizeApi,
    ) -> None:
        super().__init__(channel, emit, settings, api)
        self._store = DeviceStore(private_dir, channel, key)
        self._store_open = False
        self._lock = asyncio.Lock()
        self._counter = itertools.count(1)
        self._pairing: _Pairing | None = None
        self._sealer: asyncio.Task[None] | None = None
        self._blocked: m.StateFact | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    async def _open_store(self) -> None:
        if not self._store_open:
            if _BAD_PATH_CHARS & set(str(self._store.db_path)):
                raise ClinicDeskError(ErrorCode.DEVICE_STORE_UNREADABLE, reason="path_chars")
            await asyncio.to_thread(self._store.open)
            self._store_open = True

    async def _start(self) -> Life:
        """Create and connect a new client incarnation (fresh uuid) on the live store."""
        self._bind_loop()
        n = next(self._counter)
        uuid = f"{self.channel}#{n}-{secrets.token_hex(4)}"
        props = self._api.history_limited_props(self._s.history_days, self._s.history_mb)
        client = self._api.new_client(str(self._store.db_path), uuid, props)
        life = Life(n, client, uuid, time.monotonic())
        self._register(life)
        self._life = life
        task: asyncio.Task[None] = await client.connect()
        life.task = task
        task.add_done_callback(self._on_task_done(n))
        self._ensure_sealer()
        log.info("whatsapp client started", extra={"code": "wa.start", "incarnation": n})
        return life

    def _on_task_done(self, n: int) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._enqueue((n, "ended", task))

        return done

    def _bind_loop(self) -> None:
        """neonize dispatches every client's events to one module-global, first-wins loop."""
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        setattr(self._api.events, "event_global_loop", loop)  # noqa: B010 - untyped module
        self._ensure_consumer()

    async def _stop_life(self) -> None:
        """Stop the current client: Go ``Stop(uuid)``, then detach its GC finalizer."""
        life, self._life = self._life, None
        self._cancel_watchdog()
        if life is None:
            return
        life.stopping = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(life.client.stop(), self._s.stop_timeout)
        life.client._stop_finalizer.detach()  # a later GC must not Stop() anything
        if life.task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(life.task), self._s.stop_timeout)

    async def _recreate(self, why: str) -> None:
        """Stop the client and start a fresh incarnation on the same device store."""
        log.info("re-creating the whatsapp client", extra={"code": f"wa.recreate.{why}"})
        await self._stop_life()
        await self._start()

    async def connect(self) -> None:
        """Connect with the stored device; ``not_paired`` (no QR) when there is none."""
        async with self._lock:
            life = self._life
            if life is None:
                await self._open_store()
                if not await asyncio.to_thread(self._store.has_credentials):
                    self._state(m.StateFact(Reason.NOT_PAIRED, "no_device"))
                    return
                self._blocked = None
                await self._start()
            elif life.connected:
                self._state(m.StateFact(Reason.CONNECTED, "already_open"))
            elif self._pairing is None and life.age() >= self._s.restart_grace:
                await self._recreate("connect")
            # else: this incarnation is young (or whatsmeow is retrying): its outcome follows

    async def stop(self) -> None:
        """Disconnect, seal the device store and wipe its plaintext (credentials kept)."""
        async with self._lock:
            await self._end_pairing_quietly()
            await self._stop_life()
            await self._stop_tasks()
            if self._store_open:
                await asyncio.to_thread(self._store.close)
                self._store_open = False

    async def logout(self) -> None:
        """Unlink the device (best effort when online), then wipe plaintext and sealed copy."""
        async with self._lock:
            life = self._life
            if life is not None and life.connected:
                try:
                    await asyncio.wait_for(life.client.logout(), self._s.stop_timeout)
                except Exception as exc:  # offline: the phone still lists it until removed there
                    log.warning("whatsapp logout failed", extra={"code": type(exc).__name__})
            await self._end_pairing_quietly()
            await self._stop_life()
            await asyncio.to_thread(self._store.destroy)
            self._store_open = False
            self._blocked = None

    async def _stop_tasks(self) -> None:
        for task in (self._sealer, self._consumer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._sealer = self._consumer = None

    # ---- sealing --------------------------------------------------------------------------

    def _ensure_sealer(self) -> None:
        if self._sealer is None or self._sealer.done():
            self._sealer = asyncio.get_running_loop().create_task(self._seal_periodically())

    async def _seal_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._s.seal_every)
            await self.seal_now()

    async def seal_now(self) -> None:
        """Seal the live store now (after pairing, on connect, periodically)."""
        if not self._store_open:
            return
        try:
            await asyncio.to_thread(self._store.seal)
        except Exception as exc:  # the next round tries again
            log.warning("device store seal failed", extra={"code": type(exc).__name__})

    # ---- pairing ----------------------------------------------------------------------------

    async def _begin_pairing(self, mode: str) -> _Pairing:
        if self._life is not None and self._life.connected:
            raise ClinicDeskError(ErrorCode.CHANNEL_ALREADY_CONNECTED, channel=self.channel)
        await self._end_pairing_quietly()
        await self._stop_life()
        await self._open_store()
        # a new pairing replaces an old device; its sealed copy stays until the new one seals
        await asyncio.to_thread(self._store.fresh_live)
        pairing = _Pairing(mode, asyncio.get_running_loop().create_future())
        self._pairing = pairing
        await self._start()
        return pairing

    async def pair_qr(self) -> None:
        """Start a client with no device: whatsmeow's QR codes follow as events."""
        async with self._lock:
            await self._begin_pairing("qr")

    async def pair_code(self, phone_e164: str) -> str:
        """Pair by code: after the first QR (whatsmeow's requirement) ask for a phone code."""
        found = _PHONE.fullmatch(phone_e164.strip())
        if found is None:
            raise ClinicDeskError(ErrorCode.PHONE_INVALID)
        async with self._lock:
            pairing = await self._begin_pairing("code")
            life = self._life
            try:
                await asyncio.wait_for(asyncio.shield(pairing.first_qr), self._s.code_wait)
                assert life is not None
                code = await life.client.PairPhone(
                    found.group(1), True, client_name=self._api.client_name()
                )
            except Exception as exc:
                log.warning("pair by code failed", extra={"code": type(exc).__name__})
                await self._end_pairing_quietly()
                await self._stop_life()
                raise ClinicDeskError(ErrorCode.CHANNEL_PAIRING_FAILED, reason="pair_code") from exc
        self._emit_event(EventKind.PAIR_CODE, code=str(code))
        return str(code)

    async def cancel_pairing(self) -> None:
        """The engine's pairing window ended: stop the client (no more QR codes)."""
        async with self._lock:
            if self._pairing is not None:
                await self._end_pairing_quietly()
                await self._stop_life()

    async def _end_pairing_quietly(self) -> None:
        pairing, self._pairing = self._pairing, None
        if pairing is not None:
            if pairing.window is not None:
                pairing.window.cancel()
            if not pairing.first_qr.done():
                pairing.first_qr.cancel()

    def _on_qr(self, life: Life, data: bytes) -> None:
        pairing = self._pairing
        if pairing is None:  # whatsmeow lost the device unasked: never show a QR by itself
            return
        if not pairing.first_qr.done():
            pairing.first_qr.set_result(None)
            loop = asyncio.get_running_loop()
            pairing.window = loop.call_later(self._s.qr_window, self._qr_window_ended, life.n)
        if pairing.mode == "qr":
            self._emit_event(EventKind.QR, qr=data.decode("ascii", "replace"))

    def _on_ended(self, life: Life, task: asyncio.Task[None]) -> None:
        """A pairing client that died (offline dial) fails a waiting ``pair_code`` at once."""
        pairing = self._pairing
        if pairing is not None and pairing.mode == "code" and not pairing.first_qr.done():
            pairing.first_qr.set_exception(ConnectionError("engine_ended"))
        super()._on_ended(life, task)

    def _qr_window_ended(self, n: int) -> None:
        if self._pairing is not None and self._life is not None and self._life.n == n:
            self._spawn_guarded(self._pairing_timed_out(n))

    async def _pairing_timed_out(self, n: int) -> None:
        async with self._lock:
            if self._pairing is None or self._life is None or self._life.n != n:
                return
            await self._end_pairing_quietly()
            await self._stop_life()
        self._state(m.StateFact(Reason.PAIRING_TIMEOUT, "qr_window"))

    def _on_paired(self, ok: bool) -> None:
        pairing, self._pairing = self._pairing, None
        if pairing is not None and pairing.window is not None:
            pairing.window.cancel()
        if ok:
            self._state(m.StateFact(Reason.PAIRED, "pair_success"))
            self._spawn_guarded(self.seal_now())
        else:
            self._state(m.StateFact(Reason.PAIRING_FAILED, "pair_error"))
            self._spawn_guarded(self._stop_under_lock())

    async def _stop_under_lock(self) -> None:
        async with self._lock:
            await self._stop_life()

    async def ack(self, ack_ref: str) -> None:
        """Nothing to do: whatsmeow acknowledges messages itself before handlers run."""
        return

    # reconcile(since) is not offered: whatsmeow replays the offline queue on every reconnect
    # and goneonize exports no on-demand history request (docs/CHANNELS.md, "whatsapp-web").

    # ---- hooks from the router ------------------------------------------------------------

    def _blocked_by(self, fact: m.StateFact) -> None:
        self._blocked = fact

    async def _after_session_gone(self) -> None:
        """whatsmeow deleted the device (401/403/406): wipe ours too, so nothing stale seals."""
        async with self._lock:
            await self._stop_life()
            await asyncio.to_thread(self._store.destroy)
            self._store_open = False

    async def _after_stop_reason(self) -> None:
        """Ban, replaced, outdated…: nothing runs until a person or an expiry says so, so the
        device store goes back to its sealed-only form meanwhile."""
        async with self._lock:
            await self._stop_life()
            if self._store_open:
                await asyncio.to_thread(self._store.close)
                self._store_open = False

    async def _after_link_dead(self, n: int) -> None:
        async with self._lock:
            if self._life is not None and self._life.n == n:
                await self._stop_life()

    async def _watchdog_recreate(self, n: int) -> None:
        async with self._lock:
            if self._life is None or self._life.n != n or self._life.connected:
                return
            await self._recreate("watchdog")


def make_neonize_transport(
    channel: str, config: Mapping[str, object], private_dir: str, emit: EventSink
) -> NeonizeTransport:
    """The :class:`TransportFactory` for ``kind = "whatsapp-web"`` channels.

    ``config``: ``device_store_key`` (hex, set by the engine; never stored with the channel),
    optional timing overrides (see :class:`NeonizeSettings`), ``sync_progress`` (bool).
    """
    raw_key = config.get("device_store_key")
    try:
        key = bytes.fromhex(raw_key) if isinstance(raw_key, str) else None
    except ValueError:
        key = None  # refused at connect (device_store_unreadable: no_key)
    try:
        api = load_neonize()
    except (ImportError, OSError) as exc:  # no wheel or its Go library cannot load here
        log.error("neonize cannot load", extra={"code": type(exc).__name__})
        raise ClinicDeskError(ErrorCode.CHANNEL_KIND_UNSUPPORTED, kind="whatsapp-web") from exc
    settings = NeonizeSettings.from_config(config)
    return NeonizeTransport(
        channel, private_dir=private_dir, emit=emit, key=key, settings=settings, api=api
    )
