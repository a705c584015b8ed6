"""Request and response bodies of the engine API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.domain.auto_texts import AUTO_TEXT_MAX
from app.domain.auto_texts import DEFAULTS as AUTO_TEXTS
from app.domain.hours_text import hours_text
from app.domain.roles import Role
from app.services.branches import BranchSettings
from app.services.users import UserView


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    workstation: str = Field(default="", max_length=120)


class TokenResponse(BaseModel):
    token: str
    expires_at: datetime | None


class BranchRole(BaseModel):
    branch_id: int
    branch_name: str
    role: Role


class MeResponse(BaseModel):
    id: int | None
    username: str
    display_name: str
    super_admin: bool
    branches: list[BranchRole]


class BranchIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)


class BranchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    timezone: str
    created_at: datetime


class BranchSettingsOut(BaseModel):
    """A branch's settings; null fields use the engine's default. ``hours`` is the typed form
    of ``business_hours`` (``seg-sex 08:00-18:00``; ``sempre``: always open)."""

    model_config = ConfigDict(from_attributes=True)

    branch_id: int
    name: str
    timezone: str
    business_hours: str | None
    hours: str
    out_of_hours_message: str | None
    reopen_window_minutes: int | None
    menu_header: str | None
    clinic_name: str | None
    # the automatic texts; null: the default (``defaults``) is what patients get
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    confirmation_prompt: str | None = None
    confirmed_reply: str | None = None
    declined_reply: str | None = None
    defaults: dict[str, str] = Field(default_factory=dict)  # the automatic texts' defaults


def branch_settings_out(settings: BranchSettings) -> BranchSettingsOut:
    """The settings with the typed form of the hours beside their JSON."""
    return BranchSettingsOut(
        **asdict(settings), hours=hours_text(settings.business_hours), defaults=AUTO_TEXTS
    )


class BranchSettingsIn(BaseModel):
    """Fields to change (absent or null: unchanged; "" clears a text). ``hours`` as typed:
    ``seg-sex 08:00-12:00 13:00-18:00; sab 08:00-12:00`` (``sempre``: always open)."""

    timezone: str | None = Field(default=None, max_length=64)
    hours: str | None = Field(default=None, max_length=400)
    out_of_hours_message: str | None = Field(default=None, max_length=1000)
    reopen_window_minutes: int | None = None
    menu_header: str | None = Field(default=None, max_length=1000)
    clinic_name: str | None = Field(default=None, max_length=120)
    opt_out_reply: str | None = Field(default=None, max_length=AUTO_TEXT_MAX)
    opt_in_reply: str | None = Field(default=None, max_length=AUTO_TEXT_MAX)
    confirmation_prompt: str | None = Field(default=None, max_length=AUTO_TEXT_MAX)
    confirmed_reply: str | None = Field(default=None, max_length=AUTO_TEXT_MAX)
    declined_reply: str | None = Field(default=None, max_length=AUTO_TEXT_MAX)


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=256)
    branch: str = Field(min_length=1, max_length=120)
    role: Role


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    super_admin: bool
    disabled: bool
    roles: dict[str, Role]  # branch name -> role


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class AuditVerifyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None  # AuditProblem value


class HealthOut(BaseModel):
    status: str
    version: str


def user_out(view: UserView, branch_names: dict[int, str]) -> UserOut:
    """The API shape of a user, with roles keyed by branch name."""
    roles = {branch_names.get(b, str(b)): r for b, r in view.roles.items()}
    return UserOut(
        id=view.id,
        username=view.username,
        display_name=view.display_name,
        super_admin=view.super_admin,
        disabled=view.disabled,
        roles=roles,
    )


class ChannelIn(BaseModel):
    branch: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=64)
    display_name: str | None = Field(default=None, max_length=120)
    kind: str = Field(min_length=1, max_length=20)
    phone: str | None = Field(default=None, max_length=32)
    simulator_url: str | None = Field(default=None, max_length=200)


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: int
    name: str
    display_name: str
    kind: str
    phone_e164: str | None
    enabled: bool
    state: str
    reason: str | None
    since: datetime | None
    reconnects: int
    breaker_open: bool
    until: float | None
    warning: str | None = None
    warning_since: datetime | None = None


class LimitsIn(BaseModel):
    send_limits: dict[str, float]


class PairIn(BaseModel):
    phone: str | None = Field(default=None, max_length=32)


class PairOut(BaseModel):
    code: str | None


class StateChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_state: str | None
    to_state: str
    reason: str | None
