"""Building a report's figures from the store: counts, durations, state codes and ids only.

A report covers ``(period_start, period_end]``: from the previous report's end (the first one:
from enrolment) to now. Nothing here reads a message body, a contact, a user, a branch or
channel name, or a phone number (tests/integration/test_sync_agent.py seeds canaries to prove
it); the pydantic models of :mod:`app.sync.schema` have no field that could carry them.
"""

from __future__ import annotations

import asyncio
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app import __version__
from app.domain.codes import as_code
from app.services.ports import Clock
from app.services.ports_sync import ChannelRow, SyncRepo, Transition
from app.store.store import Store
from app.sync.schema import (
    AuditFigures,
    BackupFigures,
    BranchFigures,
    ChannelFigures,
    Figures,
    SystemFigures,
)

WarningOf = Callable[[int], str | None]


def code_or_other(text: str | None) -> str | None:
    """A stored reason or state as a report code ("other" when it does not look like one)."""
    return None if text is None else as_code(text)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def state_seconds(
    initial: str | None, changes: Sequence[Transition], start: datetime, end: datetime
) -> dict[str, float]:
    """Seconds spent in each state within ``(start, end]``, given the state at ``start``
    (None: unknown until the first change) and the changes inside the period."""
    spent: dict[str, float] = {}
    state, cursor = initial, start
    for change in changes:
        if state is not None:
            spent[state] = spent.get(state, 0.0) + (change.at - cursor).total_seconds()
        state, cursor = change.to_state, change.at
    if state is not None:
        spent[state] = spent.get(state, 0.0) + max(0.0, (end - cursor).total_seconds())
    return {code_or_other(k) or "other": round(v, 3) for k, v in spent.items()}


def reconnects(initial: str | None, changes: Sequence[Transition]) -> int:
    """Returns to CONNECTED in the period; the very first connection is not a reconnect."""
    seen_connected = initial is not None
    count = 0
    for change in changes:
        if change.to_state == "CONNECTED":
            count += int(seen_connected)
            seen_connected = True
    return count


@dataclass(frozen=True, slots=True)
class Environment:
    """What a report needs besides the store: where the data lives, since when the agent
    runs, the backup status and key-storage facts, the live channel warnings."""

    data_root: Path
    db_files: tuple[Path, ...]
    started_at: datetime
    insecure_key_storage: bool = False
    backup_status: Callable[[], dict[str, object]] | None = None
    warning_of: WarningOf | None = None
    version: str = __version__


class ReportBuilder:
    """Figures for one period, read in one read transaction plus a few file-system facts."""

    def __init__(self, store: Store, clock: Clock, env: Environment) -> None:
        self._store, self._clock, self.env = store, clock, env

    async def figures(self, start: datetime, end: datetime) -> Figures:
        """The figures of ``(start, end]``."""
        start = min(start, end)  # a clock that went back gives an empty period, not an error
        counts = await self._store.read(lambda tx: _read(tx, start, end))
        backup, system = await asyncio.to_thread(lambda: (self._backup(), self._system(end)))
        return Figures(
            period_start=start,
            period_end=end,
            system=system,
            branches=self._branches(counts, start, end),
            backup=backup,
            audit=counts["audit"],
            errors=counts["errors"],
        )

    def _branches(
        self, counts: dict[str, Any], start: datetime, end: datetime
    ) -> list[BranchFigures]:
        channels: dict[int, list[ChannelFigures]] = {}
        for row in counts["channels"]:
            changes = [t for t in counts["transitions"] if t.channel_id == row.channel_id]
            initial = counts["initial"].get(row.channel_id) or _settled(row, changes, start)
            figures = self._channel(row, initial, changes, start, end)
            channels.setdefault(row.branch_id, []).append(figures)
        return [
            _branch(branch_id, counts["branches"][branch_id], channels.get(branch_id, []))
            for branch_id in sorted(counts["branches"])
        ]

    def _channel(
        self,
        row: ChannelRow,
        initial: str | None,
        changes: list[Transition],
        start: datetime,
        end: datetime,
    ) -> ChannelFigures:
        warning = self.env.warning_of(row.channel_id) if self.env.warning_of else None
        return ChannelFigures(
            channel_id=row.channel_id,
            kind=code_or_other(row.kind) or "other",
            state=code_or_other(row.state) or "other",
            state_reason=code_or_other(row.state_reason),
            state_seconds=state_seconds(initial, changes, start, end),
            reconnects=reconnects(initial, changes),
            warning=code_or_other(warning),
        )

    def _backup(self) -> BackupFigures:
        status = self.env.backup_status() if self.env.backup_status else {}
        success, failure = _at(status.get("last_success")), _at(status.get("last_failure"))
        failed = failure is not None and (success is None or failure > success)
        code = status.get("last_failure") if failed else None
        return BackupFigures(
            last_success=success,
            last_verify=_at(status.get("last_verify")),
            last_restore_test=_at(status.get("last_restore_test")),
            last_error=code_or_other(str(code.get("code"))) if isinstance(code, dict) else None,
        )

    def _system(self, now: datetime) -> SystemFigures:
        return SystemFigures(
            app_version=self.env.version,
            uptime_s=max(0.0, (now - self.env.started_at).total_seconds()),
            disk_free_bytes=shutil.disk_usage(self.env.data_root).free,
            db_bytes=sum(_size(p) for p in self.env.db_files),
            insecure_key_storage=self.env.insecure_key_storage,
        )


def _read(tx: Any, start: datetime, end: datetime) -> dict[str, Any]:
    repo: SyncRepo = tx.sync
    head = tx.audit.head()
    audit = AuditFigures(head_seq=head.entry.seq, head_hash=head.hash) if head else None
    return {
        "branches": {b: repo.branch_counts(b, start, end) for b in repo.branch_ids()},
        "channels": repo.channel_rows(),
        "initial": repo.state_at(start),
        "transitions": repo.transitions(start, end),
        "audit": audit or AuditFigures(head_seq=0, head_hash=""),
        "errors": repo.error_counts(start, end),
    }


def _branch(branch_id: int, counts: Any, channels: list[ChannelFigures]) -> BranchFigures:
    return BranchFigures(
        branch_id=branch_id,
        channels=channels,
        messages_in=counts.messages_in,
        messages_out=counts.messages_out,
        tickets_opened=counts.tickets_opened,
        tickets_closed=counts.tickets_closed,
        tickets_waiting=counts.tickets_waiting,
        first_response_p50_s=percentile(counts.first_responses_s, 0.50),
        first_response_p95_s=percentile(counts.first_responses_s, 0.95),
    )


def _settled(row: ChannelRow, changes: list[Transition], start: datetime) -> str | None:
    """The state of a channel without stored history before ``start``: its current one,
    when it has not changed since before the period."""
    if changes or (row.state_since is not None and row.state_since > start):
        return None
    return row.state


def _at(value: object) -> datetime | None:
    """The time of a backup status entry ``{"at": ISO, ...}`` (paths are never reported)."""
    if not isinstance(value, dict) or not isinstance(value.get("at"), str):
        return None
    try:
        return datetime.fromisoformat(value["at"])
    except ValueError:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
