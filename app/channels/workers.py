"""Engine side of a channel worker: the OS process, its request plumbing, and its restarts.

:class:`WorkerProcess` is one incarnation of ``clinicdesk channel-worker``: it matches results
to request ids, forwards events, relays the worker's stderr to the engine's log, and kills the
process when heartbeats stop (a hung Go runtime cannot be interrupted any other way).

:class:`WorkerSlot` keeps one worker alive for a set of channels: it restarts the process after
it exits or hangs, waiting a per-slot exponential backoff with full jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from app.channels.protocol import (
    MAX_LINE_BYTES,
    VERSION,
    ErrorInfo,
    EventMessage,
    Hello,
    Message,
    Op,
    Request,
    Result,
    decode,
    encode,
)
from app.domain.channels import Backoff, Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.transport import SendFailedError, SendFailureKind, TransportEvent

log = logging.getLogger(__name__)
worker_log = logging.getLogger("app.channels.worker.stderr")

SEND_FAILED = "send.failed"  # mirrors app.channels.worker.SEND_FAILED
STABLE_AFTER = 30.0  # a worker that lived this long restarts from the smallest backoff again
HELLO_TIMEOUT = 20.0  # a cold start (antivirus scans, slow disks) may take a while


def raise_error(error: ErrorInfo | None) -> None:
    """Re-raise a worker's error answer as the exception the transport raised."""
    error = error or ErrorInfo(ErrorCode.WORKER_PROTOCOL.value)
    params = dict(error.params)
    if error.code == SEND_FAILED:
        raise SendFailedError(
            SendFailureKind(str(params.get("kind", "transient"))),
            str(params.get("code", "")),
            retry_after=_number(params.get("retry_after")),
            ambiguous=bool(params.get("ambiguous")),
        )
    try:
        code = ErrorCode(error.code)
    except ValueError:
        code, params = ErrorCode.WORKER_PROTOCOL, {"reason": error.code, **params}
    raise ClinicDeskError(code, **params)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class WorkerProcess:
    """One running worker process (spawn with :meth:`start`)."""

    def __init__(
        self,
        command: Sequence[str],
        on_event: Callable[[str, TransportEvent], asyncio.Event | None],
        heartbeat_timeout: float,
        request_timeout: float = 120.0,
    ) -> None:
        self._command = tuple(command)
        self._on_event = on_event
        self._timeout = heartbeat_timeout
        self._request_timeout = request_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._hello: asyncio.Future[Hello] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.last_seen = 0.0
        self.hung = False
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> Hello:
        """Spawn the process and wait for its hello; kills it and raises if none comes in time."""
        loop = asyncio.get_running_loop()
        self._hello = loop.create_future()
        self._proc = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=MAX_LINE_BYTES + 1024,
        )
        self.started_at = self.last_seen = loop.time()
        self._tasks = [asyncio.create_task(c) for c in (self._read(), self._relay())]
        hello = await self._await_hello()
        self._tasks.append(asyncio.create_task(self._watch()))  # heartbeats count from hello on
        return hello

    async def _await_hello(self) -> Hello:
        assert self._hello is not None
        try:
            timeout = max(HELLO_TIMEOUT, self._timeout)
            hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        except (TimeoutError, ClinicDeskError):
            self.kill()
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING, reason="no_hello") from None
        if hello.version != VERSION:
            self.kill()
            raise ClinicDeskError(ErrorCode.WORKER_PROTOCOL, reason="unsupported_version")
        return hello

    async def wait(self) -> int:
        """Wait until the process has exited and its output is drained; returns the exit code."""
        assert self._proc is not None
        code = await self._proc.wait()
        await asyncio.gather(*self._tasks[:2], return_exceptions=True)
        for task in self._tasks[2:]:
            task.cancel()
        self._fail_pending()
        return code

    async def request(self, op: Op, *, timeout: float | None = None, **args: Any) -> Any:
        """Send one request and return its value; raises what the worker reported."""
        if self._proc is None or self._proc.stdin is None or self._proc.returncode is not None:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING)
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._write(Request(request_id, op, args))
            return await asyncio.wait_for(future, timeout or self._request_timeout)
        except TimeoutError:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING, reason="timeout") from None
        finally:
            self._pending.pop(request_id, None)

    def notify(self, op: Op, **args: Any) -> None:
        """Send a request without waiting for its answer (the answer is dropped on arrival).

        For acknowledgements: under a burst the worker's answers queue behind its events, so
        awaiting each one kept thousands of futures and timers alive in the engine.
        """
        if self._proc is None or self._proc.stdin is None or self._proc.returncode is not None:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING)
        self._write(Request(next(self._ids), op, args))

    def _write(self, msg: Message) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(encode(msg))
        except (ConnectionError, RuntimeError):
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING, reason="pipe_closed") from None

    async def shutdown(self, timeout: float) -> None:
        """Ask the worker to stop its transports and exit; kill it if it does not in time."""
        if self._proc is None or self._proc.returncode is not None:
            return
        with contextlib.suppress(ClinicDeskError):
            await self.request(Op.SHUTDOWN, timeout=timeout)
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self._proc.wait()

    def kill(self) -> None:
        """Kill the process at once (SIGKILL on POSIX, TerminateProcess on Windows)."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    # ---- background tasks ---------------------------------------------------------------

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        while True:
            try:
                line = await stdout.readline()
            except ValueError:  # longer than the cap; asyncio already skipped it
                log.warning("worker line too long", extra={"code": "worker.protocol_error"})
                continue
            if not line:
                return
            room = self._on_line(line)
            if room is not None:
                await self._wait_for(room)
            else:
                # readline() does not suspend while lines are buffered: after a storm a
                # worker's 250 buffered events would wake 250 channel consumers in one loop
                # iteration. Yielding per line lets them run as they arrive.
                await asyncio.sleep(0)

    async def _wait_for(self, room: asyncio.Event) -> None:
        """Stop reading until a channel's backlog has room. The engine is the slow side
        here, not the worker, so the heartbeat watchdog keeps counting it as alive."""
        loop = asyncio.get_running_loop()
        while not room.is_set():
            self.last_seen = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.wait(), 1.0)
        self.last_seen = loop.time()

    def _on_line(self, line: bytes) -> asyncio.Event | None:
        self.last_seen = asyncio.get_running_loop().time()
        try:
            msg = decode(line)
        except ClinicDeskError as exc:
            log.warning("bad worker line: %s", exc.params.get("reason"), extra={"code": exc.code})
            return None
        return self._dispatch(msg)

    def _dispatch(self, msg: Message) -> asyncio.Event | None:
        """Hand ``msg`` on; an event to wait on when its channel's backlog is full."""
        if isinstance(msg, EventMessage):
            return self._on_event(msg.channel, msg.event)
        if isinstance(msg, Result):
            self._resolve(msg)
        elif isinstance(msg, Hello) and self._hello is not None and not self._hello.done():
            self._hello.set_result(msg)
        return None

    def _resolve(self, result: Result) -> None:
        future = self._pending.get(result.id)
        if future is None or future.done():
            return  # an answer to a notification, or after its request timed out
        if result.ok:
            future.set_result(result.value)
            return
        try:
            raise_error(result.error)
        except (ClinicDeskError, SendFailedError) as exc:
            future.set_exception(exc)

    async def _relay(self) -> None:
        """Copy the worker's log lines (stderr) into the engine's log."""
        assert self._proc is not None and self._proc.stderr is not None
        pid = self._proc.pid
        with contextlib.suppress(ValueError):
            async for raw in self._proc.stderr:
                worker_log.info("[worker %s] %s", pid, raw.decode(errors="replace").rstrip())

    async def _watch(self) -> None:
        """Kill the process when nothing (heartbeat or otherwise) arrived for the timeout."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._timeout / 4)
            if loop.time() - self.last_seen > self._timeout:
                self.hung = True
                log.warning("worker %s stopped answering; killing it", self.pid)
                self.kill()
                return

    def _fail_pending(self) -> None:
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING))


@dataclass(frozen=True, slots=True)
class SlotHooks:
    """What a slot tells its owner: events, the worker being ready, and the worker going down."""

    on_event: Callable[[str, TransportEvent], asyncio.Event | None]
    on_ready: Callable[[WorkerSlot], Coroutine[Any, Any, None]]
    on_down: Callable[[WorkerSlot, Reason], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class SlotConfig:
    command: tuple[str, ...]
    heartbeat_timeout: float
    backoff: Backoff
    shutdown_timeout: float = 10.0


class WorkerSlot:
    """Keeps one worker process alive for ``channels`` until :meth:`stop`."""

    def __init__(
        self, kind: str, capacity: int, config: SlotConfig, hooks: SlotHooks, rng: random.Random
    ) -> None:
        self.kind, self.capacity = kind, capacity
        self.channels: set[str] = set()
        self.process: WorkerProcess | None = None
        self.ready = False
        self.restarts = 0
        self._config, self._hooks, self._rng = config, hooks, rng
        self._attempt = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ready_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.ready else None

    def start(self) -> None:
        """Run the keep-alive loop in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"worker-slot-{self.kind}")

    async def request(self, op: Op, **args: Any) -> Any:
        """Send a request to the current worker; ``CHANNEL_NOT_RUNNING`` while there is none."""
        if not self.ready or self.process is None:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING)
        return await self.process.request(op, **args)

    def notify(self, op: Op, **args: Any) -> None:
        """:meth:`WorkerProcess.notify` on the current worker; ``CHANNEL_NOT_RUNNING`` if none."""
        if not self.ready or self.process is None:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING)
        self.process.notify(op, **args)

    async def _run(self) -> None:
        while not self._stopping:
            reason = await self._one_life()
            if self._stopping:
                return
            self.restarts += 1
            await self._hooks.on_down(self, reason)
            await asyncio.sleep(self._config.backoff.delay(self._attempt, self._rng.random()))
            self._attempt += 1

    async def _one_life(self) -> Reason:
        """Run one worker process from spawn to exit; returns why it ended."""
        self.process = WorkerProcess(
            self._config.command, self._hooks.on_event, self._config.heartbeat_timeout
        )
        try:
            await self.process.start()
        except (ClinicDeskError, OSError) as exc:
            log.warning("worker for %s failed to start: %s", self.kind, exc)
            return Reason.WORKER_CRASHED
        self.ready = True
        self._ready_task = asyncio.create_task(self._hooks.on_ready(self))
        code = await self.process.wait()
        return self._ended(code)

    def _ended(self, code: int) -> Reason:
        assert self.process is not None
        self.ready = False
        lived = asyncio.get_running_loop().time() - self.process.started_at
        if lived >= STABLE_AFTER:
            self._attempt = 0
        if not self._stopping:
            log.warning("worker %s (%s) exited with %s", self.process.pid, self.kind, code)
        return Reason.WORKER_HUNG if self.process.hung else Reason.WORKER_CRASHED

    async def stop(self) -> None:
        """Shut the worker down gracefully (kill after the timeout); no restart follows."""
        self._stopping = True
        self.ready = False
        if self.process is not None:
            await self.process.shutdown(self._config.shutdown_timeout)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                self._task.cancel()
                await self._task
