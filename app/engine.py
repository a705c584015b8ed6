"""The engine process: one per data directory, serving the API on loopback.

Start-up order: take the single-instance lock → unlock the data key → open and migrate the store
→ bind the socket → write ``engine.json`` (where it listens and the local admin token; 0600, only
the installing account can read it) → serve until SIGTERM/Ctrl+C → stop, remove ``engine.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from app.api.app import create_app
from app.bootstrap import (
    Core,
    build_backup_jobs,
    build_deaf_watch,
    build_reminder_scheduler,
    build_sender,
    build_supervisor,
    build_sync_agent,
    hostname,
    open_core,
)
from app.config import DataDir
from app.infra.engine_info import write_engine_info
from app.infra.listen import listening_socket
from app.infra.lock import SingleInstanceLock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to run the engine."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765
    insecure_key_storage: bool = False
    stop_after: float | None = None  # demo and tests: stop by itself after S seconds


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one); fails fast if the port is taken."""
    return listening_socket(host, port, backlog=128)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up out of the collector's sight.

    Modules, metadata and channel runtimes live as long as the engine; without this each full
    collection walked ~100,000 of them and paused the event loop 85-160 ms (benchmark notes in
    docs/PERFORMANCE.md).
    """
    gc.freeze()  # no gc.collect() first: on 100,000 objects that alone pauses ~300 ms


class EngineServer(uvicorn.Server):
    """uvicorn's server, minus one behaviour: after a graceful stop uvicorn re-raises the
    captured SIGTERM/SIGINT, which kills the process before the engine's own cleanup (draining
    the DB writer, withdrawing ``engine.json``). Here the signal only asks ``serve`` to return.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()  # private in uvicorn 0.3x-0.5x; tested


async def serve(
    core: Core, sock: socket.socket, meta: dict[str, object], stop_after: float | None = None
) -> None:
    """Run the channels and serve the API on ``sock`` until a shutdown signal (or
    ``stop_after`` seconds); then stop the channels (workers end, states are stored)."""
    supervisor = build_supervisor(core)
    core.channels.runtime = supervisor
    deaf_watch = build_deaf_watch(core, supervisor)
    deaf_watch.start()  # before the supervisor: it must see every channel come up
    await supervisor.start()
    sender = build_sender(core, supervisor)
    core.outbound.sender = sender
    await sender.start()
    reminders = build_reminder_scheduler(core)
    core.reminders.sender = sender
    await reminders.start()  # after the sender: a reminder due now is queued and sent at once
    backup_jobs = build_backup_jobs(core, reminders)  # one scheduler: the reminders' one
    if backup_jobs is not None:
        backup_jobs.install()
    sync_agent = build_sync_agent(core, reminders)  # reports to the central, when enrolled
    if sync_agent is not None:
        await sync_agent.start()
    freeze_startup_objects()
    try:
        await _serve_api(core, sock, meta, stop_after)
    finally:
        if sync_agent is not None:
            await sync_agent.stop()  # reports stay queued in the store
        await reminders.stop()
        core.reminders.sender = None
        core.outbound.sender = None
        await sender.stop()  # before the channels: a send in flight may still finish
        await deaf_watch.stop()  # no fresh session may start while the channels stop
        core.channels.runtime = None
        await supervisor.stop()


async def _serve_api(
    core: Core, sock: socket.socket, meta: dict[str, object], stop_after: float | None
) -> None:
    app = create_app(core, meta)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = EngineServer(config)
    if stop_after is not None:
        asyncio.get_running_loop().call_later(stop_after, setattr, server, "should_exit", True)
    await server.serve(sockets=[sock])


def run_engine(options: EngineOptions, on_ready: Callable[[Core, str], None] | None = None) -> int:
    """Run the engine in the foreground; returns the process exit code.

    ``on_ready(core, url)`` runs once the store is open and the socket bound (the demo uses it).
    """
    data_dir = DataDir(options.data_dir)
    with SingleInstanceLock(data_dir.engine_lock):
        core = open_core(data_dir.root, insecure=options.insecure_key_storage)
        try:
            return serve_core(core, data_dir, options, on_ready)
        finally:
            core.close()


def serve_core(
    core: Core,
    data_dir: DataDir,
    options: EngineOptions,
    on_ready: Callable[[Core, str], None] | None = None,
) -> int:
    """Bind, publish ``engine.json``, serve until stopped, then withdraw ``engine.json``."""
    sock = bind_socket(options.host, options.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    token = core.tokens.issue(None, f"cli@{hostname()}", expires=False)
    write_engine_info(data_dir, url, token)
    meta: dict[str, object] = {"url": url, "data_dir": str(data_dir.root)}
    meta["insecure_key_storage"] = options.insecure_key_storage
    log.info("engine listening", extra={"code": "engine.listening"})
    if on_ready is not None:
        on_ready(core, url)
    try:
        asyncio.run(serve(core, sock, meta, options.stop_after))
    finally:
        with contextlib.suppress(FileNotFoundError):
            data_dir.engine_info.unlink()
        sock.close()
    log.info("engine stopped", extra={"code": "engine.stopped"})
    return 0
