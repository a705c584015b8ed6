"""Ports of the sync agent (:mod:`app.sync`): its identity and state (global settings), the
durable outbox of reports, and the counts a report is built from.

``Tx.sync`` exposes them inside a transaction (or a read). Every figure here is a count, a
duration, a state code or an id: nothing reads a message body, a name or a phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueuedReport:
    """One report waiting in the outbox: its seq, creation time, size in bytes and JSON."""

    seq: int
    created_at: datetime
    size: int
    body: str


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A channel's id, branch, kind and current state (never its number or name)."""

    channel_id: int
    branch_id: int
    kind: str
    state: str
    state_reason: str | None
    state_since: datetime | None


@dataclass(frozen=True, slots=True)
class Transition:
    """A stored channel state change."""

    channel_id: int
    at: datetime
    to_state: str


@dataclass(frozen=True, slots=True)
class BranchCounts:
    """One branch's volumes in a period, plus its waiting tickets now."""

    messages_in: int = 0
    messages_out: int = 0
    tickets_opened: int = 0
    tickets_closed: int = 0
    tickets_waiting: int = 0
    first_responses_s: tuple[float, ...] = ()


class SyncRepo(Protocol):
    """Settings, outbox and figures of the sync agent."""

    # identity and state: JSON objects in the global settings (branch 0)
    def load(self, key: str) -> dict[str, object] | None: ...
    def save(self, key: str, value: dict[str, object], at: datetime) -> None: ...

    # the outbox
    def next_seq(self) -> int: ...
    def add(self, seq: int, created_at: datetime, body: str) -> None: ...
    def totals(self) -> tuple[int, int]: ...
    def drop_older_than(self, cutoff: datetime) -> int: ...
    def drop_oldest(self) -> bool: ...
    def oldest(self, limit: int) -> list[QueuedReport]: ...
    def delete(self, seqs: list[int]) -> int: ...
    def replace_all(self, reports: list[QueuedReport]) -> None: ...

    # figures (counts only)
    def branch_ids(self) -> list[int]: ...
    def channel_rows(self) -> list[ChannelRow]: ...
    def transitions(self, start: datetime, end: datetime) -> list[Transition]: ...
    def state_at(self, at: datetime) -> dict[int, str]: ...
    def branch_counts(self, branch_id: int, start: datetime, end: datetime) -> BranchCounts: ...
    def error_counts(self, start: datetime, end: datetime) -> dict[str, int]: ...
