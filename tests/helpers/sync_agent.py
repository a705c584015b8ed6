"""A sync agent (:class:`app.sync.service.SyncService`) on a real installation, with a
hand-moved clock, a seeded jitter and a sleep that only records what it was asked to wait:
tests simulate days of reports and backoff without waiting."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from app.config import DataDir
from app.services.audit import Auditor
from app.sync.outbox import MAX_AGE, MAX_BYTES, SyncOutbox
from app.sync.report import Environment
from app.sync.service import SyncService
from tests.helpers.fake_central import CentralServer
from tests.integration.conftest import FakeClock, Installation


class RecordingSleep:
    """An injectable ``sleep``: records each delay and yields to the loop once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def make_agent(
    inst: Installation,
    clock: FakeClock,
    *,
    max_age: timedelta = MAX_AGE,
    max_bytes: int = MAX_BYTES,
    sleep: RecordingSleep | None = None,
    seed: int = 7,
) -> SyncService:
    """A SyncService on ``inst``'s store and ``clock`` (no engine around it)."""
    store = inst.core.store
    env = Environment(
        data_root=inst.root, db_files=tuple(DataDir(inst.root).db_set), started_at=clock.now()
    )
    outbox = SyncOutbox(store, clock, max_age=max_age, max_bytes=max_bytes)
    return SyncService(
        store, clock, env, Auditor(clock), outbox=outbox,
        sleep=sleep or RecordingSleep(), rng=random.Random(seed),
    )  # fmt: skip


async def enrolled_agent(
    inst: Installation, clock: FakeClock, central: CentralServer, **kw: object
) -> tuple[SyncService, str]:
    """:func:`make_agent`, enrolled with ``central``; returns it and its appliance id."""
    agent = make_agent(inst, clock, **kw)  # type: ignore[arg-type]
    identity = await agent.enroll(inst.core.local_actor(), central.url, central.state.issue_code())
    return agent, str(identity["appliance_id"])


async def report_through_outage(
    agent: SyncService, clock: FakeClock, days: float, every: timedelta
) -> list[int]:
    """Make a report every ``every`` for ``days`` simulated days while the sender keeps
    trying (the central is expected to be unreachable); simulated time jumps to the next
    event (a report is due, or the sender's wait is over). Returns the seqs made."""
    made: list[int] = []
    end = clock.now() + timedelta(days=days)
    next_report, next_attempt = clock.now() + every, clock.now()
    while next_report <= end:
        if next_attempt < next_report:
            clock.current = max(clock.current, next_attempt)
            delay = await agent.sender.step()
            wait = timedelta(seconds=delay) if delay is not None else next_report - clock.now()
            next_attempt = clock.now() + wait
        else:
            clock.current = next_report
            made.append(await agent.make_report())
            next_report += every
    return made


async def drain(agent: SyncService, passes: int = 10) -> None:
    """Let the sender run until it has nothing left (at most ``passes`` passes)."""
    for _ in range(passes):
        if await agent.sender.step() is None:
            return
