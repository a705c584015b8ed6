"""Helpers of the desk tests: polling on the qasync loop and an in-memory ticket source."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client_types import Ticket, TicketPage


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` on the running loop (Qt keeps processing) until truthy, or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def make_ticket(n: int, status: str = "pending", **changes: Any) -> Ticket:
    at = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(minutes=n)  # lower n: more recent
    base = Ticket(n, 1, 1, 100 + n, f"Paciente {n}", None, None, status, n % 3, at, at, (), None)
    return replace(base, **changes)


class FakeTickets:
    """A keyset-paged ticket list of ``count`` tickets that records what it was asked."""

    def __init__(self, count: int, status: str = "pending") -> None:
        self.rows = {n: make_ticket(n, status) for n in range(1, count + 1)}
        self.page_calls: list[str | None] = []
        self.row_calls: list[int] = []

    async def tickets(
        self, status: str | None, cursor: str | None = None, limit: int = 50, **_f: Any
    ) -> TicketPage:
        if _f.get("ids") is not None:  # a re-read of changed rows: those still visible
            self.row_calls.extend(_f["ids"])
            return TicketPage(tuple(self.rows[i] for i in _f["ids"] if i in self.rows), None)
        self.page_calls.append(cursor)
        start = int(cursor or 0)
        ids = sorted(i for i, t in self.rows.items() if t.status == status)
        chunk = ids[start : start + limit]
        more = start + limit < len(ids)
        return TicketPage(tuple(self.rows[i] for i in chunk), str(start + limit) if more else None)

    async def ticket(self, ticket_id: int) -> Ticket:
        self.row_calls.append(ticket_id)
        if ticket_id not in self.rows:
            raise ClinicDeskError(ErrorCode.NOT_FOUND)
        return self.rows[ticket_id]


@contextlib.asynccontextmanager
async def root_desk(qtbot: Any, qapp: Any, engine_url: str) -> AsyncIterator[Any]:
    """The desk's main window, logged in as root on the engine at ``engine_url`` (its first
    branch); settled and closed afterwards, with its event stream and client."""
    from app.ui.desk import Desk, DeskOptions  # Qt: only for the desk tests that use this
    from app.ui.login import LoginResult
    from tests.helpers.cli import PASSWORD

    desk = Desk(qapp, DeskOptions(engine_url))
    me = await desk.client.login("root", PASSWORD)
    branches = await desk.client.branches()
    window = await desk.open_main(LoginResult(me, branches[0]))
    qtbot.addWidget(window)
    try:
        yield window
    finally:
        await window.settle()
        window.close()
        await desk.bridge.stop()
        await desk.client.close()
