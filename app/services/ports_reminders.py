"""The reminders repository as the services see it (``tx.reminders``); SQL in
``app.store.repos_reminders``."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NewReminder:
    """A reminder row to insert (status ``scheduled``)."""

    branch_id: int
    channel_id: int
    contact_id: int
    body: str
    next_run_at: datetime
    every_days: int | None
    cron: str | None
    campaign: str | None
    created_by: int | None
    at: datetime
    ask_confirmation: bool = False  # the text ends with "1 to confirm, 2 to reschedule"


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    """A stored reminder. ``body`` is patient-facing text: never log it."""

    id: int
    branch_id: int
    channel_id: int
    contact_id: int
    body: str
    next_run_at: datetime | None
    every_days: int | None
    cron: str | None
    campaign: str | None
    status: str
    created_by: int | None
    created_at: datetime
    last_sent_at: datetime | None
    contact_name: str | None = None  # in lists only (who the reminder is for; never logged)
    ask_confirmation: bool = False
    asked_ticket_id: int | None = None  # the ticket the latest occurrence went into
    answer: str | None = None  # the patient's answer to it: confirmed / declined (None: none)
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReminderQuery:
    """A keyset page of reminders, newest first (``before``: the cursor's (created_at, id))."""

    branch_ids: frozenset[int] | None  # listed whole (None: every branch)
    limit: int
    status: str | None = None
    campaign: str | None = None
    contact_id: int | None = None
    before: tuple[datetime, int] | None = None
    answer: str | None = None  # confirmed, declined, or waiting (asked, sent, unanswered)
    asked_since: datetime | None = None  # with "waiting": sent since then (still answerable)
    own_branch_ids: frozenset[int] = frozenset()  # here, only ``own_user_id``'s reminders
    own_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What a reminder needs of its contact."""

    id: int
    branch_id: int
    display_name: str | None
    merged_into_id: int | None
    opted_out_at: datetime | None


class ReminderRepo(Protocol):
    def add(self, new: NewReminder) -> int: ...
    def get(self, reminder_id: int) -> ReminderRecord | None: ...
    def list(self, query: ReminderQuery) -> builtins.list[ReminderRecord]: ...
    def update(self, reminder_id: int, **values: object) -> None: ...
    def scheduled(self) -> builtins.list[tuple[int, datetime]]: ...
    def scheduled_in_campaign(self, campaign: str) -> builtins.list[ReminderRecord]: ...
    def contact(self, contact_id: int) -> ContactFacts | None: ...
    def set_opted_out(self, contact_id: int, at: datetime | None) -> None: ...
    def add_opt_out(
        self, contact_id: int, keyword: str, message_id: int | None, at: datetime
    ) -> int: ...
    def choices_of(self, contact_id: int) -> builtins.list[tuple[str, datetime]]: ...
    def link_message(self, message_id: int, reminder_id: int) -> None: ...
    def sent_wa_id(self, reminder_id: int, ticket_id: int) -> str | None: ...
    def awaiting_answer(
        self, contact_id: int, channel_id: int, since: datetime
    ) -> ReminderRecord | None: ...
    def channel_sends(self, channel_id: int, since: datetime) -> tuple[datetime | None, int]: ...
