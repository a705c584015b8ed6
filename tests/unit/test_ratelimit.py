"""SendPacer on a fake clock: gaps with jitter, per-minute cap, per-chat gap, new chats/hour,
FIFO order, nothing dropped."""

from __future__ import annotations

import asyncio
import itertools
import random

from app.channels.ratelimit import SendPacer, limits_from_config
from app.domain.channels import SendLimits


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def pacer(limits: SendLimits, t: FakeTime, seed: int = 1) -> SendPacer:
    return SendPacer(limits, t.clock, t.sleep, random.Random(seed))


async def send_times(p: SendPacer, t: FakeTime, chats: list[str]) -> list[float]:
    times = []
    for chat in chats:
        await p.wait_turn(chat, 10)
        times.append(t.now)
    return times


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


async def test_first_send_does_not_wait_and_gaps_are_jittered_within_bounds() -> None:
    t = FakeTime()
    limits = SendLimits(min_gap_s=4, max_gap_s=12, per_minute=1000, per_chat_gap_s=1)
    times = await send_times(pacer(limits, t), t, [f"c{i}" for i in range(30)])
    assert times[0] == 1000.0
    assert all(4 <= g <= 12 for g in gaps(times))
    assert len({round(g, 3) for g in gaps(times)}) > 20  # not a fixed interval


async def test_per_minute_cap_holds_in_every_window() -> None:
    t = FakeTime()
    limits = SendLimits(min_gap_s=1, max_gap_s=1, per_minute=5, per_chat_gap_s=1)
    times = await send_times(pacer(limits, t), t, [f"c{i}" for i in range(20)])
    assert all(sum(1 for x in times if s <= x < s + 60) <= 5 for s in times)


async def test_same_chat_waits_the_per_chat_gap() -> None:
    t = FakeTime()
    limits = SendLimits(min_gap_s=1, max_gap_s=1, per_minute=100, per_chat_gap_s=6)
    times = await send_times(pacer(limits, t), t, ["a", "a", "a"])
    assert gaps(times) == [6.0, 6.0]


async def test_new_chats_per_hour_cap_but_known_chats_still_flow() -> None:
    t = FakeTime()
    limits = SendLimits(min_gap_s=1, max_gap_s=1, per_minute=60, new_chats_per_hour=3)
    p = pacer(limits, t)
    times = await send_times(p, t, ["a", "b", "c"])
    await p.wait_turn("a", 1)  # known chat: only the ordinary gaps apply
    assert t.now - times[-1] < 60
    await p.wait_turn("d", 1)  # fourth new chat waits for the hour window to move
    assert t.now >= times[0] + 3600


async def test_fifo_order_and_nothing_dropped() -> None:
    t = FakeTime()
    p = pacer(SendLimits(min_gap_s=1, max_gap_s=2, per_minute=3, per_chat_gap_s=1), t)
    order: list[int] = []

    async def send(i: int) -> None:
        await p.wait_turn(f"c{i}", 5)
        order.append(i)

    await asyncio.gather(*(send(i) for i in range(12)))
    assert order == list(range(12))
    assert p.waiting == 0


async def test_typing_time_is_returned_and_capped() -> None:
    t = FakeTime()
    p = pacer(SendLimits(), t)
    assert await p.wait_turn("a", 50) == 2.0
    assert await p.wait_turn("b", 10_000) == 8.0


def test_stored_overrides_are_clamped_and_junk_is_ignored() -> None:
    limits = limits_from_config(
        {"per_minute": 500, "min_gap_s": 0.1, "max_gap_s": "fast", "bogus": 1, "per_chat_gap_s": 9}
    )
    assert limits.per_minute == 60
    assert limits.min_gap_s == 1.0
    assert limits.max_gap_s == SendLimits().max_gap_s
    assert limits.per_chat_gap_s == 9.0
