"""Records the services work with (plain, immutable, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.roles import Role


@dataclass(frozen=True, slots=True)
class Branch:
    """A clinic branch (filial): the unit of data separation."""

    id: int
    name: str
    timezone: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    """A staff account. ``password_hash`` never leaves the services layer."""

    id: int
    username: str
    display_name: str
    password_hash: str
    super_admin: bool
    disabled: bool
    failed_logins: int
    throttled_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's role in one branch."""

    user_id: int
    branch_id: int
    role: Role


@dataclass(frozen=True, slots=True)
class Contact:
    """A patient as WhatsApp shows them, within one branch."""

    id: int
    branch_id: int
    phone_e164: str | None
    wa_lid: str | None
    display_name: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Channel:
    """A WhatsApp number of a branch, as configured (``state`` is the last one stored)."""

    id: int
    branch_id: int
    name: str
    display_name: str
    phone_e164: str | None
    kind: str
    enabled: bool
    state: str
    state_reason: str | None
    state_since: datetime | None
    send_limits: dict[str, object]
    config: dict[str, object]


@dataclass(frozen=True, slots=True)
class StateChange:
    """One stored transition of a channel's link state."""

    channel_id: int
    at: datetime
    from_state: str | None
    to_state: str
    reason: str | None
