"""``clinicdesk channel-worker``: hosts transports for the engine, speaking app.channels.protocol.

stdin carries requests, stdout carries hello/results/events/heartbeats and nothing else (logs
go to stderr). The worker never retries, decides or pairs by itself: it runs what the engine
asks and reports what the transports say. It exits when stdin closes, so a dead engine leaves
no orphan workers, or on ``shutdown`` after stopping its transports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, cast

from app.channels.protocol import (
    MAX_LINE_BYTES,
    VERSION,
    ErrorInfo,
    EventMessage,
    Heartbeat,
    Hello,
    Message,
    Op,
    Request,
    Result,
    decode,
    encode,
)
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.transport import (
    OutboundMedia,
    SendFailedError,
    Transport,
    TransportEvent,
    TransportFactory,
)

if TYPE_CHECKING:
    Subs = argparse._SubParsersAction[argparse.ArgumentParser]

log = logging.getLogger(__name__)

#: Transport kinds and where their factory lives ("module:attribute"), imported on first use.
KINDS: dict[str, str] = {
    "simulator": "app.channels.transports.simulator:make_simulator_transport",
    "whatsapp-web": "app.channels.transports.neonize_transport:make_neonize_transport",
}
SEND_FAILED = "send.failed"  # result error code carrying a SendFailedError's kind and code
TRANSPORT_ERROR = "worker.transport_error"  # a transport raised something unexpected
STOP_TIMEOUT = 10.0


def unsupported_transport(
    channel: str, config: Mapping[str, object], private_dir: str, emit: Callable[..., None]
) -> Transport:
    """Placeholder factory for kinds whose transport is not built yet."""
    raise ClinicDeskError(ErrorCode.CHANNEL_KIND_UNSUPPORTED, channel=channel)


def load_factory(target: str) -> TransportFactory:
    """Import ``"module:attribute"`` and return the transport factory it names."""
    module_name, _, attr = target.partition(":")
    return cast(TransportFactory, getattr(importlib.import_module(module_name), attr))


# ---- stdin / stdout -------------------------------------------------------------------------


def read_lines(fd: int, deliver: Callable[[bytes | None], None]) -> None:
    """Blocking: hand each line read from ``fd`` to ``deliver``; ``None`` at end of input.

    Runs in a thread because pipes cannot be read asynchronously the same way on Windows and
    POSIX. It reads the raw descriptor, not ``sys.stdin``: a daemon thread blocked inside the
    buffered reader aborts the interpreter at exit. A line longer than the cap is delivered
    cut short (it then fails to decode with ``line_too_long``) and the rest of it is skipped.
    """
    splitter = LineSplitter()
    while chunk := _read(fd):
        for line in splitter.feed(chunk):
            deliver(line)
    deliver(None)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""


class LineSplitter:
    """Cuts a byte stream into lines of at most ``MAX_LINE_BYTES`` (+1 to mark an overflow)."""

    def __init__(self, cap: int = MAX_LINE_BYTES) -> None:
        self._cap = cap
        self._buf = bytearray()
        self._skipping = False  # inside the tail of an oversized line

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete lines ``chunk`` finishes (oversized ones cut to cap + 1 bytes)."""
        lines: list[bytes] = []
        self._buf += chunk
        while (end := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            if not self._skipping:
                lines.append(line)
            self._skipping = False
        if len(self._buf) > self._cap and not self._skipping:
            lines.append(bytes(self._buf[: self._cap + 1]))
            self._skipping = True
        if self._skipping:
            self._buf.clear()
        return lines


class Output:
    """Writes protocol messages to stdout, one flushed line each, from the loop thread only."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.broken = False

    def send(self, msg: Message) -> None:
        """Write ``msg``; a closed pipe (engine gone) marks the output broken instead of raising."""
        if self.broken:
            return
        try:
            self._stream.write(encode(msg))
            self._stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True


# ---- hosting --------------------------------------------------------------------------------


def error_info(exc: BaseException) -> ErrorInfo:
    """The protocol form of an exception raised by a transport or by the host."""
    if isinstance(exc, ClinicDeskError):
        return ErrorInfo(exc.code.value, {k: _plain(v) for k, v in exc.params.items()})
    if isinstance(exc, SendFailedError):
        params = {"kind": exc.kind.value, "code": exc.code, "ambiguous": exc.ambiguous}
        return ErrorInfo(SEND_FAILED, {**params, "retry_after": exc.retry_after})
    return ErrorInfo(TRANSPORT_ERROR, {"type": type(exc).__name__})


def _plain(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


class WorkerHost:
    """The transports of one worker process and the dispatch of requests to them."""

    def __init__(self, out: Output, kinds: Mapping[str, str], heartbeat: float) -> None:
        self._out = out
        self._kinds = dict(kinds)
        self._heartbeat = heartbeat
        self._transports: dict[str, Transport] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._done = asyncio.Event()

    async def run(self, lines: asyncio.Queue[bytes | None]) -> int:
        """Serve requests from ``lines`` until end of input or ``shutdown``; returns exit code."""
        self._out.send(Hello(VERSION, os.getpid(), tuple(self._kinds)))
        beat = asyncio.create_task(self._beat())
        reader = asyncio.create_task(self._serve(lines))
        await self._done.wait()
        beat.cancel()
        reader.cancel()
        await self._stop_all()
        return 0

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._out.broken:
            self._out.send(Heartbeat(loop.time()))
            await asyncio.sleep(self._heartbeat)
        self._done.set()

    async def _serve(self, lines: asyncio.Queue[bytes | None]) -> None:
        while (line := await lines.get()) is not None:
            self._handle_line(line)
        log.info("stdin closed: the engine is gone, stopping", extra={"code": "worker.eof"})
        self._done.set()

    def _handle_line(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            msg = decode(line)
        except ClinicDeskError as exc:
            self._reject(line, exc)
            return
        if not isinstance(msg, Request):
            self._reject(line, ClinicDeskError(ErrorCode.WORKER_PROTOCOL, reason="not_a_request"))
            return
        self._spawn(self._answer(msg))

    def _reject(self, line: bytes, exc: ClinicDeskError) -> None:
        """Log a malformed line by its code and answer it if an id can be found in it."""
        log.warning("malformed request: %s", exc.params.get("reason"), extra={"code": exc.code})
        request_id = _salvage_id(line)
        if request_id is not None:
            self._out.send(Result(request_id, False, error=error_info(exc)))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, req: Request) -> None:
        try:
            value = await self._dispatch(req)
        except Exception as exc:  # every failure becomes an answer; the worker keeps serving
            if not isinstance(exc, ClinicDeskError | SendFailedError):
                log.exception("request %s failed", req.op.value, extra={"code": TRANSPORT_ERROR})
            self._out.send(Result(req.id, False, error=error_info(exc)))
        else:
            self._out.send(Result(req.id, True, value))

    async def _dispatch(self, req: Request) -> Any:
        if req.op is Op.PING:
            return "pong"
        if req.op is Op.SHUTDOWN:
            asyncio.get_running_loop().call_soon(self._done.set)
            return None
        if req.op is Op.OPEN:
            return self._open(req.args)
        if req.op is Op.CLOSE:
            return await self._close(req.args["channel"])
        return await self._call(self._transport(req.args["channel"]), req.op, req.args)

    def _open(self, args: Mapping[str, Any]) -> None:
        """Build the channel's transport unless it is already open (open is idempotent)."""
        channel = args["channel"]
        if channel in self._transports:
            return
        target = self._kinds.get(args["kind"])
        if target is None:
            raise ClinicDeskError(ErrorCode.CHANNEL_KIND_UNSUPPORTED, channel=channel)
        factory = load_factory(target)
        emit = self._emitter(channel)
        self._transports[channel] = factory(channel, args["config"], args["private_dir"], emit)

    def _emitter(self, channel: str) -> Callable[[TransportEvent], None]:
        def emit(event: TransportEvent) -> None:
            self._out.send(EventMessage(channel, event))

        return emit

    def _transport(self, channel: str) -> Transport:
        transport = self._transports.get(channel)
        if transport is None:
            raise ClinicDeskError(ErrorCode.NOT_FOUND, entity="channel", channel=channel)
        return transport

    async def _close(self, channel: str) -> None:
        transport = self._transports.pop(channel, None)
        if transport is not None:
            await asyncio.wait_for(transport.stop(), STOP_TIMEOUT)

    @staticmethod
    async def _call(transport: Transport, op: Op, args: Mapping[str, Any]) -> Any:
        """Run one channel operation on ``transport``."""
        call = CHANNEL_OPS.get(op)
        if call is None:
            raise ClinicDeskError(ErrorCode.WORKER_PROTOCOL, reason="unknown_op", op=op.value)
        return await call(transport, args)

    async def _stop_all(self) -> None:
        """Stop every transport (bounded), then let pending answers go out."""
        for channel in list(self._transports):
            with contextlib.suppress(Exception):
                await self._close(channel)
        for task in list(self._tasks):
            task.cancel()


ChannelOp = Callable[[Transport, Mapping[str, Any]], Awaitable[Any]]
CHANNEL_OPS: dict[Op, ChannelOp] = {
    Op.CONNECT: lambda t, a: t.connect(),
    Op.PAIR_QR: lambda t, a: t.pair_qr(),
    Op.PAIR_CODE: lambda t, a: t.pair_code(a["phone"]),
    Op.CANCEL_PAIRING: lambda t, a: t.cancel_pairing(),
    Op.SEND_TEXT: lambda t, a: t.send_text(a["to"], a["text"], a["key"]),
    Op.SEND_MEDIA: lambda t, a: t.send_media(a["to"], OutboundMedia(**a["media"]), a["key"]),
    Op.MARK_READ: lambda t, a: t.mark_read(a["chat"], [str(i) for i in a["ids"]]),
    Op.TYPING: lambda t, a: t.set_typing(a["chat"], a["on"]),
    Op.ACK: lambda t, a: t.ack(a["ref"]),
    Op.LOGOUT: lambda t, a: t.logout(),
    Op.RECONCILE: lambda t, a: reconcile(t, float(a["since"])),
}


async def reconcile(transport: Transport, since: float) -> bool:
    """Ask ``transport`` to fetch what may have been missed since ``since`` (epoch seconds).

    Optional for transports: one without a ``reconcile`` method answers False (nothing to do:
    its new connection already replays the offline queue, like the simulator's). True when the
    transport took the request.
    """
    method = getattr(transport, "reconcile", None)
    if method is None:
        return False
    await method(since)
    return True


def _salvage_id(line: bytes) -> int | None:
    """The integer ``id`` of a line that failed validation, if it is JSON with one."""
    try:
        body = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---- entry points ---------------------------------------------------------------------------


def parse_kind(text: str) -> tuple[str, str]:
    """``KIND=module:attr`` → (kind, target) for ``--transport``."""
    kind, sep, target = text.partition("=")
    if not sep or ":" not in target:
        raise argparse.ArgumentTypeError("expected KIND=module:attribute")
    return kind, target


def add_worker_parser(sub: Subs) -> argparse.ArgumentParser:
    """Register ``channel-worker`` (spawned by the engine; not meant to be run by hand)."""
    p = sub.add_parser("channel-worker", help="internal: host channel transports for the engine")
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds to host")
    p.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats")
    p.add_argument(
        "--transport",
        action="append",
        type=parse_kind,
        default=[],
        metavar="KIND=MODULE:ATTR",
        help="host an extra transport kind (tests, plug-ins)",
    )
    return p


def cmd_channel_worker(args: argparse.Namespace) -> int:
    """Run the worker until stdin closes or the engine asks it to shut down."""
    kinds = {k: KINDS[k] for k in args.kinds.split(",") if k in KINDS}
    kinds.update(dict(args.transport))
    return run_host(kinds, args.heartbeat)


def run_worker(argv: list[str]) -> int:
    """``clinicdesk channel-worker ARGV`` without the full CLI (tests, frozen bundles)."""
    parser = argparse.ArgumentParser(prog="clinicdesk")
    add_worker_parser(parser.add_subparsers(dest="command"))
    return cmd_channel_worker(parser.parse_args(["channel-worker", *argv]))


def run_host(kinds: Mapping[str, str], heartbeat: float) -> int:
    """Serve the protocol on this process's stdin/stdout; returns the exit code."""
    from app.infra.logging import configure_logging

    configure_logging(None, level=logging.INFO)  # stderr only: stdout is the protocol
    if hasattr(signal, "SIGINT"):
        # Ctrl+C in the engine's terminal reaches us too; the engine decides when we stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return asyncio.run(_main(_claim_stdout(), kinds, heartbeat))


def _claim_stdout() -> Output:
    """Keep the real stdout for the protocol and point fd 1 (and ``print``) at stderr.

    Libraries print to stdout, some from C or Go (neonize prints "Press Ctrl+C to exit"), so
    redirecting ``sys.stdout`` is not enough: the file descriptor itself is moved.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return Output(os.fdopen(protocol_fd, "wb"))


async def _main(out: Output, kinds: Mapping[str, str], heartbeat: float) -> int:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    def deliver(line: bytes | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
            loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=read_lines, args=(sys.stdin.fileno(), deliver), daemon=True).start()
    return await WorkerHost(out, kinds, heartbeat).run(lines)


if __name__ == "__main__":  # ``python -m app.channels.worker`` (before the CLI knows the command)
    sys.exit(run_worker(sys.argv[1:]))
