"""The engine's reminder scheduler: an APScheduler 3 ``AsyncIOScheduler`` with one date job per
scheduled reminder, paced per channel.

**The ``reminders`` table is the only source of truth.** Jobs live in APScheduler's memory job
store and are rebuilt from the table at every start (and planned again whenever the service
creates, cancels or fires one), so nothing about a schedule exists only in memory and nothing is
pickled into a second store. A reminder whose time passed while the PC was off is simply "due
now" at the next start. Job defaults say the same for a loop that was busy: ``coalesce=True``
(several missed runs of a job are one run) and ``misfire_grace_time=None`` (a late job always
runs, however late). Recurring reminders do not catch up missed occurrences one by one either:
after a firing the next occurrence is the first one after *now*.

Pacing (``app.domain.reminders.reserve_slot``): a due job first reserves its channel's next
slot — a random gap after the previous reminder send, and at most ``daily_cap`` a local day
(then the next day from ``day_start``). A slot in the future re-plans the job for that time;
the reminder's ``next_run_at`` stays the nominal occurrence (the idempotency key derives from
it), and a restart simply paces the due reminders again. The sender never holds a paced row:
the outbox row is written only when the slot comes, so staff replies are never queued behind a
campaign.

Job times are computed with the injected clock ("run when the clock reads T"), so tests can
drive recurrences with a clock running ahead of the wall clock.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger

from app.domain.reminders import (
    ChannelPace,
    Pacing,
    local_date,
    local_day_start,
    reserve_slot,
)
from app.services.ports import Clock
from app.services.reminders import DueReminder, ReminderService

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Pacing of reminder sends and how soon a failed firing is tried again."""

    pacing: Pacing = field(default_factory=Pacing)
    retry_after: float = 60.0


class ReminderScheduler:
    """Plans and fires reminder jobs (see the module docstring)."""

    def __init__(
        self,
        service: ReminderService,
        clock: Clock,
        rng: random.Random,
        settings: SchedulerSettings | None = None,
    ) -> None:
        self._service, self._clock, self._rng = service, clock, rng
        self._settings = settings or SchedulerSettings()
        self._scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._paces: dict[int, ChannelPace] = {}

    async def start(self) -> None:
        """Start the scheduler on the running loop and plan every scheduled reminder."""
        self._scheduler.start()
        self._service.planner = self
        planned = await self._service.scheduled()
        for reminder_id, at in planned:
            self.plan(reminder_id, at)
        log.info("reminders planned: %d", len(planned), extra={"code": "reminders.planned"})

    async def stop(self) -> None:
        """Stop planning and firing; a firing in flight either committed or did nothing."""
        self._service.planner = None
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def plan(self, reminder_id: int, at: datetime) -> None:
        """(Re)plan the reminder's job for when the clock reads ``at`` (now if past)."""
        self._add(reminder_id, at, paced=False)

    def unplan(self, reminder_id: int) -> None:
        """Drop the reminder's job, if any."""
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(_job_id(reminder_id))

    def planned(self) -> dict[int, datetime]:
        """Reminder id → the wall-clock time its job runs next (for tests and status)."""
        jobs = [j for j in self._scheduler.get_jobs() if j.id.startswith(_JOB_PREFIX)]
        return {int(j.id.split(":")[1]): j.next_run_time for j in jobs if j.next_run_time}

    # --- hosting the engine's other jobs (one scheduler per engine) -------------------------

    def add_job(
        self, job_id: str, func: Callable[[], Awaitable[None]], trigger: BaseTrigger
    ) -> None:
        """Run ``func`` on ``trigger`` in this scheduler (e.g. backups); ``job_id`` must not
        start with ``reminder:``. Same defaults: coalesced, never dropped for being late."""
        if job_id.startswith(_JOB_PREFIX):
            raise ValueError("reserved job id")
        self._scheduler.add_job(func, trigger, id=job_id, replace_existing=True)

    def next_run_of(self, job_id: str) -> datetime | None:
        """When the job ``job_id`` runs next (None if it is not planned)."""
        job = self._scheduler.get_job(job_id)
        return job.next_run_time if job is not None else None

    def _add(self, reminder_id: int, at: datetime, *, paced: bool) -> None:
        delay = max(0.0, (at - self._clock.now()).total_seconds())
        trigger = DateTrigger(run_date=datetime.now(UTC) + timedelta(seconds=delay))
        self._scheduler.add_job(
            self._due, trigger, args=(reminder_id, paced), id=_job_id(reminder_id),
            replace_existing=True,
        )  # fmt: skip

    async def _due(self, reminder_id: int, paced: bool) -> None:
        """The job: pace, then fire. A failure (store trouble) retries later, never drops."""
        try:
            await self._handle(reminder_id, paced)
        except Exception:
            log.exception("reminder not fired", extra={"code": "reminder.fire_failed"})
            later = self._clock.now() + timedelta(seconds=self._settings.retry_after)
            self._add(reminder_id, later, paced=paced)

    async def _handle(self, reminder_id: int, paced: bool) -> None:
        due = await self._service.due(reminder_id)
        if due is None:
            return  # cancelled or already handled since the job was planned
        if not paced and not due.opted_out:
            slot = await self._reserve(due)
            if slot > self._clock.now():
                self._add(reminder_id, slot, paced=True)
                return
        await self._service.fire(reminder_id, due.occurrence)

    async def _reserve(self, due: DueReminder) -> datetime:
        now = self._clock.now()
        pace = self._paces.get(due.channel_id)
        if pace is None:
            fresh = await self._initial_pace(due, now)
            pace = self._paces.setdefault(due.channel_id, fresh)
        uniform = self._rng.random()
        return reserve_slot(pace, now, due.timezone, self._settings.pacing, uniform)

    async def _initial_pace(self, due: DueReminder, now: datetime) -> ChannelPace:
        """The channel's pace as the store remembers it: today's count and the last send."""
        since = local_day_start(now, due.timezone)
        last, count = await self._service.channel_sends(due.channel_id, since)
        next_free = last + self._settings.pacing.gap(0.0) if last is not None else None
        return ChannelPace(next_free, local_date(now, due.timezone), count)


_JOB_PREFIX = "reminder:"


def _job_id(reminder_id: int) -> str:
    return f"{_JOB_PREFIX}{reminder_id}"
