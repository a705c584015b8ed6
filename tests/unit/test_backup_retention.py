"""Retention (GFS keep daily/weekly/monthly) and the job timing rules, over simulated years."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.backup.jobs import last_scheduled, missed, restore_test_due
from app.backup.retention import Retention, day_of, month_of, to_keep, week_of

START = datetime(2024, 1, 1, 2, 30, tzinfo=UTC)
policies = st.builds(
    Retention,
    daily=st.integers(0, 10),
    weekly=st.integers(0, 6),
    monthly=st.integers(0, 14),
)
# A clinic PC over up to three years: most nights a backup, some nights off, some extra runs.
histories = st.lists(st.integers(0, 3 * 365 * 24), min_size=0, max_size=400).map(
    lambda hours: [START + timedelta(hours=h) for h in hours]
)


def expected(dates: list[datetime], policy: Retention) -> set[datetime]:
    """The definition, written independently: for each rule, the newest archive of each of the
    ``count`` most recent buckets that have archives; plus the newest archive."""
    kept: set[datetime] = set()
    for bucket, count in (
        (day_of, policy.daily),
        (week_of, policy.weekly),
        (month_of, policy.monthly),
    ):
        newest: dict[object, datetime] = {}
        for moment in dates:
            key = bucket(moment)
            newest[key] = max(newest.get(key, moment), moment)
        recent = sorted(newest.values(), reverse=True)[:count]
        kept.update(recent)
    if dates:
        kept.add(max(dates))
    return kept


@settings(max_examples=300, deadline=None)
@given(dates=histories, policy=policies)
def test_keeps_exactly_the_newest_of_each_recent_bucket(
    dates: list[datetime], policy: Retention
) -> None:
    assert to_keep(dates, policy) == expected(dates, policy)


@settings(max_examples=200, deadline=None)
@given(dates=histories, policy=policies)
def test_never_deletes_everything_and_keeps_a_subset(
    dates: list[datetime], policy: Retention
) -> None:
    kept = to_keep(dates, policy)
    assert kept <= set(dates)
    assert bool(kept) == bool(dates)
    limit = policy.daily + policy.weekly + policy.monthly + 1
    assert len(kept) <= limit


def test_nightly_backups_for_two_years_keep_7_4_12_by_default() -> None:
    nights = [START + timedelta(days=d) for d in range(730)]
    kept = sorted(to_keep(nights, Retention()))
    newest = nights[-1]
    assert kept[-7:] == nights[-7:]  # the last 7 days
    assert {month_of(k) for k in kept} >= {
        month_of(newest - timedelta(days=30 * m)) for m in range(11)
    }
    assert len({week_of(k) for k in kept}) >= 4
    assert len(kept) <= 7 + 4 + 12


def test_negative_counts_are_refused() -> None:
    try:
        Retention(daily=-1)
    except ValueError:
        return
    raise AssertionError("a negative count was accepted")


# --- missed runs and the weekly restore test ------------------------------------------------

AT = time(2, 30)


def test_last_scheduled_is_today_after_the_time_and_yesterday_before() -> None:
    morning = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    night = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert last_scheduled(morning, AT) == datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    assert last_scheduled(night, AT) == datetime(2026, 3, 9, 2, 30, tzinfo=UTC)


def test_a_pc_that_was_off_at_night_catches_up_at_start() -> None:
    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert missed(None, now, AT)
    assert missed(
        datetime(2026, 3, 9, 2, 31, tzinfo=UTC), now, AT
    )  # yesterday's: last night missed
    assert not missed(datetime(2026, 3, 10, 2, 31, tzinfo=UTC), now, AT)


def test_restore_test_weekly_or_when_overdue() -> None:
    sunday = datetime(2026, 3, 15, 3, 0, tzinfo=UTC)
    assert sunday.weekday() == 6
    assert restore_test_due(None, sunday, 6)
    assert restore_test_due(sunday - timedelta(days=2), sunday, 6)  # Sunday: due
    assert not restore_test_due(sunday, sunday + timedelta(hours=1), 6)  # already done today
    assert not restore_test_due(sunday - timedelta(days=3), sunday - timedelta(days=1), 6)
    assert restore_test_due(sunday - timedelta(days=9), sunday - timedelta(days=1), 6)  # overdue
