"""Which archives to keep: grandfather-father-son over archive dates (pure).

Like restic ``forget --keep-daily/--keep-weekly/--keep-monthly``: for each rule, walk the archives
from newest to oldest and keep the newest archive of each of the last N distinct days (ISO weeks,
months) that have an archive. An archive is kept if ANY rule keeps it. The newest archive is
always kept, so a policy can never delete everything.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Retention:
    """How many days, ISO weeks and months keep their newest archive."""

    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def __post_init__(self) -> None:
        if min(self.daily, self.weekly, self.monthly) < 0:
            raise ValueError("retention counts cannot be negative")


def day_of(moment: datetime) -> Hashable:
    return moment.date()


def week_of(moment: datetime) -> Hashable:
    iso = moment.isocalendar()
    return (iso.year, iso.week)


def month_of(moment: datetime) -> Hashable:
    return (moment.year, moment.month)


def _newest_per_bucket(
    ordered: list[datetime], bucket: Callable[[datetime], Hashable], count: int
) -> set[datetime]:
    kept: set[datetime] = set()
    seen: set[Hashable] = set()
    for moment in ordered:
        if len(seen) >= count:
            break
        key = bucket(moment)
        if key not in seen:
            seen.add(key)
            kept.add(moment)
    return kept


def to_keep(dates: Iterable[datetime], policy: Retention) -> set[datetime]:
    """The archive dates ``policy`` keeps (dates compare in whatever zone they carry: pass
    them all in the clinic's local zone or all in UTC)."""
    ordered = sorted(set(dates), reverse=True)
    if not ordered:
        return set()
    kept = {ordered[0]}
    for bucket, count in (
        (day_of, policy.daily),
        (week_of, policy.weekly),
        (month_of, policy.monthly),
    ):
        kept |= _newest_per_bucket(ordered, bucket, count)
    return kept
