"""The sync agent's use cases: enrol with the central, make and preview reports, push now,
and status. The engine drives them (report job, sender task); the CLI and API call them.

Enrolment makes an Ed25519 key pair here; the private key stays in the encrypted store
(global setting ``sync.identity``) and only its public half goes to the central, with the
one-time code IT got from the central's dashboard.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import ValidationError

from app import __version__
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Clock
from app.store.store import Store
from app.sync import protocol as p
from app.sync import transport
from app.sync.outbox import (
    IDENTITY_KEY,
    SyncOutbox,
    load_state,
    next_seq,
    report_json,
    save_state,
)
from app.sync.report import Environment, ReportBuilder
from app.sync.schema import EnrollAnswer, EnrollRequest
from app.sync.sender import Identity, Sleep, SyncSender

INTERVAL_KEY = "sync.interval_s"
DEFAULT_INTERVAL_S = 60.0
MIN_INTERVAL_S = 1.0
PREVIEW_PERIOD = timedelta(minutes=1)  # before enrolment: what one minute's report would say


class SyncService:
    """Enrolment, reports, push-now and status around one store."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        env: Environment,
        auditor: Auditor,
        *,
        outbox: SyncOutbox | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor
        self._http_transport = http_transport
        self.outbox = outbox or SyncOutbox(store, clock)
        self.builder = ReportBuilder(store, clock, env)
        extra: dict[str, Any] = {"sleep": sleep} if sleep else {}
        self.sender = SyncSender(
            self.outbox, self.identity, clock, rng=rng, http_transport=http_transport, **extra
        )
        self.on_enrolled: Callable[[], Awaitable[None]] | None = None  # the engine's hook

    # ---- identity -------------------------------------------------------------------------

    async def identity(self) -> Identity | None:
        """The enrolled identity with its private key, or None."""
        raw = await self._store.read(lambda tx: tx.sync.load(IDENTITY_KEY))
        if raw is None:
            return None
        key = Ed25519PrivateKey.from_private_bytes(p.unb64(str(raw["private_key"])))
        ca_file = raw.get("ca_file")
        return Identity(
            str(raw["appliance_id"]),
            str(raw["central_url"]),
            key,
            str(ca_file) if ca_file else None,
        )

    async def public_identity(self) -> dict[str, object] | None:
        """The identity without the private key (status, API)."""
        raw = await self._store.read(lambda tx: tx.sync.load(IDENTITY_KEY))
        return {k: v for k, v in raw.items() if k != "private_key"} if raw else None

    async def enroll(
        self,
        actor: Actor,
        central_url: str,
        code: str,
        ca_file: str | None = None,
        *,
        force: bool = False,
    ) -> dict[str, object]:
        """Enrol with the central using IT's one-time ``code``; returns the public identity.

        Refuses when already enrolled unless ``force``. Errors: ``SYNC_HTTP_NOT_ALLOWED``,
        ``SYNC_BAD_CODE``, ``SYNC_CENTRAL_UNREACHABLE``, ``SYNC_TLS_FAILED``,
        ``SYNC_CA_FILE_INVALID``, ``SYNC_ALREADY_ENROLLED``.
        """
        url = transport.check_central_url(central_url)
        ca = str(Path(ca_file).expanduser().absolute()) if ca_file else None
        transport.ssl_context(ca)  # an unreadable CA file fails before any request
        if not force and await self.public_identity() is not None:
            raise ClinicDeskError(ErrorCode.SYNC_ALREADY_ENROLLED)
        key = Ed25519PrivateKey.generate()
        answer = await self._post_enrolment(url, ca, _request(code, key))
        identity: dict[str, object] = {
            "appliance_id": answer.appliance_id,
            "central_url": url,
            "private_key": p.b64(_raw(key)),
            "ca_file": ca,
            "label": answer.label[:120],
            "enrolled_at": self._clock.now().isoformat(),
        }
        await self._store.transaction(lambda tx: self._save_identity(tx, actor, identity))
        if self.on_enrolled is not None:
            await self.on_enrolled()
        return {k: v for k, v in identity.items() if k != "private_key"}

    def _save_identity(self, tx: Any, actor: Actor, identity: dict[str, object]) -> None:
        now = self._clock.now()
        tx.sync.save(IDENTITY_KEY, identity, now)
        state = load_state(tx.sync)
        if state.last_period_end is None:  # the first report covers the time since enrolment
            save_state(tx.sync, dataclasses.replace(state, last_period_end=now.isoformat()), now)
        target = AuditTarget("appliance", str(identity["appliance_id"]))
        self._auditor.record(tx, actor, "sync.enroll", target)

    async def _post_enrolment(self, url: str, ca: str | None, body: bytes) -> EnrollAnswer:
        headers = {"Content-Type": "application/json"}
        async with transport.client(ca, self._http_transport) as http:
            try:
                response = await http.post(url + p.ENROLL_PATH, content=body, headers=headers)
            except httpx.TransportError as exc:
                if transport.is_tls_error(exc):
                    raise ClinicDeskError(ErrorCode.SYNC_TLS_FAILED) from None
                reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
                raise ClinicDeskError(ErrorCode.SYNC_CENTRAL_UNREACHABLE, reason=reason) from None
        if response.status_code == 403:
            raise ClinicDeskError(ErrorCode.SYNC_BAD_CODE)
        if response.status_code != 200:
            reason = f"http_{response.status_code}"
            raise ClinicDeskError(ErrorCode.SYNC_CENTRAL_UNREACHABLE, reason=reason)
        try:
            return EnrollAnswer.model_validate_json(response.content)
        except ValidationError:
            raise ClinicDeskError(ErrorCode.SYNC_CENTRAL_UNREACHABLE, reason="bad_answer") from None

    async def _require_enrolled(self) -> dict[str, object]:
        identity = await self.public_identity()
        if identity is None:
            raise ClinicDeskError(ErrorCode.SYNC_NOT_ENROLLED)
        return identity

    # ---- reports --------------------------------------------------------------------------

    async def make_report(self) -> int:
        """Queue a report of the period since the last one; returns its seq and wakes the
        sender."""
        identity = await self._require_enrolled()
        start, now = await self._period_start(identity), self._clock.now()
        seq = await self.outbox.enqueue(await self.builder.figures(start, now))
        self.sender.wake()
        return seq

    async def preview(self) -> str:
        """The exact JSON the next report would carry if it were made now (not queued).

        Works before enrolment too, so IT can see what would leave the clinic before agreeing
        to it (the period is then the last :data:`PREVIEW_PERIOD`)."""
        identity, now = await self.public_identity(), self._clock.now()
        start = await self._period_start(identity) if identity else now - PREVIEW_PERIOD
        figures = await self.builder.figures(start, now)

        def work(tx: Any) -> tuple[int, int, int]:
            state = load_state(tx.sync)
            return next_seq(tx.sync, state), state.dropped_total, tx.sync.totals()[0]

        seq, dropped, queued = await self._store.read(work)
        return report_json(seq, now, figures, (dropped, queued), indent=2)

    async def _period_start(self, identity: dict[str, object]) -> datetime:
        state = await self.outbox.state()
        start = state.last_period_end or str(identity["enrolled_at"])
        return datetime.fromisoformat(start)

    async def push_now(self) -> dict[str, int]:
        """Send what is queued now; ``{sent, duplicates, left}`` when the central confirmed
        everything, else ``SYNC_REJECTED`` or ``SYNC_NOT_CONFIRMED`` (reports stay queued)."""
        await self._require_enrolled()
        result = await self.sender.send_pending()
        if result.rejected:
            raise ClinicDeskError(ErrorCode.SYNC_REJECTED, reason=str(result.error))
        if not result.ok:
            raise ClinicDeskError(
                ErrorCode.SYNC_NOT_CONFIRMED, left=result.left, reason=str(result.error)
            )
        return {"sent": result.sent, "duplicates": result.duplicates, "left": result.left}

    async def interval_s(self) -> float:
        """Seconds between reports (global setting ``sync.interval_s``, at least 1)."""
        raw = await self._store.read(lambda tx: tx.messaging.setting(0, INTERVAL_KEY))
        value = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        return max(MIN_INTERVAL_S, float(value)) if value is not None else DEFAULT_INTERVAL_S

    async def status(self) -> dict[str, object]:
        """Enrolment, queue, counters, last success and error, sender state, clock offset."""
        identity = await self.public_identity()
        state = await self.outbox.state()
        queued, size = await self.outbox.totals()
        return {
            "enrolled": identity is not None,
            "appliance_id": identity.get("appliance_id") if identity else None,
            "central_url": identity.get("central_url") if identity else None,
            "label": identity.get("label") if identity else None,
            "enrolled_at": identity.get("enrolled_at") if identity else None,
            "queued": queued,
            "queued_bytes": size,
            "dropped_total": state.dropped_total,
            "dead_letter_total": state.dead_letter_total,
            "last_success_at": state.last_success_at,
            "last_error": state.last_error,
            "state": self.sender.state.value,
            "clock_offset_s": state.clock_offset_s,
        }


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _request(code: str, key: Ed25519PrivateKey) -> bytes:
    try:
        request = EnrollRequest(
            code=code.strip().upper(),
            public_key=p.b64(p.public_bytes(key)),
            app_version=__version__,
        )
    except ValidationError:
        raise ClinicDeskError(ErrorCode.SYNC_BAD_CODE) from None
    return p.encode(request.model_dump())
