"""Reminders and campaigns: schedule a text to one contact or to a list (a campaign), once or
recurring; list and cancel them. Supervisors and admins of the branch (``manage_reminders``)
do all of it; receptionists (``remind_patients``) schedule one patient at a time, a patient
whose conversation they may open, and see and cancel only the reminders they scheduled.

The ``reminders`` table is the source of truth. The engine's scheduler
(``app.services.reminder_scheduler``) plans a job per scheduled reminder from it — at start,
and whenever this service creates or cancels one (``planner``) — and calls :meth:`fire` when
one is due; firing queues the message in the outbox and wakes the sender (``sender``).
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.domain.errors import AccessDeniedError, ClinicDeskError, ErrorCode, NotFoundError
from app.domain.reminders import (
    ANSWER_WINDOW,
    ANSWERS,
    WAITING,
    Recurrence,
    answer_state,
    check_recurrence,
    first_occurrence,
)
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.events import Event, EventBus
from app.services.events_outbound import OutboxChanged
from app.services.outbound import Waker, changed_event, clean_text
from app.services.ports import Clock, Store, Tx
from app.services.ports_reminders import NewReminder, ReminderQuery, ReminderRecord
from app.services.reminders_fire import Fired, fire_in, timezone_of
from app.services.ticket_access import (
    clamp_limit,
    decode_cursor,
    encode_cursor,
    require_user,
    scope_for,
)

MAX_CONTACTS = 1000
PAST_TOLERANCE = timedelta(minutes=5)  # "now" from a client whose clock is a little behind
STATUSES = frozenset({"scheduled", "done", "cancelled", "skipped_opt_out"})
ANSWER_FILTERS = frozenset({*ANSWERS, WAITING})


@dataclass(frozen=True, slots=True)
class ReminderRequest:
    """A reminder to schedule: one contact, or several (a campaign, one reminder each)."""

    channel_id: int
    contact_ids: tuple[int, ...]
    text: str
    start_at: datetime
    every_days: int | None = None
    cron: str | None = None
    ask_confirmation: bool = False  # "Responda 1 para confirmar ou 2 para remarcar"


@dataclass(frozen=True, slots=True)
class ReminderFilters:
    branch_id: int | None = None
    status: str | None = None
    campaign: str | None = None
    contact_id: int | None = None
    cursor: str | None = None
    limit: int = 50
    # confirmed, declined, or waiting (asked and sent within ANSWER_WINDOW, no answer yet)
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class ReminderPage:
    """Newest first; ``next_cursor`` leads to older reminders (None: the end)."""

    items: list[ReminderRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A reminder whose job is due: the occurrence to fire and the channel's time zone."""

    reminder_id: int
    channel_id: int
    occurrence: datetime
    timezone: str
    opted_out: bool  # firing only records the skip: it takes no pacing slot


@dataclass(frozen=True, slots=True)
class ReminderChanged(Event):
    """A reminder was created, cancelled, fired, skipped or answered (ids and status only)."""

    reminder_id: int
    contact_id: int | None
    campaign: str | None
    status: str


class Planner(Protocol):
    """The engine's scheduler as the service sees it."""

    def plan(self, reminder_id: int, at: datetime) -> None: ...
    def unplan(self, reminder_id: int) -> None: ...


class ReminderService:
    """Create, list, cancel and fire reminders (see the module docstring)."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor, bus: EventBus) -> None:
        self._store, self._clock, self._auditor, self._bus = store, clock, auditor, bus
        self.sender: Waker | None = None
        self.planner: Planner | None = None

    async def create(self, actor: Actor, req: ReminderRequest) -> builtins.list[ReminderRecord]:
        """Schedule ``req`` (audited); several contacts share a new campaign id."""
        text = clean_text(req.text)
        contacts = _contact_ids(req.contact_ids)
        campaign = secrets.token_hex(8) if len(contacts) > 1 else None
        made = await self._store.transaction(
            lambda tx: self._create(tx, actor, req, (text, contacts, campaign))
        )
        for rem in made:
            self._changed(rem)
        return made

    def _create(
        self, tx: Tx, actor: Actor, req: ReminderRequest,
        what: tuple[str, tuple[int, ...], str | None],
    ) -> builtins.list[ReminderRecord]:  # fmt: skip
        text, contact_ids, campaign = what
        channel = tx.channels.get(req.channel_id)
        if channel is None or not actor.can(Permission.VIEW_BRANCH, channel.branch_id):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="channel")  # other branches: hidden
        manager = actor.can(Permission.MANAGE_REMINDERS, channel.branch_id)
        if not manager:
            _require_own(actor, channel.branch_id, contact_ids)
        tz, now = timezone_of(tx, channel.branch_id), self._clock.now()
        rec = check_recurrence(Recurrence(req.every_days, req.cron), tz)
        start = _start(req.start_at, now)
        first = first_occurrence(rec, start, tz)
        made = []
        for contact_id in contact_ids:
            kept = _branch_contact(tx, channel.branch_id, contact_id)
            if not manager:
                _require_seen(tx, actor, kept)
            new = NewReminder(
                channel.branch_id, channel.id, kept, text, first, rec.every_days, rec.cron,
                campaign, actor.user_id, now, req.ask_confirmation,
            )  # fmt: skip
            made.append(self._add(tx, actor, new))
        return made

    def _add(self, tx: Tx, actor: Actor, new: NewReminder) -> ReminderRecord:
        reminder_id = tx.reminders.add(new)
        target = AuditTarget("reminder", reminder_id, new.branch_id)
        details: dict[str, object] = {"contact_id": new.contact_id, "channel_id": new.channel_id}
        details |= {"campaign": new.campaign, "every_days": new.every_days, "cron": new.cron}
        details["ask_confirmation"] = new.ask_confirmation
        self._auditor.record(tx, actor, "reminder.create", target, **details)
        return _must(tx, reminder_id)

    async def list(self, actor: Actor, filters: ReminderFilters) -> ReminderPage:
        """Reminders of the branches where the actor manages them, plus the actor's own where
        they only remind (receptionists), newest first (keyset)."""
        f = filters
        if f.status is not None and f.status not in STATUSES:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="status")
        if f.answer is not None and f.answer not in ANSWER_FILTERS:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="answer")
        if not actor.can(Permission.REMIND_PATIENTS):
            actor.require(Permission.MANAGE_REMINDERS)
        limit, before = clamp_limit(f.limit), decode_cursor(f.cursor)
        managed, own = _branches(actor, f.branch_id)
        query = ReminderQuery(
            managed, limit + 1, f.status, f.campaign, f.contact_id, before, f.answer,
            self._clock.now() - ANSWER_WINDOW, own_branch_ids=own, own_user_id=actor.user_id,
        )  # fmt: skip
        rows = await self._store.read(lambda tx: tx.reminders.list(query))
        cursor = None
        if len(rows) > limit:
            cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id)
        return ReminderPage(rows[:limit], cursor)

    def answer_state(self, rem: ReminderRecord) -> str | None:
        """Where the reminder's question stands now (``app.domain.reminders.answer_state``)."""
        return answer_state(rem.ask_confirmation, rem.answer, rem.last_sent_at, self._clock.now())

    async def get(self, actor: Actor, reminder_id: int) -> ReminderRecord:
        """One reminder (NOT_FOUND outside the actor's branches)."""
        return await self._store.read(lambda tx: _managed(tx, actor, reminder_id))

    async def cancel(self, actor: Actor, reminder_id: int) -> ReminderRecord:
        """Cancel a scheduled reminder (audited); cancelling it again changes nothing."""

        def work(tx: Tx) -> ReminderRecord:
            return self._cancel(tx, actor, _managed(tx, actor, reminder_id))

        return self._cancelled([await self._store.transaction(work)])[0]

    async def cancel_campaign(self, actor: Actor, campaign: str) -> builtins.list[ReminderRecord]:
        """Cancel every still-scheduled reminder of ``campaign`` (audited, one entry each)."""

        def work(tx: Tx) -> builtins.list[ReminderRecord]:
            rows = [r for r in tx.reminders.scheduled_in_campaign(campaign) if _may(actor, r)]
            return [self._cancel(tx, actor, r) for r in rows]

        return self._cancelled(await self._store.transaction(work))

    def _cancel(self, tx: Tx, actor: Actor, rem: ReminderRecord) -> ReminderRecord:
        if rem.status != "scheduled":
            return rem
        tx.reminders.update(rem.id, status="cancelled", next_run_at=None)
        target = AuditTarget("reminder", rem.id, rem.branch_id)
        self._auditor.record(tx, actor, "reminder.cancel", target, campaign=rem.campaign)
        return _must(tx, rem.id)

    def _cancelled(self, rows: builtins.list[ReminderRecord]) -> builtins.list[ReminderRecord]:
        for rem in rows:
            self._changed(rem)
        return rows

    # ---- the engine's side ----------------------------------------------------------------------

    async def scheduled(self) -> builtins.list[tuple[int, datetime]]:
        """(id, next_run_at) of every scheduled reminder, soonest first."""
        return await self._store.read(lambda tx: tx.reminders.scheduled())

    async def due(self, reminder_id: int) -> DueReminder | None:
        """What firing ``reminder_id`` now needs, or None when it is no longer scheduled."""

        def work(tx: Tx) -> DueReminder | None:
            rem = tx.reminders.get(reminder_id)
            if rem is None or rem.status != "scheduled" or rem.next_run_at is None:
                return None
            tz = timezone_of(tx, rem.branch_id)
            facts = tx.reminders.contact(rem.contact_id)
            out = facts is None or facts.opted_out_at is not None
            return DueReminder(rem.id, rem.channel_id, rem.next_run_at, tz, out)

        return await self._store.read(work)

    async def channel_sends(self, channel_id: int, since: datetime) -> tuple[datetime | None, int]:
        """The newest reminder send queued on the channel and how many since ``since``."""
        return await self._store.read(lambda tx: tx.reminders.channel_sends(channel_id, since))

    async def fire(self, reminder_id: int, occurrence: datetime) -> Fired:
        """Queue ``occurrence`` of the reminder, exactly once (``reminders_fire``); then tell
        the bus, plan the next occurrence and wake the channel's sender."""
        now = self._clock.now()
        fired = await self._store.transaction(
            lambda tx: fire_in(tx, self._auditor, reminder_id, occurrence, now)
        )
        if fired.outcome != "stale":
            self._after_fire(fired)
        return fired

    def _after_fire(self, fired: Fired) -> None:
        status = "scheduled" if fired.next_run_at is not None else fired.outcome
        self._bus.publish(ReminderChanged(fired.branch_id, fired.reminder_id, None, None, status))
        if fired.next_run_at is not None and self.planner is not None:
            self.planner.plan(fired.reminder_id, fired.next_run_at)
        if fired.item is not None:
            self._bus.publish(_outbox_event(fired))
            if self.sender is not None:
                self.sender.wake(fired.item.channel_id)

    def _changed(self, rem: ReminderRecord) -> None:
        event = ReminderChanged(rem.branch_id, rem.id, rem.contact_id, rem.campaign, rem.status)
        self._bus.publish(event)
        if self.planner is None:
            return
        if rem.status == "scheduled" and rem.next_run_at is not None:
            self.planner.plan(rem.id, rem.next_run_at)
        else:
            self.planner.unplan(rem.id)


def _outbox_event(fired: Fired) -> OutboxChanged:
    assert fired.item is not None
    return changed_event(fired.item)


def _contact_ids(ids: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(ids))
    if not unique or len(unique) > MAX_CONTACTS:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="contact_ids", maximum=MAX_CONTACTS)
    return unique


def _start(start_at: datetime, now: datetime) -> datetime:
    if start_at.tzinfo is None or start_at < now - PAST_TOLERANCE:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="start_at")
    return max(start_at, now)


def _branch_contact(tx: Tx, branch_id: int, contact_id: int) -> int:
    """The contact (or the one it was merged into) if it belongs to the branch."""
    facts = tx.reminders.contact(contact_id)
    for _ in range(8):  # merges chain rarely; the bound only guards against a cycle
        if facts is None or facts.merged_into_id is None:
            break
        facts = tx.reminders.contact(facts.merged_into_id)
    if facts is None or facts.branch_id != branch_id:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")
    return facts.id


def _branches(actor: Actor, branch_id: int | None) -> tuple[frozenset[int] | None, frozenset[int]]:
    """The branches whose reminders the actor lists whole (None: all), and those where only
    the actor's own reminders are listed (receptionists)."""
    if actor.super_admin:
        return (None if branch_id is None else frozenset({branch_id})), frozenset()
    wanted = actor.branch_ids if branch_id is None else frozenset({branch_id})
    managed = frozenset(b for b in wanted if actor.can(Permission.MANAGE_REMINDERS, b))
    own = frozenset(b for b in wanted - managed if actor.can(Permission.REMIND_PATIENTS, b))
    if branch_id is not None and not managed | own:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
    return managed, own


def _may(actor: Actor, rem: ReminderRecord) -> bool:
    """Managers of the branch, or the receptionist who scheduled it."""
    if actor.can(Permission.MANAGE_REMINDERS, rem.branch_id):
        return True
    mine = actor.user_id is not None and rem.created_by == actor.user_id
    return mine and actor.can(Permission.REMIND_PATIENTS, rem.branch_id)


def _require_own(actor: Actor, branch_id: int, contact_ids: tuple[int, ...]) -> None:
    """Without ``manage_reminders``: one patient at a time (campaigns are supervisors'), and
    only from a staff account (the reminder is theirs to see and cancel)."""
    actor.require(Permission.REMIND_PATIENTS, branch_id)
    require_user(actor)
    if len(contact_ids) > 1:
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="manage_reminders")


def _require_seen(tx: Tx, actor: Actor, contact_id: int) -> None:
    """The patient must have a conversation the actor may open; else "not found", as for a
    contact profile (a receptionist does not learn of patients of other queues)."""
    scope = scope_for(tx, actor)
    tickets = tx.messaging.tickets_of_contact(contact_id)
    if not any(tx.messaging.ticket_visible(t.id, scope) for t in tickets):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="contact")


def _managed(tx: Tx, actor: Actor, reminder_id: int) -> ReminderRecord:
    rem = tx.reminders.get(reminder_id)
    if rem is None or not _may(actor, rem):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="reminder")
    return rem


def _must(tx: Tx, reminder_id: int) -> ReminderRecord:
    rem = tx.reminders.get(reminder_id)
    if rem is None:  # pragma: no cover - callers pass ids they just wrote
        raise LookupError(f"reminder {reminder_id} vanished")
    return rem
