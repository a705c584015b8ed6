"""The sync agent inside the engine: the report job on the engine's one scheduler and the
sender's background task. Enrolling while the engine runs starts both without a restart."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger

from app.backup.jobs import JobHost
from app.domain.errors import ClinicDeskError
from app.sync.service import SyncService

log = logging.getLogger(__name__)
REPORT_JOB = "sync:report"


class SyncAgent:
    """Starts reporting when the appliance is (or becomes) enrolled."""

    def __init__(self, service: SyncService, host: JobHost) -> None:
        self._service, self._host = service, host

    async def start(self) -> None:
        """Hook enrolment, and start at once when already enrolled."""
        self._service.on_enrolled = self._activate
        if await self._service.public_identity() is not None:
            await self._activate()

    async def stop(self) -> None:
        """Stop the sender (reports stay queued); the job ends with the scheduler."""
        self._service.on_enrolled = None
        await self._service.sender.stop()

    async def _activate(self) -> None:
        interval = await self._service.interval_s()
        self._host.add_job(REPORT_JOB, self.report, IntervalTrigger(seconds=interval))
        await self._service.sender.start()
        log.info("sync agent active", extra={"code": "sync.active"})

    async def report(self) -> None:
        """Queue one report; a failure is logged (codes only) and the next run tries again."""
        try:
            await self._service.make_report()
        except ClinicDeskError as exc:
            log.warning("sync report failed", extra={"code": exc.code.value})
        except Exception:
            log.exception("sync report crashed", extra={"code": "sync.report_crashed"})
