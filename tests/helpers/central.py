"""The central office server on a real loopback port, enrolled appliances and signed requests.

``CentralServer(db_url, clock=FakeClock())`` runs ``create_app`` under uvicorn in a thread
(port 0) with an httpx client on it; ``enrolled_appliance(server)`` enrols a fresh Ed25519 key
through the real API; ``signed_post(server.http, appliance, body, timestamp)`` sends a batch
exactly as the agent does. The appliance-side and end-to-end tests reuse these.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.central.app import create_app
from app.central.db import open_engine
from app.central.enrolment import issue_code
from app.central.settings import CentralSettings
from app.central.tokens import issue_token
from app.sync import protocol

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()  # a fixed, mid-day start


def sqlite_url(folder: Path) -> str:
    """A SQLite database URL in ``folder``."""
    return f"sqlite:///{folder / 'central.sqlite3'}"


class FakeClock:
    """A clock the test moves by hand (unix seconds)."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CentralServer:
    """``create_app`` served by uvicorn in a thread on 127.0.0.1 (a free port)."""

    def __init__(
        self,
        db_url: str,
        clock: FakeClock | None = None,
        settings: CentralSettings | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.engine = open_engine(db_url)
        self.app = create_app(self.engine, settings, self.clock)
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        self._wait_started(sock)
        self.http = httpx.Client(base_url=self.url, timeout=10, trust_env=False)

    def _wait_started(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise AssertionError("central server did not start")
            time.sleep(0.02)

    def code(self, label: str = "Clínica Teste", ttl_hours: float = 24.0) -> str:
        """A one-time enrolment code (as ``clinicdesk central enroll`` makes)."""
        return issue_code(self.engine, label, self.clock(), ttl_hours)

    def token(self) -> str:
        """A new admin token (as ``clinicdesk central token`` makes)."""
        return issue_token(self.engine, self.clock())

    def admin(self, token: str | None = None) -> httpx.Client:
        """A client that sends an admin bearer token (a new one unless given)."""
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return httpx.Client(base_url=self.url, timeout=10, trust_env=False, headers=headers)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)
        self.http.close()
        self.engine.dispose()

    def __enter__(self) -> CentralServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextmanager
def central_server(
    db_url: str, clock: FakeClock | None = None, settings: CentralSettings | None = None
) -> Iterator[CentralServer]:
    """A running :class:`CentralServer`, stopped at the end of the block."""
    server = CentralServer(db_url, clock, settings)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class EnrolledAppliance:
    """An appliance the central knows: its id, label and private key."""

    appliance_id: str
    label: str
    key: Ed25519PrivateKey


def enrol(http: httpx.Client, code: str, key: Ed25519PrivateKey | None = None) -> httpx.Response:
    """``POST /api/v1/enroll`` with ``code`` and the public half of ``key`` (a new one)."""
    public = protocol.public_bytes(key or Ed25519PrivateKey.generate())
    body = {"code": code, "public_key": protocol.b64(public), "app_version": "1.0.0"}
    return http.post(protocol.ENROLL_PATH, json=body)


def enrolled_appliance(server: CentralServer, label: str = "Clínica Teste") -> EnrolledAppliance:
    """A new key pair enrolled through the real API with a fresh code."""
    key = Ed25519PrivateKey.generate()
    response = enrol(server.http, server.code(label), key)
    assert response.status_code == 200, response.text
    answer = response.json()
    return EnrolledAppliance(answer["appliance_id"], answer["label"], key)


def make_report(
    seq: int,
    created_at: float,
    *,
    channels: tuple[tuple[int, str], ...] = ((1, "CONNECTED"),),
    messages: tuple[int, int] = (3, 2),
    backup_age_h: float | None = 2.0,
    backup_error: str | None = None,
    queued: int = 0,
    dropped: int = 0,
) -> dict[str, Any]:
    """One schema-v1 report document (JSON-ready) for branch 1."""
    created = datetime.fromtimestamp(created_at, UTC)
    backup_at = None if backup_age_h is None else created - timedelta(hours=backup_age_h)
    figures = {
        "period_start": (created - timedelta(minutes=1)).isoformat(),
        "period_end": created.isoformat(),
        "system": {"app_version": "1.0.0", "uptime_s": 60.0, "disk_free_bytes": 10**9,
                   "db_bytes": 10**6},
        "branches": [{
            "branch_id": 1,
            "channels": [{"channel_id": cid, "kind": "simulator", "state": st}
                         for cid, st in channels],
            "messages_in": messages[0], "messages_out": messages[1],
            "tickets_opened": 1, "tickets_closed": 1,
        }],
        "backup": {"last_success": backup_at and backup_at.isoformat(), "last_error": backup_error},
        "audit": {"head_seq": seq * 10, "head_hash": "ab" * 32},
        "sync": {"queued": queued, "dropped_total": dropped},
    }  # fmt: skip
    return {"seq": seq, "created_at": created.isoformat(), "figures": figures}


def batch_body(appliance_id: str, reports: list[dict[str, Any]]) -> bytes:
    """The wire bytes of a ReportBatch."""
    return protocol.encode({"appliance_id": appliance_id, "reports": reports})


def signed_headers(
    key: Ed25519PrivateKey, appliance_id: str, body: bytes, timestamp: float
) -> dict[str, str]:
    """The signature headers the agent sends with ``body``."""
    signed = protocol.sign(key, appliance_id, protocol.REPORTS_PATH, body, int(timestamp))
    return signed.as_dict() | {"Content-Type": "application/json"}


def signed_post(
    http: httpx.Client, appliance: EnrolledAppliance, body: bytes, timestamp: float
) -> httpx.Response:
    """``POST /api/v1/reports`` signed by ``appliance`` at ``timestamp``."""
    headers = signed_headers(appliance.key, appliance.appliance_id, body, timestamp)
    return http.post(protocol.REPORTS_PATH, content=body, headers=headers)
