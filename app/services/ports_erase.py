"""The erasure repository as the services see it (``tx.erasure``); SQL in
``app.store.repos_erase``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    """What one erasure removed; ``blobs`` are the media files (and thumbnails) to delete
    once the transaction has committed."""

    messages: int
    attachments: int
    tickets_closed: int
    reminders: int
    quarantined: int
    blobs: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, int]:
        """The counts for the audit row and the ledger (never an id of a file)."""
        return {
            "messages": self.messages, "attachments": self.attachments,
            "tickets_closed": self.tickets_closed, "reminders": self.reminders,
            "quarantined": self.quarantined,
        }  # fmt: skip


class ErasureRepo(Protocol):
    def erase(self, contact_id: int, at: datetime) -> ErasureCounts: ...
    def record(
        self, branch_id: int, contact_id: int, at: datetime, actor: int | None,
        counts: dict[str, int],
    ) -> None: ...  # fmt: skip
