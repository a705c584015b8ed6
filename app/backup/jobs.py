"""The engine's backup jobs, hosted by the engine's one APScheduler (the reminder scheduler's
:meth:`add_job` hook): a nightly backup (verified as part of the run), a weekly restore test
after the nightly backup on the configured weekday (or whenever the last one is over 7 days
old), and a catch-up run shortly after start when the last scheduled run was missed (the PC was
off). All work runs in a thread; the loop only awaits it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from app.backup.service import BackupService
from app.domain.errors import ClinicDeskError

log = logging.getLogger(__name__)
NIGHTLY = "backup:nightly"
CATCH_UP = "backup:catch-up"
CATCH_UP_DELAY = timedelta(minutes=5)  # start-up (channels reconnecting) goes first
RESTORE_TEST_MAX_AGE = timedelta(days=7)


class JobHost(Protocol):
    """What the backup jobs need from the engine's scheduler."""

    def add_job(
        self, job_id: str, func: Callable[[], Awaitable[None]], trigger: BaseTrigger
    ) -> None: ...

    def next_run_of(self, job_id: str) -> datetime | None: ...


def last_scheduled(now: datetime, at: time) -> datetime:
    """The most recent moment at or before ``now`` (aware, local) when the clock read ``at``."""
    today = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


def missed(last_success: datetime | None, now: datetime, at: time) -> bool:
    """True when no backup succeeded since the last scheduled time (or ever)."""
    return last_success is None or last_success < last_scheduled(now, at)


def restore_test_due(last_test: datetime | None, now: datetime, weekday: int) -> bool:
    """On the configured weekday, or when the last restore test is over 7 days old."""
    if last_test is None or now - last_test > RESTORE_TEST_MAX_AGE:
        return True
    return now.weekday() == weekday and last_test.date() != now.date()


def _parsed(value: object) -> datetime | None:
    if not isinstance(value, dict) or not isinstance(value.get("at"), str):
        return None
    return datetime.fromisoformat(value["at"])


class BackupJobs:
    """Installs and runs the backup jobs on ``host`` for ``service``."""

    def __init__(self, service: BackupService, host: JobHost) -> None:
        self._service, self._host = service, host

    def install(self, now: datetime | None = None) -> None:
        """Plan the nightly job (local time) and, if a run was missed, a catch-up soon."""
        now = now or datetime.now().astimezone()
        hour, minute = self._service.settings.nightly_time()
        trigger = CronTrigger(hour=hour, minute=minute, timezone=now.tzinfo)
        self._host.add_job(NIGHTLY, self.nightly, trigger)
        self._service.next_run = self.next_run
        status = self._service.status_file.read()
        if missed(_parsed(status.get("last_success")), now, time(hour, minute)):
            self._host.add_job(CATCH_UP, self.nightly, DateTrigger(now + CATCH_UP_DELAY))
            log.info("backup: missed run planned", extra={"code": "backup.catch_up"})

    def next_run(self) -> datetime | None:
        """The next planned backup (catch-up or nightly)."""
        planned = [self._host.next_run_of(job) for job in (CATCH_UP, NIGHTLY)]
        return min((t for t in planned if t is not None), default=None)

    async def nightly(self) -> None:
        """Back up (verified), then the restore test when due; failures are recorded, logged
        and retried at the next run; they never stop the engine."""
        try:
            await asyncio.to_thread(self._service.run)
            await self._restore_test_if_due()
        except ClinicDeskError as exc:
            log.warning("backup job failed", extra={"code": exc.code.value})
        except Exception:
            log.exception("backup job crashed", extra={"code": "backup.job_crashed"})

    async def _restore_test_if_due(self) -> None:
        now = datetime.now().astimezone()
        last = _parsed(self._service.status_file.read().get("last_restore_test"))
        if restore_test_due(last, now, self._service.settings.restore_test_weekday):
            await asyncio.to_thread(self._service.restore_test)
