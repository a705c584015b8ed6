"""A real ``channel-worker`` process, driven over its stdin/stdout like the engine does."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.channels.protocol import (
    MAX_LINE_BYTES,
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

REPO = Path(__file__).resolve().parents[2]
ECHO = "simulator=tests.helpers.echo_transport:make_echo_transport"
WORKER = (sys.executable, "-m", "app.channels.worker", "--heartbeat", "0.2", "--transport", ECHO)
WAIT = 20.0


class WorkerPipe:
    """The worker process plus a thread that decodes its stdout into a queue."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            WORKER, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.lines: queue.Queue[Message | None] = queue.Queue()
        self._ids = iter(range(1, 10_000))
        self.events: list[EventMessage] = []  # events seen while waiting for something else
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(decode(line))
        self.lines.put(None)

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next(self, kind: type, timeout: float = WAIT) -> Any:
        """The next message of ``kind`` (heartbeats and events in between are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.lines.get(timeout=left)
            if msg is None:
                raise EOFError("worker exited")
            if isinstance(msg, kind):
                return msg
            if isinstance(msg, EventMessage):
                self.events.append(msg)
        raise TimeoutError(kind.__name__)

    def event(self) -> EventMessage:
        """The oldest event not looked at yet."""
        if self.events:
            return self.events.pop(0)
        event: EventMessage = self.next(EventMessage)
        return event

    def call(self, op: Op, **args: Any) -> Result:
        request_id = next(self._ids)
        self.write(encode(Request(request_id, op, args)))
        return self.result(request_id)

    def result(self, request_id: int) -> Result:
        while True:
            result: Result = self.next(Result)
            if result.id == request_id:
                return result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def worker() -> Iterator[WorkerPipe]:
    pipe = WorkerPipe()
    yield pipe
    pipe.close()


def open_channel(worker: WorkerPipe, tmp_path: Path, kind: str = "simulator") -> Result:
    return worker.call(Op.OPEN, channel="1", kind=kind, config={}, private_dir=str(tmp_path))


def test_hello_then_heartbeats_and_ping(worker: WorkerPipe) -> None:
    hello: Hello = worker.next(Hello)
    assert (hello.version, hello.pid) == (1, worker.proc.pid)
    assert "simulator" in hello.kinds
    assert worker.call(Op.PING) == Result(1, True, "pong")
    worker.next(Heartbeat)
    worker.next(Heartbeat)


@pytest.mark.parametrize(
    ("line", "answered"),
    [
        (b"this is not json\n", False),
        (b'{"v": 1, "op": "explode", "id": 77}\n', True),
        (b'{"v": 9, "op": "ping", "id": 77}\n', True),
        (b'{"v": 1, "op": "send_text", "id": 77, "channel": "1"}\n', True),
        (b'{"v": 1, "op": "heartbeat", "at": 1, "id": 77}\n', True),
    ],
    ids=["not_json", "unknown_op", "wrong_version", "missing_fields", "not_a_request"],
)
def test_malformed_line_gets_an_error_and_the_worker_keeps_serving(
    worker: WorkerPipe, line: bytes, answered: bool
) -> None:
    worker.write(line)
    if answered:
        result = worker.result(77)
        assert not result.ok and result.error is not None
        assert result.error.code == "worker.protocol_error"
    assert worker.call(Op.PING).value == "pong"


def test_oversized_line_is_skipped_and_the_worker_keeps_serving(worker: WorkerPipe) -> None:
    worker.write(b'{"v":1,"op":"ping","id":5,"pad":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n')
    assert worker.call(Op.PING).value == "pong"


def test_transport_calls_events_and_errors(worker: WorkerPipe, tmp_path: Path) -> None:
    assert open_channel(worker, tmp_path).ok
    assert open_channel(worker, tmp_path).ok  # idempotent
    assert worker.call(Op.CONNECT, channel="1").ok
    event = worker.event()
    assert (event.channel, event.event.reason) == ("1", "not_paired")
    sent = worker.call(Op.SEND_TEXT, channel="1", to="x@s.whatsapp.net", text="oi", key="k1")
    assert sent.value == "wa-k1"
    failed = worker.call(Op.SEND_TEXT, channel="1", to="x", text="boom", key="k2")
    assert failed.error is not None and failed.error.code == "send.failed"
    assert failed.error.params["kind"] == "bad_recipient"
    crashed = worker.call(Op.SEND_TEXT, channel="1", to="x", text="crash", key="k3")
    assert crashed.error is not None and crashed.error.code == "worker.transport_error"
    assert worker.call(Op.PING).value == "pong"


def test_unknown_channel_and_unsupported_kind(worker: WorkerPipe, tmp_path: Path) -> None:
    unknown = worker.call(Op.CONNECT, channel="404")
    assert unknown.error is not None and unknown.error.code == "entity.not_found"
    unsupported = open_channel(worker, tmp_path, kind="cloud-api")
    assert unsupported.error is not None and unsupported.error.code == "channel.kind_unsupported"


def test_end_of_stdin_ends_the_worker(worker: WorkerPipe) -> None:
    worker.next(Hello)
    assert worker.proc.stdin is not None
    worker.proc.stdin.close()
    assert worker.proc.wait(WAIT) == 0


def test_shutdown_answers_then_exits(worker: WorkerPipe, tmp_path: Path) -> None:
    assert open_channel(worker, tmp_path).ok
    assert worker.call(Op.SHUTDOWN).ok
    assert worker.proc.wait(WAIT) == 0


def test_stray_prints_do_not_reach_the_protocol_stream(tmp_path: Path) -> None:
    """A library printing to fd 1 (as neonize's Go code does) lands on stderr instead."""
    code = (
        "import os, sys; from app.channels import worker as w; out = w._claim_stdout(); "
        "print('stray'); os.write(1, b'go-stray\\n'); out.send(w.Heartbeat(1.0))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=WAIT, check=True
    )
    assert json.loads(proc.stdout) == {"v": 1, "op": "heartbeat", "at": 1.0}
    assert b"stray" in proc.stderr and b"go-stray" in proc.stderr
