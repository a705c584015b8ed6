"""The background coroutines a widget starts on the qasync loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


class TaskSet(set[asyncio.Task[Any]]):
    """Tasks kept referenced until they end (asyncio holds only weak references), and
    awaited together by :meth:`settle` (tests, and closing a window)."""

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; the set forgets it when it ends."""
        task = asyncio.ensure_future(coro)
        self.add(task)
        task.add_done_callback(self.discard)
        return task

    async def settle(self) -> None:
        """Wait until every task (including ones started meanwhile) has ended."""
        while self:
            await asyncio.gather(*list(self), return_exceptions=True)
