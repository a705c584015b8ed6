"""The desk's Painel: today's figures for the branches the actor works in.

Scope: a super admin sees every branch; anyone else (receptionists too) the branches they are
a member of. The figures are counts and averages only — no text, no names, no numbers — so
they need no queue-level visibility and no audit entry.

"Today" is the branch's own calendar day (``branches.timezone``; an unknown zone counts as
UTC). Figures of several branches are added up; hourly buckets are local hours of each branch,
so 09:00 means nine in the morning wherever the branch is.

- first response: ``tickets.first_response_at`` (set by the first reply a person sends, never by
  the automatic greeting or menu, nor on a conversation the clinic started) minus
  ``created_at``, over tickets first answered today;
- resolution: ``closed_at`` minus ``created_at``, over tickets closed today;
- waiting: tickets in ``pending`` now, whatever their age;
- per queue (``queues``): the same figures for each queue (a ticket counts in the queue it is
  in now), the tickets in no queue last. Queue names are the clinic's, not a patient's;
- confirmations: reminders asking "1 to confirm, 2 to reschedule" last sent today, and how
  many of them were confirmed or declined so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import ErrorCode, NotFoundError
from app.domain.models import Branch
from app.domain.roles import Actor
from app.services.ports import Clock, Store, Tx
from app.services.ports_stats import BranchDayCounts, QueueDayCounts

HOURS = 24


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Today's figures; averages are None when nothing was answered/closed today."""

    branch_ids: tuple[int, ...]
    channels_connected: int
    channels_total: int
    messages_in: int
    messages_out: int
    waiting: int
    avg_first_response_s: float | None
    avg_resolution_s: float | None
    hourly_in: tuple[int, ...]
    hourly_out: tuple[int, ...]
    generated_at: datetime
    queues: tuple[QueueFigures, ...] = ()
    # reminders asking "1 to confirm, 2 to reschedule" sent today, and their answers so far
    reminders_asked: int = 0
    reminders_confirmed: int = 0
    reminders_declined: int = 0


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One queue's part of today (``queue_id`` None: tickets in no queue, all branches)."""

    queue_id: int | None
    name: str | None
    waiting: int
    avg_first_response_s: float | None
    resolved: int
    avg_resolution_s: float | None


def zone_of(branch: Branch) -> ZoneInfo:
    """The branch's time zone; UTC when the stored name is unknown to this machine."""
    try:
        return ZoneInfo(branch.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today_window(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[local midnight, next local midnight)`` of ``now``'s day in ``zone``, as aware times."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def _average(total: float, count: int) -> float | None:
    return total / count if count else None


@dataclass
class _QueueSums:
    """A queue's counts added up over branches, before averaging."""

    waiting: int = 0
    first_s: float = 0.0
    firsts: int = 0
    done_s: float = 0.0
    dones: int = 0

    def add(self, q: QueueDayCounts) -> None:
        self.waiting += q.waiting
        self.first_s, self.firsts = (
            self.first_s + q.first_response_s,
            self.firsts + q.first_responses,
        )
        self.done_s, self.dones = self.done_s + q.resolution_s, self.dones + q.resolutions

    def figures(self, queue_id: int | None, name: str | None) -> QueueFigures:
        first, done = _average(self.first_s, self.firsts), _average(self.done_s, self.dones)
        return QueueFigures(queue_id, name, self.waiting, first, self.dones, done)


def by_queue(parts: list[BranchDayCounts], names: dict[int, str]) -> tuple[QueueFigures, ...]:
    """Per-queue figures in menu order (``names``' order), the tickets in no queue last."""
    sums: dict[int | None, _QueueSums] = {}
    for part in parts:
        for counts in part.by_queue:
            sums.setdefault(counts.queue_id, _QueueSums()).add(counts)
    rank = {queue_id: i for i, queue_id in enumerate(names)}
    order = sorted(sums, key=lambda q: len(rank) + 1 if q is None else rank.get(q, len(rank)))
    return tuple(sums[q].figures(q, None if q is None else names.get(q)) for q in order)


def combine(
    parts: list[BranchDayCounts], ids: tuple[int, ...], at: datetime,
    names: dict[int, str] | None = None,
) -> Dashboard:  # fmt: skip
    """One :class:`Dashboard` out of per-branch counts (sums, then averages); ``names`` of the
    queues in menu order, branch by branch."""

    def total(name: str) -> int:
        return sum(int(getattr(p, name)) for p in parts)

    first_s = sum(p.first_response_s for p in parts)
    done_s = sum(p.resolution_s for p in parts)
    return Dashboard(
        ids, total("channels_connected"), total("channels_total"), total("messages_in"),
        total("messages_out"), total("waiting"),
        _average(first_s, total("first_responses")), _average(done_s, total("resolutions")),
        tuple(sum(p.hourly_in[h] for p in parts) for h in range(HOURS)),
        tuple(sum(p.hourly_out[h] for p in parts) for h in range(HOURS)), at,
        by_queue(parts, names or {}), total("reminders_asked"), total("reminders_confirmed"),
        total("reminders_declined"),
    )  # fmt: skip


def branches_for(tx: Tx, actor: Actor, branch_id: int | None) -> list[Branch]:
    """The branches ``actor`` may count, narrowed to ``branch_id`` when given.

    A branch outside the actor's reach is "not found" (its existence is not revealed).
    """
    only = None if actor.super_admin else actor.branch_ids
    if branch_id is not None:
        if only is not None and branch_id not in only:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
        only = frozenset({branch_id})
    found = tx.branches.list(only)
    if branch_id is not None and not found:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
    return found


class DashboardService:
    """Today's figures for the desk's Painel (read transactions only)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store, self._clock = store, clock

    async def today(self, actor: Actor, branch_id: int | None = None) -> Dashboard:
        """Figures of today (each branch's own day) over the branches ``actor`` may count."""
        now = self._clock.now()

        def work(tx: Tx) -> Dashboard:
            branches = branches_for(tx, actor, branch_id)
            parts = [tx.stats.branch_day(b.id, *today_window(now, zone_of(b))) for b in branches]
            names = {q.id: q.name for b in branches for q in tx.messaging.queues(b.id)}
            return combine(parts, tuple(b.id for b in branches), now, names)

        return await self._store.read(work)
