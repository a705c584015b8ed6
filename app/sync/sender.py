"""The sync sender: posts queued reports to the central, oldest first, until the outbox is
empty, with an explicit state machine (docs/SYNC.md "Sender states").

- IDLE: nothing to send; waits until a report is queued (:meth:`SyncSender.wake`).
- SENDING: posting batches (≤ ``MAX_BATCH_REPORTS`` reports and ≤ ``MAX_BATCH_BYTES``).
- BACKOFF: the last attempt failed on the network, a timeout, 429 or 5xx; the next one waits
  a full-jitter exponential delay (1 s doubling to 300 s), never less than ``Retry-After``.
- REJECTED: the central refuses our identity (unknown appliance, bad signature, revoked);
  reports are kept and the agent tries again slowly (hourly) in case IT fixes it centrally.
- STOPPED: the engine stopped the task.

A 200 deletes exactly the batch's seqs (accepted and duplicates both mean "the central has
it"). Each attempt is signed anew (fresh nonce; timestamp = now + clock offset). Logs carry
codes only: never bodies, figures or URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from app.domain.errors import ClinicDeskError
from app.services.ports import Clock
from app.services.ports_sync import QueuedReport
from app.sync import protocol as p
from app.sync import transport
from app.sync.outbox import SyncOutbox
from app.sync.schema import IngestAnswer, Rejection

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MALFORMED = frozenset({400, 413, 422})
REFUSALS = frozenset({p.REJECT_UNKNOWN_APPLIANCE, p.REJECT_BAD_SIGNATURE, p.REJECT_REVOKED})
BATCH_OVERHEAD = 128  # {"appliance_id": …, "reports": [ … ]} around the reports


class SenderState(StrEnum):
    IDLE = "idle"
    SENDING = "sending"
    BACKOFF = "backoff"
    REJECTED = "rejected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this appliance is to the central, and how to reach it."""

    appliance_id: str
    central_url: str
    key: Ed25519PrivateKey
    ca_file: str | None = None


@dataclass
class PassResult:
    """One pass over the outbox: what the central confirmed, what is left, and why it
    stopped early (``error`` is a code; ``rejected`` when our identity was refused)."""

    sent: int = 0
    duplicates: int = 0
    left: int = 0
    error: str | None = None
    rejected: bool = False
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base·2ⁿ)), never below a
    floor the central asked for."""

    rng: random.Random
    base: float = 1.0
    cap: float = 300.0
    failures: int = 0

    def next_delay(self, floor: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 32))
        self.failures += 1
        return max(floor or 0.0, self.rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class _Attempt:
    """What the central said to one batch."""

    status: str  # "ok", "jump", "retry", "rejected", "malformed"
    accepted: int = 0
    duplicates: int = 0
    code: str | None = None
    retry_after: float | None = None


@dataclass
class _Notes:
    """What has been logged already, so a failure streak logs one line (and one recovery)."""

    failing: bool = False
    rejected_logged: bool = False


class SyncSender:
    """Delivers the outbox to the central; see the module docstring for the states."""

    def __init__(
        self,
        outbox: SyncOutbox,
        identity: Callable[[], Awaitable[Identity | None]],
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        rejected_retry_s: float = 3600.0,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._outbox, self._identity, self._clock = outbox, identity, clock
        self._sleep = sleep
        self.backoff = Backoff(rng or random.Random())  # noqa: S311 - jitter, not secrets
        self.rejected_retry_s = rejected_retry_s
        self._http_transport = http_transport
        self.state = SenderState.IDLE
        self.attempts = 0  # HTTP requests made (tests check that backoff prevents a storm)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._notes = _Notes()
        self._http: httpx.AsyncClient | None = None
        self._http_ca: str | None = None

    # ---- the background task ------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._wake.set()  # whatever is queued from before goes out at once
            self._task = asyncio.create_task(self._run(), name="sync-sender")

    async def stop(self) -> None:
        """Stop the background task (a request in flight is cancelled; its reports stay)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_client()
        self.state = SenderState.STOPPED

    async def _client(self, identity: Identity) -> httpx.AsyncClient:
        """One client (pooled connections, one TLS context) while the CA stays the same."""
        if self._http is None or self._http_ca != identity.ca_file:
            await self._close_client()
            self._http = transport.client(identity.ca_file, self._http_transport)
            self._http_ca = identity.ca_file
        return self._http

    async def _close_client(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    def wake(self) -> None:
        """A report was queued: an IDLE sender sends now (BACKOFF and REJECTED keep waiting)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = await self.step()
            while delay is not None:
                await self._sleep(delay)
                delay = await self.step()

    async def step(self) -> float | None:
        """One pass and the state it leads to; returns the seconds to wait before the next
        pass, or None when the outbox is empty (IDLE: wait for a wake)."""
        try:
            result = await self.send_pending()
        except ClinicDeskError as exc:  # e.g. an unreadable CA file: keep trying, slowly
            result = PassResult(error=exc.code.value)
        except Exception:  # never let the task die: the engine would stop reporting silently
            log.exception("sync pass crashed", extra={"code": "sync.crashed"})
            result = PassResult(error="crashed")
        return self._after(result)

    def _after(self, result: PassResult) -> float | None:
        if result.ok:
            self.state = SenderState.IDLE
            return None
        if result.rejected:
            self.state = SenderState.REJECTED
            return self.rejected_retry_s
        if result.error == "not_enrolled":
            self.state = SenderState.IDLE
            return None
        self.state = SenderState.BACKOFF
        return self.backoff.next_delay(result.retry_after)

    # ---- one pass -----------------------------------------------------------------------

    async def send_pending(self) -> PassResult:
        """Post everything queued (including what is queued meanwhile) until the outbox is
        empty or an attempt fails. One pass at a time (push-now and the task share it)."""
        async with self._lock:
            identity = await self._identity()
            if identity is None:
                return PassResult(error="not_enrolled", left=(await self._outbox.totals())[0])
            self.state = SenderState.SENDING
            result = await self._pass(identity)
            result.left = (await self._outbox.totals())[0]
            await self._record(result)
            return result

    async def _pass(self, identity: Identity) -> PassResult:
        result = PassResult()
        http = await self._client(identity)
        while batch := await self._outbox.batch(
            p.MAX_BATCH_REPORTS, p.MAX_BATCH_BYTES - BATCH_OVERHEAD
        ):
            attempt = await self._deliver(http, identity, batch)
            if attempt.status != "ok":
                result.error, result.retry_after = attempt.code, attempt.retry_after
                result.rejected = attempt.status == "rejected"
                return result
            result.sent += attempt.accepted
            result.duplicates += attempt.duplicates
        return result

    async def _deliver(
        self, http: httpx.AsyncClient, identity: Identity, batch: list[QueuedReport]
    ) -> _Attempt:
        """Post ``batch``; on a malformed/too-large answer, split it (a single report is
        dead-lettered); on a restore-detected seq jump, renumber and report "ok" (the next
        batch carries the renumbered reports)."""
        attempt = await self._post_corrected(http, identity, batch)
        if attempt.status == "malformed":
            return await self._split(http, identity, batch, attempt.code)
        if attempt.status == "jump":
            return _Attempt("ok")
        if attempt.status == "ok":
            await self._outbox.remove([r.seq for r in batch])
        return attempt

    async def _split(
        self,
        http: httpx.AsyncClient,
        identity: Identity,
        batch: list[QueuedReport],
        code: str | None,
    ) -> _Attempt:
        if len(batch) == 1:
            await self._outbox.dead_letter([batch[0].seq])
            log.warning("sync report refused", extra={"code": f"sync.dead_letter:{code}"})
            return _Attempt("ok")
        total = _Attempt("ok")
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            attempt = await self._deliver(http, identity, half)
            if attempt.status != "ok":
                return attempt
            total.accepted += attempt.accepted
            total.duplicates += attempt.duplicates
        return total

    async def _post_corrected(
        self, http: httpx.AsyncClient, identity: Identity, batch: list[QueuedReport]
    ) -> _Attempt:
        """Post; a stale timestamp corrects the clock offset and is retried once at once."""
        attempt = await self._post(http, identity, batch)
        if attempt.status == "stale":
            attempt = await self._post(http, identity, batch)
            if attempt.status == "stale":
                attempt = _Attempt("retry", code=p.REJECT_STALE)
        return attempt

    async def _post(
        self, http: httpx.AsyncClient, identity: Identity, batch: list[QueuedReport]
    ) -> _Attempt:
        body = batch_body(identity.appliance_id, batch)
        state = await self._outbox.state()
        stamp = int(self._clock.now().timestamp() + state.clock_offset_s)
        headers = p.sign(identity.key, identity.appliance_id, p.REPORTS_PATH, body, stamp)
        self.attempts += 1
        try:
            response = await http.post(
                identity.central_url + p.REPORTS_PATH,
                content=body,
                headers={**headers.as_dict(), "Content-Type": "application/json"},
            )
        except httpx.TimeoutException:
            return _Attempt("retry", code="timeout")
        except httpx.TransportError as exc:
            return _Attempt("retry", code="tls" if transport.is_tls_error(exc) else "network")
        return await self._answer(response, batch)

    async def _answer(self, response: httpx.Response, batch: list[QueuedReport]) -> _Attempt:
        status = response.status_code
        if status == 200:
            return await self._accepted(response, batch)
        rejection = _rejection(response)
        code = rejection.error if rejection else f"http_{status}"
        if status == 401 and rejection and rejection.error == p.REJECT_STALE:
            await self._correct_clock(rejection.server_time)
            return _Attempt("stale", code=code)
        if rejection and rejection.error in REFUSALS:
            return _Attempt("rejected", code=code)
        if status in MALFORMED:
            return _Attempt("malformed", code=code)
        after = transport.retry_after(response, self._clock.now())
        return _Attempt("retry", code=code, retry_after=after)

    async def _accepted(self, response: httpx.Response, batch: list[QueuedReport]) -> _Attempt:
        try:
            answer = IngestAnswer.model_validate_json(response.content)
        except ValidationError:
            return _Attempt("retry", code="bad_answer")
        if await self._outbox.adopt_central_seq(answer.last_seq):
            log.warning(
                "sync sequence lifted above the central's (store restored from an older backup?)",
                extra={"code": "sync.seq_jump"},
            )
            return _Attempt("jump")
        return _Attempt("ok", accepted=answer.accepted, duplicates=answer.duplicates)

    async def _correct_clock(self, server_time: int) -> None:
        offset = float(server_time) - self._clock.now().timestamp()
        await self._outbox.update_state(clock_offset_s=offset)
        log.warning("clock offset corrected: %.0f s", offset, extra={"code": "sync.clock_offset"})

    async def _record(self, result: PassResult) -> None:
        """Log the first failure of a streak and one recovery line; keep the state's last
        success and last error current."""
        now = self._clock.now().isoformat()
        if result.ok:
            if self._notes.failing:
                log.info("sync recovered", extra={"code": "sync.recovered"})
            self._notes.failing = self._notes.rejected_logged = False
            self.backoff.reset()
            await self._outbox.update_state(last_success_at=now, last_error=None)
            return
        if not self._notes.failing:
            log.warning("sync failed", extra={"code": f"sync.failed:{result.error}"})
        if result.rejected and not self._notes.rejected_logged:
            log.error(
                "central refuses this appliance", extra={"code": f"sync.rejected:{result.error}"}
            )
            self._notes.rejected_logged = True
        self._notes.failing = True
        if (await self._outbox.state()).last_error != result.error:
            await self._outbox.update_state(last_error=result.error)


def batch_body(appliance_id: str, batch: list[QueuedReport]) -> bytes:
    """The ReportBatch JSON, spliced from the stored report JSON (no re-serialisation)."""
    head = p.encode({"appliance_id": appliance_id})[:-1] + b',"reports":['
    return head + b",".join(r.body.encode("utf-8") for r in batch) + b"]}"


def _rejection(response: httpx.Response) -> Rejection | None:
    try:
        return Rejection.model_validate_json(response.content)
    except ValidationError:
        return None
