"""A small, real central office for the sync agent's tests: FastAPI served by uvicorn on a
loopback port (optionally HTTPS), speaking the wire contract of :mod:`app.sync.protocol`.

It verifies signatures, freshness and nonces, validates :class:`ReportBatch`, stores each
``(appliance, seq)`` once (duplicates are counted, never stored twice), and can be switched to
misbehave: answer 503, 429 with Retry-After, stale_timestamp, unknown_appliance or 422; close
the connection before or after storing; or claim a higher ``last_seq`` (a restored appliance).
The real central (app/central) is tested by its own engineer; end-to-end tests against it can
reuse :class:`CentralServer` with its app.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.sync import protocol as p
from app.sync.schema import EnrollAnswer, EnrollRequest, ReportBatch

LABEL = "Clínica Teste"


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused until used)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Fault:
    """Misbehave ``times`` times (None: until changed) as ``mode``."""

    mode: str = "ok"  # ok, 503, 429, stale, unknown, revoked, 422, reset, reset_after_store
    times: int | None = None
    retry_after: str = "7"


@dataclass
class CentralState:
    """Everything the fake central knows; tests read it directly."""

    codes: set[str] = field(default_factory=set)
    keys: dict[str, bytes] = field(default_factory=dict)  # appliance id -> public key
    stored: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    inserts: list[tuple[str, int]] = field(default_factory=list)  # every row ever stored
    duplicates: int = 0
    nonces: set[str] = field(default_factory=set)
    requests: int = 0
    last_seq_floor: int = 0  # answer at least this last_seq (as if older reports existed)
    fault: Fault = field(default_factory=Fault)
    now: Callable[[], float] = time.time
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_code(self) -> str:
        code = "-".join(secrets.token_hex(3).upper().translate(_B32) for _ in range(3))
        self.codes.add(code)
        return code

    def seqs(self, appliance: str) -> list[int]:
        return sorted(seq for who, seq in self.stored if who == appliance)

    def take_fault(self) -> str:
        with self.lock:
            fault = self.fault
            if fault.mode == "ok":
                return "ok"
            if fault.times is not None:
                fault.times -= 1
                if fault.times < 0:
                    self.fault = Fault()
                    return "ok"
            return fault.mode


_B32 = str.maketrans("0189", "ABCD")  # hex digits outside base32's alphabet


def _reject(status: int, error: str, now: float, **headers: str) -> JSONResponse:
    body = {"error": error, "detail": "", "server_time": int(now)}
    return JSONResponse(body, status_code=status, headers=headers)


def build_app(state: CentralState) -> FastAPI:
    """The fake central's routes over ``state``."""
    app = FastAPI()

    @app.post(p.ENROLL_PATH)
    async def enroll(request: Request) -> Any:
        try:
            body = EnrollRequest.model_validate_json(await request.body())
        except ValidationError:
            return _reject(422, p.REJECT_MALFORMED, state.now())
        if body.code not in state.codes:
            return _reject(403, "bad_code", state.now())
        state.codes.discard(body.code)
        appliance = secrets.token_hex(16)
        state.keys[appliance] = p.unb64(body.public_key)
        return EnrollAnswer(appliance_id=appliance, label=LABEL, server_time=int(state.now()))

    @app.post(p.REPORTS_PATH)
    async def reports(request: Request) -> Any:
        raw = await request.body()
        state.requests += 1
        return _ingest(state, dict(request.headers), raw)

    return app


def _ingest(state: CentralState, headers: dict[str, str], raw: bytes) -> Any:
    now = state.now()
    fault = state.take_fault()
    if fault in ("503", "429"):
        return _reject(int(fault), "busy", now, **{"Retry-After": state.fault.retry_after})
    if fault == "stale":
        return _reject(401, p.REJECT_STALE, now)
    if fault in ("unknown", "revoked"):
        error = p.REJECT_REVOKED if fault == "revoked" else p.REJECT_UNKNOWN_APPLIANCE
        return _reject(403 if fault == "revoked" else 401, error, now)
    if fault == "422":
        return _reject(422, p.REJECT_MALFORMED, now)
    try:
        signed = p.SignedHeaders(
            headers[p.H_APPLIANCE.lower()],
            int(headers[p.H_TIMESTAMP.lower()]),
            headers[p.H_NONCE.lower()],
            headers[p.H_SIGNATURE.lower()],
        )
    except (KeyError, ValueError):
        return _reject(401, p.REJECT_BAD_SIGNATURE, now)
    key = state.keys.get(signed.appliance)
    if key is None:
        return _reject(401, p.REJECT_UNKNOWN_APPLIANCE, now)
    if not p.verify(key, signed, p.REPORTS_PATH, raw):
        return _reject(401, p.REJECT_BAD_SIGNATURE, now)
    if not p.is_fresh(signed.timestamp, now):
        return _reject(401, p.REJECT_STALE, now)
    if signed.nonce in state.nonces:
        return _reject(409, p.REJECT_REPLAYED, now)
    state.nonces.add(signed.nonce)
    if len(raw) > p.MAX_BODY_BYTES:
        return _reject(413, p.REJECT_TOO_LARGE, now)
    try:
        batch = ReportBatch.model_validate_json(raw)
    except ValidationError:
        return _reject(422, p.REJECT_MALFORMED, now)
    if batch.appliance_id != signed.appliance:
        return _reject(401, p.REJECT_BAD_SIGNATURE, now)
    return _store(state, batch, now)


def _store(state: CentralState, batch: ReportBatch, now: float) -> dict[str, int]:
    accepted = duplicates = 0
    with state.lock:
        for report in batch.reports:
            key = (batch.appliance_id, report.seq)
            if key in state.stored:
                duplicates += 1
                continue
            state.stored[key] = report.model_dump(mode="json")
            state.inserts.append(key)
            accepted += 1
        state.duplicates += duplicates
        mine = state.seqs(batch.appliance_id)
    last = max([state.last_seq_floor, *mine])
    return {
        "accepted": accepted,
        "duplicates": duplicates,
        "last_seq": last,
        "server_time": int(now),
    }


class _Resetter:
    """Outermost ASGI layer: in the reset modes the connection is aborted (before the app
    runs, or after it stored the batch and before the answer goes out)."""

    def __init__(self, app: FastAPI, state: CentralState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ours = scope["type"] == "http" and scope["path"] == p.REPORTS_PATH
        mode = self.state.take_fault() if ours and "reset" in self.state.fault.mode else "ok"
        if mode == "ok":
            await self.app(scope, receive, send)
            return
        if mode == "reset_after_store":
            held, self.state.fault = self.state.fault, Fault()  # the app below must store

            async def swallow(_message: Any) -> None:
                return None

            await self.app(scope, receive, swallow)
            self.state.fault = held if held.times != 0 else Fault()
        send.__self__.transport.abort()  # uvicorn's RequestResponseCycle


class CentralServer:
    """The fake central on a loopback port, in a thread; HTTPS when given a cert and key."""

    def __init__(
        self,
        state: CentralState | None = None,
        *,
        port: int | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        app: Any = None,
    ) -> None:
        self.state = state or CentralState()
        self.port = port or free_port()
        scheme = "https" if certfile else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        asgi = app or _Resetter(build_app(self.state), self.state)
        tls: dict[str, Any] = (
            {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)} if certfile else {}
        )
        config = uvicorn.Config(
            asgi, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off", **tls
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> CentralServer:
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            assert time.monotonic() < deadline, "fake central did not start"
            assert self._thread.is_alive(), "fake central thread died"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)

    def __enter__(self) -> CentralServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
