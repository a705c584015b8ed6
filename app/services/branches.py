"""Branches (filiais): creating and listing them, and their settings: time zone, business
hours, the out-of-hours reply, the reopen window, the menu's first line and the clinic's name
(``{clinica}`` in quick replies and reminders).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.auto_texts import AUTO_TEXT_MAX
from app.domain.auto_texts import DEFAULTS as AUTO_TEXTS
from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.hours_text import hours_json
from app.domain.models import Branch
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.inbound_routing import MENU_HEADER_SETTING, REOPEN_SETTING
from app.services.ports import Clock, Store, Tx
from app.services.ticket_extras import CLINIC_NAME_SETTING

MESSAGE_MAX = 1000  # an out-of-hours reply or a menu's first line
MAX_REOPEN_MINUTES = 30 * 24 * 60


@dataclass(frozen=True, slots=True)
class BranchSettings:
    """A branch's settings as they stand (None: not set; the engine's default applies)."""

    branch_id: int
    name: str
    timezone: str
    business_hours: str | None  # JSON (app.domain.tickets.parse_hours); None: always open
    out_of_hours_message: str | None
    reopen_window_minutes: int | None
    menu_header: str | None
    clinic_name: str | None
    # the automatic texts (app.domain.auto_texts; None: the default is sent)
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    confirmation_prompt: str | None = None
    confirmed_reply: str | None = None
    declined_reply: str | None = None


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; a field left None stays as it is. Text fields take "" to clear;
    ``hours`` is the typed form (``seg-sex 08:00-18:00``; ``sempre`` clears the rule)."""

    timezone: str | None = None
    hours: str | None = None
    out_of_hours_message: str | None = None
    reopen_window_minutes: int | None = None
    menu_header: str | None = None
    clinic_name: str | None = None
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    confirmation_prompt: str | None = None
    confirmed_reply: str | None = None
    declined_reply: str | None = None

    def named(self) -> list[str]:
        """The fields this change sets (for the audit row: names, never values)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def clean_name(name: str, field: str = "name", limit: int = 120) -> str:
    """Trim ``name`` and reject empty or over-long values."""
    value = " ".join(name.split())
    if not value or len(value) > limit:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field=field)
    return value


class BranchService:
    """Branch use cases; creating one is for super admins only."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor

    async def add(self, actor: Actor, name: str) -> Branch:
        """Create a branch named ``name`` (unique) and audit it."""
        actor.require(Permission.MANAGE_BRANCHES)
        name = clean_name(name)

        def work(tx: Tx) -> Branch:
            if tx.branches.get_by_name(name) is not None:
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="branch")
            branch_id = tx.branches.add(name, self._clock.now())
            self._auditor.record(
                tx, actor, "branch.add", AuditTarget("branch", branch_id, branch_id)
            )
            return _must(tx.branches.get(branch_id))

        return await self._store.transaction(work)

    async def list(self, actor: Actor) -> list[Branch]:
        """The branches ``actor`` belongs to (all of them for a super admin)."""
        only = None if actor.super_admin else actor.branch_ids
        return await self._store.read(lambda tx: tx.branches.list(only))

    async def get_by_name(self, actor: Actor, name: str) -> Branch:
        """The branch called ``name``, if the actor may see it; else ``entity.not_found``."""
        branch = await self._store.read(lambda tx: tx.branches.get_by_name(clean_name(name)))
        if branch is None or not (actor.super_admin or branch.id in actor.branch_ids):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
        return branch

    async def settings(self, actor: Actor, branch_id: int) -> BranchSettings:
        """The branch's settings, for anyone who works there."""
        actor.require(Permission.VIEW_BRANCH, branch_id)
        return await self._store.read(lambda tx: settings_of(tx, branch_id))

    async def configure(
        self, actor: Actor, branch_id: int, change: SettingsChange
    ) -> BranchSettings:
        """Change the branch's settings (``manage_settings`` there); audited with the names
        of the fields changed. Any invalid part refuses the whole change."""
        actor.require(Permission.MANAGE_SETTINGS, branch_id)

        def work(tx: Tx) -> BranchSettings:
            settings_of(tx, branch_id)  # the branch exists
            _apply(tx, branch_id, change, self._clock.now())
            target = AuditTarget("branch", branch_id, branch_id)
            self._auditor.record(tx, actor, "branch.configure", target, fields=change.named())
            return settings_of(tx, branch_id)

        return await self._store.transaction(work)

    async def resolve_for(self, actor: Actor, name: str, permission: Permission) -> Branch:
        """The branch ``name`` for an action needing ``permission`` there.

        403 first (the actor lacks the permission anywhere, or in that branch), then 404: an
        admin is told "not allowed in that branch" rather than "no such branch".
        """
        actor.require(permission)
        branch = await self._store.read(lambda tx: tx.branches.get_by_name(clean_name(name)))
        if branch is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
        actor.require(permission, branch.id)
        return branch


def settings_of(tx: Tx, branch_id: int) -> BranchSettings:
    """The branch's settings (``entity.not_found`` if there is no such branch)."""
    routing = tx.messaging.routing(branch_id)
    if routing is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
    reopen = tx.messaging.setting(branch_id, REOPEN_SETTING)
    header = tx.messaging.setting(branch_id, MENU_HEADER_SETTING)
    clinic = tx.messaging.setting(branch_id, CLINIC_NAME_SETTING)
    texts = {key: tx.messaging.setting(branch_id, key) for key in AUTO_TEXTS}
    return BranchSettings(
        branch_id, routing.name, routing.timezone, routing.business_hours,
        routing.out_of_hours_message, reopen if isinstance(reopen, int) else None,
        header if isinstance(header, str) else None, clinic if isinstance(clinic, str) else None,
        **{key: value for key, value in texts.items() if isinstance(value, str)},
    )  # fmt: skip


def _apply(tx: Tx, branch_id: int, change: SettingsChange, at: datetime) -> None:
    """Write ``change`` (checked first: nothing is written when any part is wrong)."""
    columns, settings = _columns(change), _settings(change)
    if columns:
        tx.branches.update(branch_id, **columns)
    for key, value in settings.items():
        tx.messaging.set_setting(branch_id, key, value, at)


def _columns(change: SettingsChange) -> dict[str, object]:
    values: dict[str, object] = {}
    if change.timezone is not None:
        values["timezone"] = _zone(change.timezone)
    if change.hours is not None:
        values["business_hours"] = hours_json(change.hours)
    if change.out_of_hours_message is not None:
        values["out_of_hours_message"] = _text(change.out_of_hours_message, "out_of_hours_message")
    return values


def _settings(change: SettingsChange) -> dict[str, object]:
    values: dict[str, object] = {}
    if change.reopen_window_minutes is not None:
        if not 0 <= change.reopen_window_minutes <= MAX_REOPEN_MINUTES:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="reopen_window_minutes")
        values[REOPEN_SETTING] = change.reopen_window_minutes
    if change.menu_header is not None:
        values[MENU_HEADER_SETTING] = _text(change.menu_header, "menu_header")
    if change.clinic_name is not None:
        values[CLINIC_NAME_SETTING] = _text(change.clinic_name, "clinic_name", 120)
    for key in AUTO_TEXTS:
        text = getattr(change, key)
        if text is not None:
            values[key] = _text(text, key, AUTO_TEXT_MAX)
    return values


def _zone(name: str) -> str:
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ClinicDeskError(
            ErrorCode.INVALID_INPUT, field="timezone", reason="unknown_zone"
        ) from None
    return name.strip()


def _text(value: str, field: str, limit: int = MESSAGE_MAX) -> str | None:
    """Trimmed text; "" clears (None)."""
    text = value.strip()
    if len(text) > limit:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field=field)
    return text or None


def _must(branch: Branch | None) -> Branch:
    if branch is None:  # pragma: no cover - just inserted in the same transaction
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
    return branch
