"""What :mod:`app.services.dashboard` needs from the store: counts over one branch and one
time window (no text, no names, no phone numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueueDayCounts:
    """One queue (None: tickets in no queue) over the same window as its branch's counts."""

    queue_id: int | None
    waiting: int
    first_response_s: float
    first_responses: int
    resolution_s: float
    resolutions: int


@dataclass(frozen=True, slots=True)
class BranchDayCounts:
    """One branch over one window ``[start, end)``.

    ``hourly_in``/``hourly_out``: messages per hour since ``start`` (24 entries; a 25-hour day
    adds its last hour to the 24th). Durations are totals in seconds with their counts, so
    branches can be combined before averaging.
    """

    channels_connected: int
    channels_total: int
    messages_in: int
    messages_out: int
    hourly_in: tuple[int, ...]
    hourly_out: tuple[int, ...]
    waiting: int
    first_response_s: float
    first_responses: int
    resolution_s: float
    resolutions: int
    by_queue: tuple[QueueDayCounts, ...] = ()
    # reminders that asked for confirmation, sent in the window, and how many were answered
    reminders_asked: int = 0
    reminders_confirmed: int = 0
    reminders_declined: int = 0


class StatsRepo(Protocol):
    def branch_day(self, branch_id: int, start: datetime, end: datetime) -> BranchDayCounts: ...
