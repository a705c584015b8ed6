"""The durable outbox of reports (``sync_outbox`` in the encrypted store), and the agent's
state (global setting ``sync.state``).

Each report gets a sequence number that never goes back: AUTOINCREMENT never reuses one, and
``min_next_seq`` lifts the counter above what the central already holds after the store was
restored from an older backup. The buffer is bounded by age and bytes; what the caps drop is
counted and said in the next report (``sync.dropped_total``), so the central sees the gap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.services.ports import Clock
from app.services.ports_sync import QueuedReport, SyncRepo
from app.store.store import Store
from app.sync.schema import Figures, Report, SyncFigures

STATE_KEY = "sync.state"
IDENTITY_KEY = "sync.identity"
MAX_AGE = timedelta(days=7)
MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the agent remembers between runs (no secrets, no figures)."""

    dropped_total: int = 0
    dead_letter_total: int = 0
    last_period_end: str | None = None  # ISO, UTC
    last_success_at: str | None = None
    last_error: str | None = None  # a code
    clock_offset_s: float = 0.0
    min_next_seq: int = 1

    @classmethod
    def of(cls, raw: dict[str, object] | None) -> SyncState:
        """From the stored JSON; unknown keys (a newer version's) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (raw or {}).items() if k in names})  # type: ignore[arg-type]

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def load_state(repo: SyncRepo) -> SyncState:
    return SyncState.of(repo.load(STATE_KEY))


def save_state(repo: SyncRepo, state: SyncState, at: datetime) -> None:
    repo.save(STATE_KEY, state.as_json(), at)


def next_seq(repo: SyncRepo, state: SyncState) -> int:
    """The seq the next report will get."""
    return max(repo.next_seq(), state.min_next_seq)


def with_seq(body: str, seq: int) -> str:
    """``body`` (a Report's JSON) renumbered to ``seq``."""
    return Report.model_validate_json(body).model_copy(update={"seq": seq}).model_dump_json()


def report_json(
    seq: int, now: datetime, figures: Figures, counts: tuple[int, int], indent: int | None = None
) -> str:
    """A report's JSON; ``counts`` are the reports dropped so far and those queued now."""
    sync = SyncFigures(dropped_total=counts[0], queued=counts[1])
    report = Report(seq=seq, created_at=now, figures=figures.model_copy(update={"sync": sync}))
    return report.model_dump_json(indent=indent)


class SyncOutbox:
    """Enqueue, read, remove and renumber reports; limits are settings so tests use tiny caps."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_age: timedelta = MAX_AGE,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self._store, self._clock = store, clock
        self.max_age, self.max_bytes = max_age, max_bytes

    async def enqueue(self, figures: Figures) -> int:
        """Store a report of ``figures`` after applying the caps; returns its seq. The report
        carries the drop count and queue length of this moment, and its period end becomes
        the next report's start (same transaction)."""
        now = self._clock.now()
        return int(await self._store.transaction(lambda tx: self._enqueue(tx.sync, figures, now)))

    def _enqueue(self, repo: SyncRepo, figures: Figures, now: datetime) -> int:
        state = load_state(repo)
        dropped = repo.drop_older_than(now - self.max_age)
        seq = next_seq(repo, state)
        queued, size = repo.totals()
        body = report_json(seq, now, figures, (state.dropped_total + dropped, queued))
        while queued and size + len(body.encode()) > self.max_bytes:
            dropped += int(repo.drop_oldest())
            queued, size = repo.totals()
            body = report_json(seq, now, figures, (state.dropped_total + dropped, queued))
        repo.add(seq, now, body)
        end = figures.period_end.isoformat()
        fresh = dataclasses.replace(
            state, dropped_total=state.dropped_total + dropped, last_period_end=end
        )
        save_state(repo, fresh, now)
        return seq

    async def batch(self, max_reports: int, max_bytes: int) -> list[QueuedReport]:
        """The oldest reports, at most ``max_reports`` and ``max_bytes`` of JSON (always at
        least one, so a single large report is still tried)."""
        queued = await self._store.read(lambda tx: tx.sync.oldest(max_reports))
        chosen: list[QueuedReport] = []
        for report in queued:
            if chosen and sum(r.size for r in chosen) + report.size + len(chosen) > max_bytes:
                break
            chosen.append(report)
        return chosen

    async def remove(self, seqs: list[int]) -> int:
        """Delete the reports the central confirmed; returns how many were still queued."""
        return int(await self._store.transaction(lambda tx: tx.sync.delete(seqs)))

    async def dead_letter(self, seqs: list[int]) -> int:
        """Give up on reports the central refuses as malformed; counted in the state."""
        now = self._clock.now()

        def work(tx: Any) -> int:
            gone = tx.sync.delete(seqs)
            state = load_state(tx.sync)
            total = state.dead_letter_total + gone
            save_state(tx.sync, dataclasses.replace(state, dead_letter_total=total), now)
            return int(gone)

        return int(await self._store.transaction(work))

    async def adopt_central_seq(self, last_seq: int) -> bool:
        """If the central already holds ``last_seq`` at or beyond our next seq (this store
        came back from an older backup), renumber every queued report above it and lift the
        counter; True when that happened."""
        now = self._clock.now()
        return bool(await self._store.transaction(lambda tx: self._adopt(tx.sync, last_seq, now)))

    def _adopt(self, repo: SyncRepo, last_seq: int, now: datetime) -> bool:
        state = load_state(repo)
        if last_seq < next_seq(repo, state):
            return False
        queued = repo.oldest(2**31)
        start = last_seq + 1
        renumbered = [
            QueuedReport(start + i, r.created_at, r.size, with_seq(r.body, start + i))
            for i, r in enumerate(queued)
        ]
        repo.replace_all(renumbered)
        lifted = dataclasses.replace(state, min_next_seq=start + len(renumbered))
        save_state(repo, lifted, now)
        return True

    async def totals(self) -> tuple[int, int]:
        """Queued reports and their bytes."""
        return await self._store.read(lambda tx: tx.sync.totals())

    async def state(self) -> SyncState:
        return await self._store.read(lambda tx: load_state(tx.sync))

    async def update_state(self, **changes: object) -> SyncState:
        """Change some fields of the state (one read-modify-write on the writer)."""
        now = self._clock.now()

        def work(tx: Any) -> SyncState:
            fresh = dataclasses.replace(load_state(tx.sync), **changes)  # type: ignore[arg-type]
            save_state(tx.sync, fresh, now)
            return fresh

        return await self._store.transaction(work)
