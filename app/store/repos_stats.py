"""SQL behind :class:`app.services.ports_stats.StatsRepo`: counts for the desk's Painel.

Times are stored as integer milliseconds (``UtcDateTime``), so hour buckets and durations are
integer arithmetic on the raw column (``type_coerce`` keeps SQLAlchemy from treating the
arithmetic's operands as datetimes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, Connection, func, select, type_coerce

from app.services.ports_stats import BranchDayCounts
from app.store.schema import channels, messages, tickets

HOURS = 24
MS_PER_HOUR = 3_600_000


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def _raw(column: ColumnElement[datetime]) -> ColumnElement[int]:
    return type_coerce(column, BigInteger)


class StatsRepository:
    """Counts only: nothing here reads a message body, a name or a number."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def branch_day(self, branch_id: int, start: datetime, end: datetime) -> BranchDayCounts:
        connected, total = self._channels(branch_id)
        hourly = self._hourly(branch_id, start, end)
        first_s, firsts = self._durations(branch_id, tickets.c.first_response_at, start, end)
        done_s, dones = self._durations(branch_id, tickets.c.closed_at, start, end)
        return BranchDayCounts(
            connected, total, sum(hourly["in"]), sum(hourly["out"]),
            tuple(hourly["in"]), tuple(hourly["out"]), self._waiting(branch_id),
            first_s, firsts, done_s, dones,
        )  # fmt: skip

    def _channels(self, branch_id: int) -> tuple[int, int]:
        mine = (channels.c.branch_id == branch_id) & channels.c.enabled.is_(True)
        up = func.sum(func.iif(channels.c.state == "CONNECTED", 1, 0))
        row = self._c.execute(select(up, func.count()).where(mine)).one()
        return int(row[0] or 0), int(row[1] or 0)

    def _hourly(self, branch_id: int, start: datetime, end: datetime) -> dict[str, list[int]]:
        """Messages of the branch's channels sent in the window, per direction and hour."""
        hour = (_raw(messages.c.sent_at) - _ms(start)) / MS_PER_HOUR
        ours = select(channels.c.id).where(channels.c.branch_id == branch_id)
        where = (
            messages.c.channel_id.in_(ours.scalar_subquery())
            & (messages.c.sent_at >= start)
            & (messages.c.sent_at < end)
        )
        query = select(messages.c.direction, hour, func.count()).where(where)
        found: dict[str, list[int]] = {"in": [0] * HOURS, "out": [0] * HOURS}
        for direction, h, n in self._c.execute(query.group_by(messages.c.direction, hour)):
            found[direction][min(int(h), HOURS - 1)] += int(n)
        return found

    def _waiting(self, branch_id: int) -> int:
        where = (tickets.c.branch_id == branch_id) & (tickets.c.status == "pending")
        return int(self._c.execute(select(func.count()).where(where)).scalar() or 0)

    def _durations(
        self, branch_id: int, ended: ColumnElement[datetime], start: datetime, end: datetime
    ) -> tuple[float, int]:
        """Total seconds from a ticket's creation to ``ended``, for tickets whose ``ended``
        falls in the window, and how many there are."""
        spent = func.sum(_raw(ended) - _raw(tickets.c.created_at))
        where = (tickets.c.branch_id == branch_id) & (ended >= start) & (ended < end)
        total, count = self._c.execute(select(spent, func.count()).where(where)).one()
        return (int(total or 0) / 1000.0, int(count or 0))
