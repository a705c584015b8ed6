"""Per-channel send pacing for unofficial transports (WHATSAPP_ENGINES.md §3).

Sends wait their turn in arrival order and are never dropped. A turn is granted when all of
these hold: the jittered gap since the previous send has passed (uniform between ``min_gap_s``
and ``max_gap_s``: fixed intervals are a bot signature), fewer than ``per_minute`` sends in the
last 60 s, ``per_chat_gap_s`` since the last send to the same chat, and, for a chat not written
to in the last 24 h, fewer than ``new_chats_per_hour`` new chats in the last hour.

Time comes from the injected ``clock`` and ``sleep`` so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from typing import Any

from app.domain.channels import SendLimits, clamp_limits

MINUTE = 60.0
HOUR = 3600.0
NEW_CHAT_AFTER = 24 * HOUR  # a chat silent this long counts as a new conversation again


def limits_from_config(raw: Mapping[str, object]) -> SendLimits:
    """The channel's stored overrides applied to the safe defaults, then clamped to the bounds.

    Unknown keys and values of the wrong type are ignored (the default stays).
    """
    names = {f.name: type(getattr(SendLimits(), f.name)) for f in fields(SendLimits)}
    chosen: dict[str, Any] = {k: _coerce(v, names[k]) for k, v in raw.items() if k in names}
    return clamp_limits(SendLimits(**{k: v for k, v in chosen.items() if v is not None}))


def _coerce(value: object, kind: type[float] | type[int]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


class SendPacer:
    """Grants send turns on one channel in FIFO order under :class:`SendLimits`."""

    def __init__(
        self,
        limits: SendLimits,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
    ) -> None:
        self.limits = limits
        self._clock, self._sleep, self._rng = clock, sleep, rng
        self._turn = asyncio.Lock()  # waiters are served in arrival order
        self._next_at = float("-inf")  # earliest next send (previous send + jittered gap)
        self._recent: deque[float] = deque()  # send times within the last minute
        self._new_chats: deque[float] = deque()  # first-send times of new chats, last hour
        self._last_by_chat: dict[str, float] = {}
        self._queued = 0

    @property
    def waiting(self) -> int:
        """Sends queued behind the current turn (for status screens)."""
        return self._queued

    async def wait_turn(self, chat_jid: str, chars: int) -> float:
        """Wait until a message of ``chars`` characters to ``chat_jid`` may be sent.

        Returns how long to show "typing…" before sending it. The send is counted when this
        returns, so callers must send (or fail) right after.
        """
        self._queued += 1
        try:
            await self._turn.acquire()
        finally:
            self._queued -= 1
        try:
            while (delay := self._ready_at(chat_jid) - self._clock()) > 0:
                await self._sleep(delay)
            self._record(chat_jid)
        finally:
            self._turn.release()
        return self.limits.typing_time(chars)

    def _ready_at(self, chat: str) -> float:
        """The earliest time every limit allows a send to ``chat``."""
        now = self._clock()
        self._forget_before(now)
        times = [self._next_at, self._last_by_chat.get(chat, float("-inf")) + self._chat_gap]
        if len(self._recent) >= self.limits.per_minute:
            times.append(self._recent[0] + MINUTE)
        if self._is_new(chat) and len(self._new_chats) >= self.limits.new_chats_per_hour:
            times.append(self._new_chats[0] + HOUR)
        return max(times)

    @property
    def _chat_gap(self) -> float:
        return self.limits.per_chat_gap_s

    def _is_new(self, chat: str) -> bool:
        return chat not in self._last_by_chat

    def _record(self, chat: str) -> None:
        now = self._clock()
        if self._is_new(chat):
            self._new_chats.append(now)
        self._recent.append(now)
        self._last_by_chat[chat] = now
        gap = self._rng.uniform(self.limits.min_gap_s, self.limits.max_gap_s)
        self._next_at = now + gap

    def _forget_before(self, now: float) -> None:
        """Drop history that no limit looks at any more (keeps memory bounded)."""
        _trim(self._recent, now - MINUTE)
        _trim(self._new_chats, now - HOUR)
        stale = [c for c, t in self._last_by_chat.items() if t <= now - NEW_CHAT_AFTER]
        for chat in stale:
            del self._last_by_chat[chat]


def _trim(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
