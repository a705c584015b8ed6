"""One transport's WebSocket as the hub sees it: serialised sends, idempotent close."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from app.simulator.protocol import encode

_serials = itertools.count(1)


class Connection:
    """A live WebSocket. ``account`` is set by hello; ``paired`` once it holds a valid session."""

    __slots__ = ("_close", "_lock", "_send", "account", "closed", "paired", "serial")

    def __init__(
        self, send: Callable[[str], Awaitable[None]], close: Callable[[int], Awaitable[None]]
    ) -> None:
        self._send, self._close = send, close
        self._lock = asyncio.Lock()
        self.account: Any = None
        self.paired = False
        self.closed = False
        self.serial = next(_serials)

    async def send(self, kind: str, **fields: Any) -> bool:
        """Send one frame; False if the socket is (or just went) away."""
        if self.closed:
            return False
        async with self._lock:
            try:
                await self._send(encode(kind, **fields))
            except Exception:  # any send failure means the peer is gone
                self.closed = True
                return False
        return True

    async def close(self, code: int) -> None:
        """Close with ``code`` (once)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # already gone: nothing left to close
            await self._close(code)
