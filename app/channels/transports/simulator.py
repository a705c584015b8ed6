"""The simulator transport: one channel's link to ``clinicdesk simulator serve`` over WebSocket.

Reports facts, decides nothing: a lost socket is one ``connection_lost`` event and nothing
more (the supervisor reconnects), no QR unless :meth:`pair_qr` was called, no resend. The
session token from pairing lives in ``<private_dir>/simulator-session.json`` (0600), so a
restarted worker reconnects without pairing; :meth:`logout` deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import atomic_write_text
from app.services.transport import (
    EventKind,
    EventSink,
    InboundMessage,
    OutboundMedia,
    Receipt,
    SendFailedError,
    SendFailureKind,
    TransportEvent,
)
from app.simulator import protocol as p

log = logging.getLogger(__name__)

SESSION_FILE = "simulator-session.json"
#: Reasons after which the server has closed the socket on purpose (no connection_lost).
_ENDING = frozenset(
    {
        Reason.LOGGED_OUT,
        Reason.BANNED,
        Reason.TEMP_BANNED,
        Reason.REPLACED,
        Reason.SERVER_UNAVAILABLE,
    }
)
_UNAVAILABLE_STATUSES = frozenset({500, 502, 503})
_BY_CLOSE_CODE = {
    p.CLOSE_LOGGED_OUT: Reason.LOGGED_OUT,
    p.CLOSE_TEMP_BANNED: Reason.TEMP_BANNED,
    p.CLOSE_BANNED: Reason.BANNED,
    p.CLOSE_REPLACED: Reason.REPLACED,
    p.CLOSE_UNAVAILABLE: Reason.SERVER_UNAVAILABLE,
}
_SEND_ERRORS = {
    p.ERR_NOT_PAIRED: SendFailureKind.AUTH,
    p.ERR_BAD_RECIPIENT: SendFailureKind.BAD_RECIPIENT,
}


class _LinkLostError(Exception):
    """The socket closed while a request waited for its reply."""


class SimulatorTransport:
    """:class:`app.services.transport.Transport` for the local simulator."""

    def __init__(
        self,
        channel: str,
        *,
        url: str,
        account: str,
        private_dir: str | Path,
        emit: EventSink,
        qr_interval: float | None = None,
        qr_first: float | None = None,
        open_timeout: float = 10.0,
        request_timeout: float = 15.0,
        ping_interval: float | None = 20.0,
    ) -> None:
        self.channel = channel
        self._url, self._account = p.ws_url(url, account), account
        self._base_url = p.http_url(url)
        self._session_path = Path(private_dir) / SESSION_FILE
        self._emit_sink = emit
        self._qr_hint = {"interval": qr_interval, "first": qr_first}
        self._open_timeout, self._request_timeout = open_timeout, request_timeout
        self._ping_interval = ping_interval
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._first: asyncio.Future[Reason | None] | None = None
        self._requests: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._connected = False  # the link holds a valid session
        self._blocked: Reason | None = None  # last ending reason (ban, logout, replaced)
        self._blocked_until: float | None = None
        self._quiet_unpaired = False  # a socket opened only to pair: no not_paired event
        self._closing = False  # stop/logout/cancel closed it: nothing to report
        self._reported = False  # a state frame already said why this socket ends
        self._open_lock = asyncio.Lock()  # one dial at a time

    # ---- connecting ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the link with the stored session (``not_paired`` when there is none).

        Every call reports a state, so a caller waiting for one never hangs: when the socket
        is already open (linked, or opened earlier without a session, e.g. to pair) the
        current state is reported again (``connected`` / ``not_paired``). A socket that has
        just been paired reports nothing here: its ``connected`` frame is on its way.
        """
        async with self._open_lock:
            if self._ws is not None and self._reported:  # ended by the server, still closing
                await self._close_quietly()
            if self._ws is None:
                await self._open(self._load_session(), quiet_unpaired=False)
            elif self._connected:
                self._emit(EventKind.STATE, reason=Reason.CONNECTED, detail="already_open")
            elif self._load_session() is None:
                self._emit(EventKind.STATE, reason=Reason.NOT_PAIRED, detail="already_open")

    async def _open(self, session: str | None, *, quiet_unpaired: bool) -> Reason | None:
        """Dial and say hello; returns the server's first state (None: dial failed)."""
        try:
            ws = await connect(
                self._url,
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                max_size=p.MAX_FRAME,
                compression=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            unavailable = status in _UNAVAILABLE_STATUSES
            reason = Reason.SERVER_UNAVAILABLE if unavailable else Reason.CONNECT_FAILED
            self._emit(EventKind.STATE, reason=reason, detail=str(status))
            return None
        except (OSError, TimeoutError, WebSocketException) as exc:
            self._emit(EventKind.STATE, reason=Reason.CONNECT_FAILED, detail=type(exc).__name__)
            return None
        self._ws, self._connected = ws, False
        self._closing = self._reported = False
        self._quiet_unpaired = quiet_unpaired
        first = self._first = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))
        with contextlib.suppress(ConnectionClosed):
            await ws.send(p.encode(p.HELLO, account=self._account, session=session))
        try:
            reason = await asyncio.wait_for(asyncio.shield(first), self._open_timeout)
        except TimeoutError:
            await self._close_quietly()
            self._emit(EventKind.STATE, reason=Reason.CONNECT_FAILED, detail="hello_timeout")
            return None
        if reason in _ENDING:  # the server closes right after: return once it has
            await self._close_quietly()
        return reason

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    frame = p.decode(raw)
                except p.ProtocolError as exc:
                    log.warning("bad simulator frame", extra={"code": str(exc)})
                    continue
                self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            self._socket_ended(ws)

    def _socket_ended(self, ws: ClientConnection) -> None:
        if ws is not self._ws:
            return
        self._ws, self._connected = None, False
        for future in self._requests.values():
            if not future.done():
                future.set_exception(_LinkLostError())
        self._requests.clear()
        code = ws.close_code
        first, self._first = self._first, None
        if first is not None and not first.done():
            first.set_result(None)
            if not self._closing:
                self._emit(EventKind.STATE, reason=Reason.CONNECT_FAILED, detail=f"close:{code}")
            return
        if not (self._closing or self._reported):
            reason = _BY_CLOSE_CODE.get(code or 0, Reason.CONNECTION_LOST)
            if reason is Reason.LOGGED_OUT:
                self._delete_session()
            self._emit(EventKind.STATE, reason=reason, detail=f"close:{code}")

    # ---- frames from the simulator ---------------------------------------------------------

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == p.STATE:
            self._on_state(frame)
        elif kind == p.QR:
            self._emit(EventKind.QR, qr=str(frame.get("payload", "")))
        elif kind == p.PAIR_CODE:
            self._resolve(frame)
            self._emit(EventKind.PAIR_CODE, code=str(frame.get("code", "")))
        elif kind == p.PAIRED:
            self._save_session(str(frame["session"]))
            self._blocked = None
            self._emit(EventKind.STATE, reason=Reason.PAIRED)
        elif kind == p.INBOUND:
            self._on_inbound(frame)
        elif kind == p.RECEIPT:
            self._on_receipt(frame)
        elif kind in (p.RESULT, p.ERROR) and not self._resolve(frame):
            log.warning("simulator error", extra={"code": str(frame.get("code"))})

    def _on_state(self, frame: dict[str, Any]) -> None:
        try:
            reason = Reason(str(frame.get("reason")))
        except ValueError:
            log.warning("unknown simulator reason", extra={"code": "sim.reason"})
            return
        until = frame.get("until")
        until = float(until) if isinstance(until, int | float) else None
        quiet = reason is Reason.NOT_PAIRED and self._quiet_unpaired
        if reason is Reason.CONNECTED:
            self._connected, self._blocked = True, None
        elif reason in _ENDING:
            self._connected, self._reported = False, True
            self._blocked, self._blocked_until = reason, until
            if reason is Reason.LOGGED_OUT:
                self._delete_session()
        if self._first is not None and not self._first.done():
            self._first.set_result(reason)
        if not quiet:
            self._emit(EventKind.STATE, reason=reason, detail=frame.get("detail"), until=until)

    def _on_inbound(self, frame: dict[str, Any]) -> None:
        raw = frame.get("message")
        if not isinstance(raw, dict):
            return
        message = InboundMessage(
            wa_id=str(raw["wa_id"]),
            chat_jid=str(raw.get("chat", "")),
            sender_jid=str(raw.get("sender", "")),
            timestamp=float(raw.get("timestamp", time.time())),
            kind=str(raw.get("kind", "text")),
            text=raw.get("text"),
            push_name=raw.get("push_name"),
            media_b64=raw.get("media_b64"),
            media_mime=raw.get("media_mime"),
            media_name=raw.get("media_name"),
            extra=raw.get("extra") or {},
        )
        ref = frame.get("ref")
        self._emit(
            EventKind.INBOUND,
            message=message,
            wa_id=message.wa_id,
            ack_ref=None if ref is None else str(ref),
        )

    def _on_receipt(self, frame: dict[str, Any]) -> None:
        try:
            status = Receipt(str(frame.get("status")))
        except ValueError:
            return
        self._emit(EventKind.RECEIPT, wa_id=str(frame.get("wa_id")), receipt=status)

    def _resolve(self, frame: dict[str, Any]) -> bool:
        future = self._requests.pop(frame.get("id", -1), None)
        if future is None or future.done():
            return False
        future.set_result(frame)
        return True

    def _emit(self, kind: EventKind, **fields: Any) -> None:
        try:
            self._emit_sink(TransportEvent(kind=kind, channel=self.channel, **fields))
        except Exception:
            log.exception("event sink failed", extra={"code": "sim.emit"})

    # ---- requests --------------------------------------------------------------------------

    async def _request(self, ws: ClientConnection, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a frame with an id and wait for its reply; raises ConnectionClosed (not sent),
        _LinkLostError or TimeoutError (sent, outcome unknown)."""
        rid = next(self._ids)
        future = self._requests[rid] = asyncio.get_running_loop().create_future()
        try:
            await ws.send(p.encode(kind, id=rid, **fields))
            return await asyncio.wait_for(future, self._request_timeout)
        finally:
            self._requests.pop(rid, None)

    def _link(self) -> ClientConnection:
        """The live, paired socket, or the SendFailedError that says why there is none."""
        if self._ws is not None and self._connected:
            return self._ws
        if self._blocked in (Reason.BANNED, Reason.TEMP_BANNED):
            retry = None if self._blocked_until is None else self._blocked_until - time.time()
            raise SendFailedError(SendFailureKind.BANNED, self._blocked.value, retry_after=retry)
        if self._blocked is Reason.LOGGED_OUT or self._load_session() is None:
            raise SendFailedError(SendFailureKind.AUTH, Reason.NOT_PAIRED.value)
        raise SendFailedError(SendFailureKind.NOT_CONNECTED, "not_connected")

    async def _send(self, to_jid: str, key: str, **content: Any) -> str:
        ws = self._link()
        try:
            reply = await self._request(ws, p.SEND, to=to_jid, client_key=key, **content)
        except ConnectionClosed as exc:  # nothing was written: safe to keep queued
            raise SendFailedError(SendFailureKind.NOT_CONNECTED, "closed") from exc
        except _LinkLostError as exc:
            raise SendFailedError(SendFailureKind.TRANSIENT, "lost", ambiguous=True) from exc
        except TimeoutError as exc:
            raise SendFailedError(SendFailureKind.TRANSIENT, "timeout", ambiguous=True) from exc
        error = reply.get("error")
        if error is not None:
            kind = _SEND_ERRORS.get(str(error), SendFailureKind.PERMANENT)
            raise SendFailedError(kind, str(error))
        return str(reply["wa_id"])

    async def send_text(self, to_jid: str, text: str, idempotency_key: str) -> str:
        return await self._send(to_jid, idempotency_key, text=text)

    async def send_media(self, to_jid: str, media: OutboundMedia, idempotency_key: str) -> str:
        body = {
            "data_b64": media.data_b64,
            "mime": media.mime,
            "filename": media.filename,
            "caption": media.caption,
        }
        return await self._send(to_jid, idempotency_key, media=body)

    async def _fire(self, kind: str, **fields: Any) -> None:
        """Best effort: nothing is sent when the link is down (the supervisor knows already)."""
        ws = self._ws
        if ws is None or not self._connected:
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(p.encode(kind, **fields))

    async def mark_read(self, chat_jid: str, wa_ids: Sequence[str]) -> None:
        await self._fire(p.MARK_READ, chat=chat_jid, ids=list(wa_ids))

    async def set_typing(self, chat_jid: str, on: bool) -> None:
        await self._fire(p.TYPING, chat=chat_jid, on=on)

    async def ack(self, ack_ref: str) -> None:
        await self._fire(p.ACK, ref=ack_ref)

    # ---- pairing ---------------------------------------------------------------------------

    async def _pairing_socket(self) -> ClientConnection:
        if self._connected:
            raise ClinicDeskError(ErrorCode.CHANNEL_ALREADY_CONNECTED, channel=self.channel)
        async with self._open_lock:
            if self._ws is not None and self._reported:
                await self._close_quietly()
            if self._ws is None:
                await self._open(None, quiet_unpaired=True)
        if self._ws is None:
            raise ClinicDeskError(ErrorCode.SIMULATOR_UNREACHABLE, url=self._base_url)
        return self._ws

    async def pair_qr(self) -> None:
        ws = await self._pairing_socket()
        try:
            await ws.send(p.encode(p.PAIR_QR, **self._qr_hint))
        except ConnectionClosed as exc:
            raise ClinicDeskError(ErrorCode.SIMULATOR_UNREACHABLE, url=self._base_url) from exc

    async def pair_code(self, phone_e164: str) -> str:
        ws = await self._pairing_socket()
        try:
            reply = await self._request(ws, p.PAIR_CODE, phone=phone_e164, **self._qr_hint)
        except (ConnectionClosed, _LinkLostError, TimeoutError) as exc:
            raise ClinicDeskError(ErrorCode.SIMULATOR_UNREACHABLE, url=self._base_url) from exc
        error = reply.get("error")
        if error == p.ERR_BAD_PHONE:
            raise ClinicDeskError(ErrorCode.PHONE_INVALID)
        if error is not None:
            raise ClinicDeskError(ErrorCode.CHANNEL_ALREADY_CONNECTED, channel=self.channel)
        return str(reply["code"])

    async def cancel_pairing(self) -> None:
        """Stop the QR sequence and close the socket that was opened only to pair."""
        if self._ws is not None and not self._connected:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(p.encode(p.CANCEL_PAIRING))
            await self._close_quietly()

    # ---- ending ----------------------------------------------------------------------------

    async def logout(self) -> None:
        """Unlink on the simulator (best effort) and delete the stored session."""
        ws, session = self._ws, self._load_session()
        if ws is not None and self._connected:
            self._closing = True
            with contextlib.suppress(ConnectionClosed, _LinkLostError, TimeoutError):
                await self._request(ws, p.LOGOUT)
        elif session is not None:
            await self._close_quietly()
            await self._logout_offline(session)
        self._delete_session()
        self._blocked = None
        await self._close_quietly()

    async def _logout_offline(self, session: str) -> None:
        """A short private connection that only says hello and logs out (no events)."""
        with contextlib.suppress(OSError, TimeoutError, WebSocketException):
            async with asyncio.timeout(self._open_timeout):
                async with connect(self._url, proxy=None, compression=None) as ws:
                    await ws.send(p.encode(p.HELLO, account=self._account, session=session))
                    state = p.decode(await ws.recv())
                    if state.get("reason") == Reason.CONNECTED.value:
                        await ws.send(p.encode(p.LOGOUT, id=0))
                        async for _ in ws:  # until the server closes
                            pass

    async def stop(self) -> None:
        """Disconnect and keep the session."""
        await self._close_quietly()

    async def _close_quietly(self) -> None:
        ws, reader = self._ws, self._reader
        self._closing = True
        if ws is not None:
            with contextlib.suppress(WebSocketException, OSError):
                await ws.close()
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(reader, self._open_timeout)
        self._ws, self._reader, self._connected = None, None, False

    # ---- session file ----------------------------------------------------------------------

    def _load_session(self) -> str | None:
        try:
            data = json.loads(self._session_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("account") != self._account:
            return None
        session = data.get("session")
        return session if isinstance(session, str) and session else None

    def _save_session(self, session: str) -> None:
        self._session_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {"v": 1, "account": self._account, "url": self._base_url, "session": session}
        atomic_write_text(self._session_path, json.dumps(data), mode=0o600)

    def _delete_session(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._session_path.unlink()


def make_simulator_transport(
    channel: str, config: Mapping[str, object], private_dir: str, emit: EventSink
) -> SimulatorTransport:
    """The :class:`TransportFactory` for ``kind = "simulator"`` channels.

    ``config``: ``simulator_url`` (default http://127.0.0.1:8766), ``account`` (default: the
    channel name), optional ``qr_interval``/``qr_first`` hints in seconds (tests).
    """
    return SimulatorTransport(
        channel,
        url=str(config.get("simulator_url") or p.DEFAULT_URL),
        account=str(config.get("account") or channel),
        private_dir=private_dir,
        emit=emit,
        qr_interval=_seconds(config.get("qr_interval")),
        qr_first=_seconds(config.get("qr_first")),
    )


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None
