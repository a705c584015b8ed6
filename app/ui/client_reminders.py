"""The desk's calls for the Lembretes page (``/reminders``), kept out of ``client.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.ui.client import DeskClient

Json = dict[str, Any]
SCHEDULED = "scheduled"


@dataclass(frozen=True, slots=True)
class Reminder:
    """One scheduled text to one patient (``GET /reminders``)."""

    id: int
    branch_id: int
    channel_id: int
    contact_id: int
    body: str
    next_run_at: datetime | None
    every_days: int | None
    cron: str | None
    status: str  # scheduled, done, cancelled, skipped_opt_out
    last_sent_at: datetime | None
    contact_name: str | None = None
    ask_confirmation: bool = False
    answer: str | None = None  # confirmed / declined, to the latest occurrence
    asked_ticket_id: int | None = None  # the conversation the latest occurrence went into
    answer_state: str | None = None  # pending, waiting, no_answer, confirmed, declined

    @property
    def cancellable(self) -> bool:
        return self.status == SCHEDULED


@dataclass(frozen=True, slots=True)
class NewReminder:
    """What the "Novo lembrete" dialog asks the engine to schedule."""

    channel_id: int
    contact_ids: tuple[int, ...]
    text: str
    start_at: datetime  # aware
    every_days: int | None = None
    ask_confirmation: bool = False  # "Responda 1 para confirmar ou 2 para remarcar"


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def reminder_of(d: Json) -> Reminder:
    """Parse one item of the API's answer."""
    return Reminder(
        d["id"], d["branch_id"], d["channel_id"], d["contact_id"], d["body"],
        _moment(d.get("next_run_at")), d.get("every_days"), d.get("cron"), d["status"],
        _moment(d.get("last_sent_at")), d.get("contact_name"),
        bool(d.get("ask_confirmation")), d.get("answer"), d.get("asked_ticket_id"),
        d.get("answer_state"),
    )  # fmt: skip


class RemindersApi:
    """List, create and cancel reminders through a logged-in :class:`DeskClient`."""

    def __init__(self, client: DeskClient) -> None:
        self.client = client

    async def page(
        self, filters: Json | None = None, cursor: str | None = None, limit: int = 100
    ) -> tuple[list[Reminder], str | None]:
        """Newest first, filtered by ``status`` and/or ``answer`` (``filters``); the cursor
        continues the list (None: the end)."""
        params: Json = {"limit": limit} | (filters or {})
        params |= {"cursor": cursor} if cursor else {}
        d = await self.client.call("GET", "/reminders", params=params)
        return [reminder_of(r) for r in d["items"]], d.get("next_cursor")

    async def create(self, new: NewReminder) -> list[Reminder]:
        """One reminder per patient (several share a campaign)."""
        body: Json = {
            "channel_id": new.channel_id,
            "contact_ids": list(new.contact_ids),
            "text": new.text,
            "start_at": new.start_at.isoformat(),
        }
        if new.every_days:
            body["every_days"] = new.every_days
        if new.ask_confirmation:
            body["ask_confirmation"] = True
        d = await self.client.call("POST", "/reminders", json=body)
        return [reminder_of(r) for r in d["items"]]

    async def cancel(self, reminder_id: int) -> Reminder:
        """Cancel a scheduled reminder (a done one comes back unchanged)."""
        return reminder_of(await self.client.call("POST", f"/reminders/{reminder_id}/cancel"))
