"""SQL behind :class:`app.services.ports_sync.SyncRepo`: the sync agent's settings, its
durable outbox (``sync_outbox``) and the counts a report is built from.

Counts only: nothing here selects a message body, a contact, a name or a phone number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, func, insert, select, type_coerce

from app.domain.codes import as_code
from app.services.ports_sync import BranchCounts, ChannelRow, QueuedReport, Transition
from app.store.repos_messaging import read_setting, write_setting
from app.store.schema import (
    channel_state_history,
    channels,
    inbound_quarantine,
    messages,
    outbox,
    sync_outbox,
    tickets,
)

GLOBAL = 0
# "inbound.quarantined:<reason>" stays within a report code's 64 characters.
_REASON_MAX = 40


class SyncRepository:
    """The sync agent's rows."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    # ---- identity and state (global settings) -------------------------------------------

    def load(self, key: str) -> dict[str, object] | None:
        value = read_setting(self._c, GLOBAL, key)
        return value if isinstance(value, dict) else None

    def save(self, key: str, value: dict[str, object], at: datetime) -> None:
        write_setting(self._c, GLOBAL, key, value, at)

    # ---- the outbox ---------------------------------------------------------------------

    def next_seq(self) -> int:
        """What AUTOINCREMENT would give next (it never goes back, even on an empty table)."""
        query = "SELECT seq FROM sqlite_sequence WHERE name = 'sync_outbox'"
        last = self._c.exec_driver_sql(query).scalar()
        return int(last or 0) + 1

    def add(self, seq: int, created_at: datetime, body: str) -> None:
        size = len(body.encode("utf-8"))
        row = {"seq": seq, "created_at": created_at, "body": body, "size": size}
        self._c.execute(insert(sync_outbox).values(**row))

    def totals(self) -> tuple[int, int]:
        """Queued reports and their bytes."""
        query = select(func.count(), func.coalesce(func.sum(sync_outbox.c.size), 0))
        count, size = self._c.execute(query).one()
        return int(count), int(size)

    def drop_older_than(self, cutoff: datetime) -> int:
        stmt = sync_outbox.delete().where(sync_outbox.c.created_at < cutoff)
        return int(self._c.execute(stmt).rowcount or 0)

    def drop_oldest(self) -> bool:
        first = select(func.min(sync_outbox.c.seq)).scalar_subquery()
        return bool(
            self._c.execute(sync_outbox.delete().where(sync_outbox.c.seq == first)).rowcount
        )

    def oldest(self, limit: int) -> list[QueuedReport]:
        q = sync_outbox.c
        query = select(q.seq, q.created_at, q.size, q.body).order_by(q.seq).limit(limit)
        return [QueuedReport(r.seq, r.created_at, r.size, r.body) for r in self._c.execute(query)]

    def delete(self, seqs: list[int]) -> int:
        stmt = sync_outbox.delete().where(sync_outbox.c.seq.in_(seqs))
        return int(self._c.execute(stmt).rowcount or 0)

    def replace_all(self, reports: list[QueuedReport]) -> None:
        """Empty the outbox and store ``reports`` instead (renumbering after a restore)."""
        self._c.execute(sync_outbox.delete())
        for report in reports:
            self.add(report.seq, report.created_at, report.body)

    # ---- figures --------------------------------------------------------------------------

    def branch_ids(self) -> list[int]:
        query = "SELECT id FROM branches ORDER BY id"
        return [int(r[0]) for r in self._c.exec_driver_sql(query)]

    def channel_rows(self) -> list[ChannelRow]:
        c = channels.c
        query = select(c.id, c.branch_id, c.kind, c.state, c.state_reason, c.state_since)
        return [ChannelRow(*row) for row in self._c.execute(query.order_by(c.id))]

    def transitions(self, start: datetime, end: datetime) -> list[Transition]:
        """State changes in ``(start, end]``, oldest first."""
        h = channel_state_history.c
        where = (h.at > start) & (h.at <= end)
        query = select(h.channel_id, h.at, h.to_state).where(where).order_by(h.at, h.id)
        return [Transition(*row) for row in self._c.execute(query)]

    def state_at(self, at: datetime) -> dict[int, str]:
        """Each channel's state at ``at`` (its last change at or before it)."""
        h = channel_state_history.c
        last = (
            select(h.channel_id, func.max(h.id).label("id"))
            .where(h.at <= at)
            .group_by(h.channel_id)
            .subquery()
        )
        query = select(h.channel_id, h.to_state).join(last, h.id == last.c.id)
        return {int(cid): str(state) for cid, state in self._c.execute(query)}

    def branch_counts(self, branch_id: int, start: datetime, end: datetime) -> BranchCounts:
        t = tickets.c
        mine = t.branch_id == branch_id
        directions = self._messages(branch_id, start, end)
        return BranchCounts(
            messages_in=directions.get("in", 0),
            messages_out=directions.get("out", 0),
            tickets_opened=self._count(tickets, mine & _within(t.created_at, start, end)),
            tickets_closed=self._count(tickets, mine & _within(t.closed_at, start, end)),
            tickets_waiting=self._count(tickets, mine & (t.status == "pending")),
            first_responses_s=self._first_responses(branch_id, start, end),
        )

    def error_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """Inbound events set aside per reason, outbound sends failed or held for review."""
        q, o = inbound_quarantine.c, outbox.c
        found: dict[str, int] = {}
        where = _within(q.received_at, start, end)
        for reason, n in self._c.execute(
            select(q.reason, func.count()).where(where).group_by(q.reason)
        ):
            key = f"inbound.quarantined:{as_code(str(reason), _REASON_MAX)}"
            found[key] = found.get(key, 0) + int(n)
        where = _within(o.updated_at, start, end) & o.status.in_(["failed", "needs_review"])
        for status, n in self._c.execute(
            select(o.status, func.count()).where(where).group_by(o.status)
        ):
            found[f"outbox.{status}"] = int(n)
        return found

    def _messages(self, branch_id: int, start: datetime, end: datetime) -> dict[str, int]:
        ours = select(channels.c.id).where(channels.c.branch_id == branch_id).scalar_subquery()
        m = messages.c
        where = m.channel_id.in_(ours) & _within(m.sent_at, start, end)
        query = select(m.direction, func.count()).where(where).group_by(m.direction)
        return {str(d): int(n) for d, n in self._c.execute(query)}

    def _first_responses(self, branch_id: int, start: datetime, end: datetime) -> tuple[float, ...]:
        t = tickets.c
        spent = type_coerce(t.first_response_at, BigInteger) - type_coerce(t.created_at, BigInteger)
        where = (t.branch_id == branch_id) & _within(t.first_response_at, start, end)
        return tuple(
            max(0, int(ms)) / 1000.0 for (ms,) in self._c.execute(select(spent).where(where))
        )

    def _count(self, table: Any, where: Any) -> int:
        return int(
            self._c.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        )


def _within(column: Any, start: datetime, end: datetime) -> Any:
    """``start < column <= end``: consecutive periods share no moment."""
    return (column > start) & (column <= end)
