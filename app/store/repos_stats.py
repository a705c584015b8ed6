"""SQL behind :class:`app.services.ports_stats.StatsRepo`: counts for the desk's Painel.

Times are stored as integer milliseconds (``UtcDateTime``), so hour buckets and durations are
integer arithmetic on the raw column (``type_coerce`` keeps SQLAlchemy from treating the
arithmetic's operands as datetimes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, func, select, type_coerce

from app.domain.reminders import CONFIRMED, DECLINED
from app.services.ports_stats import BranchDayCounts, QueueDayCounts
from app.store.schema import channels, messages, reminders, tickets

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
        waiting = self._waiting(branch_id)
        firsts = self._durations(branch_id, tickets.c.first_response_at, start, end)
        dones = self._durations(branch_id, tickets.c.closed_at, start, end)
        queues = sorted(set(waiting) | set(firsts) | set(dones), key=lambda q: (q is None, q))
        by_queue = tuple(
            QueueDayCounts(q, waiting.get(q, 0), *firsts.get(q, (0.0, 0)), *dones.get(q, (0.0, 0)))
            for q in queues
        )
        asked = self._confirmations(branch_id, start, end)
        return BranchDayCounts(
            connected, total, sum(hourly["in"]), sum(hourly["out"]),
            tuple(hourly["in"]), tuple(hourly["out"]), sum(waiting.values()),
            sum(s for s, _ in firsts.values()), sum(n for _, n in firsts.values()),
            sum(s for s, _ in dones.values()), sum(n for _, n in dones.values()), by_queue,
            sum(asked.values()), asked.get(CONFIRMED, 0), asked.get(DECLINED, 0),
        )  # fmt: skip

    def _confirmations(self, branch_id: int, start: datetime, end: datetime) -> dict[Any, int]:
        """Reminders that asked for confirmation, last sent in the window, per answer."""
        r = reminders.c
        where = (r.branch_id == branch_id) & r.ask_confirmation.is_(True)
        where &= (r.last_sent_at >= start) & (r.last_sent_at < end)
        query = select(r.answer, func.count()).where(where).group_by(r.answer)
        return {answer: int(n) for answer, n in self._c.execute(query)}

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

    def _waiting(self, branch_id: int) -> dict[int | None, int]:
        """Tickets waiting now, per queue."""
        where = (tickets.c.branch_id == branch_id) & (tickets.c.status == "pending")
        query = select(tickets.c.queue_id, func.count()).where(where).group_by(tickets.c.queue_id)
        return {q: int(n) for q, n in self._c.execute(query)}

    def _durations(
        self, branch_id: int, ended: ColumnElement[datetime], start: datetime, end: datetime
    ) -> dict[int | None, tuple[float, int]]:
        """Per queue: total seconds from a ticket's creation to ``ended``, for tickets whose
        ``ended`` falls in the window, and how many there are."""
        spent = func.sum(_raw(ended) - _raw(tickets.c.created_at))
        where = (tickets.c.branch_id == branch_id) & (ended >= start) & (ended < end)
        query = select(tickets.c.queue_id, spent, func.count()).where(where)
        rows = self._c.execute(query.group_by(tickets.c.queue_id))
        return {q: (int(total or 0) / 1000.0, int(count)) for q, total, count in rows}
