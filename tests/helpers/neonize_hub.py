"""The test side of the fake neonize Go boundary (tests/helpers/fake_neonize.py).

Each fake worker process connects to :class:`FakeHub` on loopback; the hub tells them apart by
the channel key in the client uuids they report (``<channel>#<n>-<hex>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
from typing import Any

from tests.helpers.channels import wait_for

WORKER_COMMAND = (sys.executable, "-m", "tests.helpers.fake_neonize")


class FakeWorker:
    """One fake worker process: its notes and a command channel to its FakeGo."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.notes: list[dict[str, Any]] = []
        self.pid: int | None = None
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    @property
    def channel(self) -> str | None:
        for note in self.notes:
            if note.get("note") == "started":
                return str(note["uuid"]).split("#", 1)[0]
        return None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [n for n in self.notes if n.get("note") == kind]

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        rid = next(self._ids)
        future = self._replies[rid] = asyncio.get_running_loop().create_future()
        self.writer.write(json.dumps({"id": rid, "cmd": cmd, **args}).encode() + b"\n")
        await self.writer.drain()
        reply = await asyncio.wait_for(future, 15)
        assert reply.get("ok"), reply
        return reply

    async def event(self, type_name: str, **fields: Any) -> dict[str, Any]:
        """Emit a Neonize.proto event (JSON field names) on the current client."""
        return await self.call("event", type=type_name, fields=fields)

    def _on(self, body: dict[str, Any]) -> None:
        if "note" in body:
            if body["note"] == "hello":
                self.pid = int(body["pid"])
            self.notes.append(body)
            return
        future = self._replies.pop(int(body.get("id") or 0), None)
        if future is not None and not future.done():
            future.set_result(body)


class FakeHub:
    """Loopback control server for every fake worker of a test."""

    def __init__(self) -> None:
        self.workers: list[FakeWorker] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for worker in self.workers:
            worker.writer.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        worker = FakeWorker(writer)
        self.workers.append(worker)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while line := await reader.readline():
                worker._on(json.loads(line))

    def find(self, channel: str) -> FakeWorker | None:
        """The newest fake worker hosting ``channel`` (after a restart, the new process)."""
        found = [w for w in self.workers if w.channel == channel]
        return found[-1] if found else None

    async def worker(self, channel: str) -> FakeWorker:
        found: FakeWorker = await wait_for(lambda: self.find(channel), f"fake worker {channel}")
        return found
