"""The simulator's core: accounts, connections, pairing, sends, inbound delivery and faults.

The hub is transport-agnostic: the server hands it :class:`Connection` objects and decoded
frames. Everything runs on one event loop; per connection it keeps one small object and no
task, so one process carries thousands of links. It never logs message text or numbers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.channels import Reason
from app.simulator import patients, protocol
from app.simulator.accounts import Account, Registry, Status
from app.simulator.connection import Connection
from app.simulator.faultops import FaultOps
from app.simulator.faults import FaultBook
from app.simulator.inbound import InboundOps
from app.simulator.pairing import (
    Pairing,
    PairingTiming,
    pairing_code,
    run_code,
    run_qr,
    valid_phone,
)
from app.simulator.protocol import ProtocolError

log = logging.getLogger(__name__)

Frame = dict[str, Any]


@dataclass(slots=True)
class HubOptions:
    timing: PairingTiming = field(default_factory=PairingTiming)
    receipt_delay: float = 0.5  # sent at once, delivered after this, read after twice this
    chatty: bool = False  # patients write on their own and answer the clinic
    chat_interval: float = 8.0
    reply_delay: float = 2.0
    reorder_window: float = 0.2
    state_file: Path | None = None
    seed: int | None = None


class Hub(FaultOps, InboundOps):
    """All accounts and live connections of one simulator process."""

    def __init__(self, options: HubOptions | None = None) -> None:
        self.opts = options or HubOptions()
        self.registry = Registry(self.opts.state_file)
        self.book = FaultBook()
        self.rng = random.Random(self.opts.seed)  # noqa: S311 - simulation, not security
        self.patient_seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers: dict[str, Callable[[Connection, Frame], Awaitable[None]]] = {
            protocol.HELLO: self._hello,
            protocol.PAIR_QR: self._pair_qr,
            protocol.PAIR_CODE: self._pair_code,
            protocol.CANCEL_PAIRING: self._cancel_pairing,
            protocol.SEND: self._send,
            protocol.MARK_READ: self._mark_read,
            protocol.TYPING: self._typing,
            protocol.ACK: self._ack,
            protocol.LOGOUT: self._logout,
        }

    # ---- lifecycle -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        self.spawn(self._save_loop())
        if self.opts.chatty:
            self.spawn(self._chat_loop())

    async def stop(self) -> None:
        for account in self.registry.accounts.values():
            for conn in self.conns_of(account):
                await conn.close(protocol.CLOSE_NORMAL)
        for task in list(self._tasks):
            task.cancel()
        self.registry.save()

    def refusing(self, name: str | None) -> bool:
        """Whether a new connection for ``name`` is refused (the ``refuse`` fault)."""
        account = self.registry.find(name) if name else None
        own = account.faults if account else self.book.everyone
        return self.book.on(own, "refuse")

    # ---- frames ----------------------------------------------------------------------------

    async def on_text(self, conn: Connection, raw: str | bytes) -> None:
        try:
            frame = protocol.decode(raw)
        except ProtocolError as exc:
            await conn.send(protocol.ERROR, code=protocol.ERR_MALFORMED, detail=str(exc))
            return
        kind = frame["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            await conn.send(protocol.ERROR, code=protocol.ERR_UNKNOWN_TYPE, id=frame.get("id"))
        elif conn.account is None and kind != protocol.HELLO:
            await conn.send(protocol.ERROR, code="hello_first")
            await conn.close(protocol.CLOSE_PROTOCOL)
        else:
            await handler(conn, frame)

    async def on_closed(self, conn: Connection) -> None:
        conn.closed = True
        account: Account | None = conn.account
        if account is None:
            return
        if account.conn is conn:
            account.conn = None
        if account.pairing is not None and account.pairing.conn is conn:
            self._stop_pairing(account)

    # ---- hello -----------------------------------------------------------------------------

    async def _hello(self, conn: Connection, frame: Frame) -> None:
        name, session = frame.get("account"), frame.get("session")
        if conn.account is not None or not isinstance(name, str) or not 0 < len(name) <= 200:
            await conn.send(protocol.ERROR, code=protocol.ERR_MALFORMED)
            await conn.close(protocol.CLOSE_PROTOCOL)
            return
        if self.refusing(name):
            await self.end(conn, Reason.SERVER_UNAVAILABLE, "503", protocol.CLOSE_UNAVAILABLE)
            return
        account = conn.account = self.registry.get(name)
        account.count("hellos")
        if account.temp_ban_over():
            self.registry.dirty = True
        if await self._gate(conn, account, session if isinstance(session, str) else None):
            return
        if session is None:
            await conn.send(protocol.STATE, reason=Reason.NOT_PAIRED.value)
            return
        await self._go_live(conn, account)

    async def _gate(self, conn: Connection, account: Account, session: str | None) -> bool:
        """Refuse a banned, logged-out or replaced hello (True when the socket was ended)."""
        if account.status is Status.BANNED:
            await self.end(conn, Reason.BANNED, "406", protocol.CLOSE_BANNED)
        elif account.status is Status.TEMP_BANNED:
            await self.end(conn, Reason.TEMP_BANNED, "402", protocol.CLOSE_TEMP_BANNED, account)
        elif session is None:
            return False
        elif account.status is Status.REPLACED and session == account.session:
            await self.end(conn, Reason.REPLACED, "440", protocol.CLOSE_REPLACED)
        elif session != account.session or account.status is not Status.PAIRED:
            await self.end(conn, Reason.LOGGED_OUT, "401", protocol.CLOSE_LOGGED_OUT)
        else:
            return False
        return True

    async def _go_live(self, conn: Connection, account: Account) -> None:
        """``conn`` holds the valid session: it becomes the account's link."""
        old = account.conn
        account.conn, conn.paired = conn, True
        if old is not None and old is not conn:  # a second copy: the older one is replaced
            await self.end(old, Reason.REPLACED, "440", protocol.CLOSE_REPLACED)
        account.count("connects")
        await conn.send(protocol.STATE, reason=Reason.CONNECTED.value)
        self.kick(account)

    async def end(
        self,
        conn: Connection,
        reason: Reason,
        detail: str,
        code: int,
        account: Account | None = None,
    ) -> None:
        """Tell ``conn`` why, then close it."""
        until = account.ban_until if account is not None else None
        await conn.send(protocol.STATE, reason=reason.value, detail=detail, until=until)
        await conn.close(code)

    def conns_of(self, account: Account) -> list[Connection]:
        """The account's live link plus a connection pairing for it."""
        found = [account.conn] if account.conn is not None else []
        if account.pairing is not None and account.pairing.conn not in found:
            found.append(account.pairing.conn)
        return [c for c in found if not c.closed]

    # ---- pairing ---------------------------------------------------------------------------

    async def _start_pairing(self, conn: Connection, frame: Frame, mode: str) -> Pairing | None:
        account: Account = conn.account
        if conn.paired:
            await conn.send(protocol.RESULT, id=frame.get("id"), error=protocol.ERR_ALREADY_PAIRED)
            return None
        self._stop_pairing(account)
        pairing = account.pairing = Pairing(conn, mode)
        await conn.send(protocol.STATE, reason=Reason.PAIRING_STARTED.value)
        return pairing

    def _timing(self, frame: Frame) -> PairingTiming:
        timing = self.opts.timing
        hint = frame.get("interval")
        if isinstance(hint, int | float) and 0 < hint <= 600:
            first = frame.get("first")
            first = first if isinstance(first, int | float) and 0 < first <= 600 else 3 * hint
            return PairingTiming(float(hint), float(first), timing.qr_max, timing.auto_pair)
        return timing

    async def _pair_qr(self, conn: Connection, frame: Frame) -> None:
        pairing = await self._start_pairing(conn, frame, "qr")
        if pairing is not None:
            account: Account = conn.account
            flow = run_qr(pairing, self._timing(frame), self._scanner(account), account.count)
            pairing.task = self.spawn(self._pairing_flow(account, pairing, flow))

    async def _pair_code(self, conn: Connection, frame: Frame) -> None:
        if valid_phone(frame.get("phone")) is None:
            await conn.send(protocol.RESULT, id=frame.get("id"), error=protocol.ERR_BAD_PHONE)
            return
        pairing = await self._start_pairing(conn, frame, "code")
        if pairing is not None:
            account: Account = conn.account
            pairing.code = pairing_code()
            await conn.send(protocol.PAIR_CODE, id=frame.get("id"), code=pairing.code)
            flow = run_code(pairing, self._timing(frame), self._scanner(account))
            pairing.task = self.spawn(self._pairing_flow(account, pairing, flow))

    def _scanner(self, account: Account) -> Callable[[], Awaitable[None]]:
        async def scan() -> None:
            await self.scan(account)

        return scan

    async def _pairing_flow(
        self, account: Account, pairing: Pairing, flow: Coroutine[Any, Any, None]
    ) -> None:
        try:
            await flow
        finally:
            if account.pairing is pairing:
                account.pairing = None

    async def _cancel_pairing(self, conn: Connection, frame: Frame) -> None:
        account: Account = conn.account
        if account.pairing is not None and account.pairing.conn is conn:
            self._stop_pairing(account)

    def _stop_pairing(self, account: Account) -> None:
        if account.pairing is not None:
            account.pairing.stop()
            account.pairing = None

    async def scan(self, account: Account) -> bool:
        """The phone scans the QR (or types the code): pairing completes; False if none runs."""
        pairing: Pairing | None = account.pairing
        if pairing is None or pairing.conn.closed:
            return False
        self._stop_pairing(account)
        old = account.conn
        if old is not None and old is not pairing.conn:  # the old device is unlinked
            await self.end(old, Reason.LOGGED_OUT, "401", protocol.CLOSE_LOGGED_OUT)
        session = account.new_session()
        account.pending.clear()
        self.registry.dirty = True
        account.count("pairings")
        await pairing.conn.send(protocol.PAIRED, session=session, jid=account.jid)
        await self._go_live(pairing.conn, account)
        return True

    # ---- messages --------------------------------------------------------------------------

    async def _send(self, conn: Connection, frame: Frame) -> None:
        account: Account = conn.account
        rid, key, to = frame.get("id"), frame.get("client_key"), frame.get("to")
        error = self._send_error(conn, frame)
        if error is not None:
            await conn.send(protocol.RESULT, id=rid, error=error)
            return
        assert isinstance(key, str)  # checked by _send_error
        known = account.sent_keys.get(key)
        if known is not None:  # a resend of the same key: same id, not delivered twice
            account.count("duplicate_sends")
            await conn.send(protocol.RESULT, id=rid, wa_id=known, duplicate=True)
            return
        wa_id = patients.new_wa_id()
        account.remember_send(key, wa_id)
        account.record_outbound(_outbound_entry(wa_id, frame))
        account.count("sent")
        await conn.send(protocol.RESULT, id=rid, wa_id=wa_id)
        self.spawn(self._receipts(account, wa_id))
        if self.opts.chatty and isinstance(to, str):
            text = frame.get("text")
            self.spawn(self._reply_later(account, to, text if isinstance(text, str) else None))

    def _send_error(self, conn: Connection, frame: Frame) -> str | None:
        if not conn.paired:
            return protocol.ERR_NOT_PAIRED
        key, media = frame.get("client_key"), frame.get("media")
        if not isinstance(key, str) or not key or len(key) > 200:
            return protocol.ERR_MALFORMED
        if not protocol.is_user_jid(frame.get("to")):
            return protocol.ERR_BAD_RECIPIENT
        if isinstance(frame.get("text"), str):
            return None
        if isinstance(media, dict) and isinstance(media.get("data_b64"), str):
            return None
        return protocol.ERR_MALFORMED

    async def _receipts(self, account: Account, wa_id: str) -> None:
        step = self.opts.receipt_delay
        for status, wait in (("sent", 0.0), ("delivered", step), ("read", step)):
            await asyncio.sleep(wait + self.book.delay(account.faults))
            conn = account.conn
            if conn is not None:
                await conn.send(protocol.RECEIPT, wa_id=wa_id, status=status)

    async def _mark_read(self, conn: Connection, frame: Frame) -> None:
        ids = frame.get("ids")
        conn.account.count("marked_read", len(ids) if isinstance(ids, list) else 0)

    async def _typing(self, conn: Connection, frame: Frame) -> None:
        conn.account.count("typing_on" if frame.get("on") else "typing_off")

    async def _ack(self, conn: Connection, frame: Frame) -> None:
        account: Account = conn.account
        if account.pending.pop(str(frame.get("ref")), None) is not None:
            account.count("acked")
            self.registry.dirty = True

    async def _logout(self, conn: Connection, frame: Frame) -> None:
        account: Account = conn.account
        if conn.paired:
            account.session, account.status = None, Status.UNPAIRED
            account.pending.clear()
            account.count("logouts")
            self.registry.dirty = True
        await conn.send(protocol.RESULT, id=frame.get("id"), ok=True)
        await conn.close(protocol.CLOSE_NORMAL)

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.registry.save()
            except OSError:
                log.warning("simulator state file not written", extra={"code": "sim.save"})

    # ---- control ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        accounts = [a.snapshot() for a in self.registry.accounts.values()]
        return {
            "accounts": accounts,
            "connected": sum(1 for a in accounts if a["connected"]),
            "faults": self.book.describe(),
        }


def _digest(data_b64: object) -> dict[str, Any]:
    """Size and SHA-256 of the decoded file (what a test needs to see the bytes arrived whole);
    nulls when the base64 does not decode."""
    try:
        data = base64.b64decode(str(data_b64), validate=True)
    except (binascii.Error, ValueError):
        return {"size": None, "sha256": None}
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _outbound_entry(wa_id: str, frame: Frame) -> dict[str, Any]:
    media = frame.get("media")
    entry: dict[str, Any] = {"wa_id": wa_id, "to": frame.get("to"), "at": time.time()}
    if isinstance(media, dict):
        entry.update(kind="media", mime=media.get("mime"), caption=media.get("caption"))
        entry.update(filename=media.get("filename"), **_digest(media.get("data_b64")))
    else:
        entry.update(kind="text", text=frame.get("text"))
    return entry
