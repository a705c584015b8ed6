"""Roles, permissions and the acting user (``Actor``) that every service call takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.domain.errors import AccessDeniedError, ErrorCode


class Role(StrEnum):
    """Membership roles, strongest first."""

    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    RECEPTIONIST = "receptionist"

    @classmethod
    def parse(cls, value: str) -> Role:
        """Return the role named ``value`` or raise ``role.unknown``."""
        try:
            return cls(value)
        except ValueError:
            raise AccessDeniedError(ErrorCode.ROLE_UNKNOWN, role=value) from None


class Permission(StrEnum):
    """What a service call needs; granted per branch by role."""

    MANAGE_BRANCHES = "manage_branches"  # create branches: super admins only
    MANAGE_USERS = "manage_users"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_BRANCH = "view_branch"
    VIEW_ALL_TICKETS = "view_all_tickets"
    VIEW_REPORTS = "view_reports"
    HANDLE_TICKETS = "handle_tickets"
    VIEW_AUDIT = "view_audit"
    MANAGE_REMINDERS = "manage_reminders"  # schedule reminders and campaigns to patients
    # schedule, see and cancel one's own reminders to one patient whose conversation one sees
    REMIND_PATIENTS = "remind_patients"
    EXPORT_PATIENT_DATA = "export_patient_data"  # a patient's data for an LGPD request
    ERASE_PATIENT_DATA = "erase_patient_data"  # LGPD erasure: admins only, never undone


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.SUPER_ADMIN: frozenset(Permission),
    Role.ADMIN: frozenset(Permission) - {Permission.MANAGE_BRANCHES},
    Role.SUPERVISOR: frozenset(
        {
            Permission.VIEW_BRANCH,
            Permission.VIEW_ALL_TICKETS,
            Permission.VIEW_REPORTS,
            Permission.HANDLE_TICKETS,
            Permission.MANAGE_REMINDERS,
            Permission.REMIND_PATIENTS,
            Permission.EXPORT_PATIENT_DATA,
        }
    ),
    Role.RECEPTIONIST: frozenset(
        {Permission.VIEW_BRANCH, Permission.HANDLE_TICKETS, Permission.REMIND_PATIENTS}
    ),
}


def role_grants(role: Role, permission: Permission) -> bool:
    """True when ``role`` carries ``permission``."""
    return permission in _GRANTS[role]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a logged-in user, or the local administrator (CLI, installer).

    ``roles`` maps branch id to the role held there. A super admin holds every permission in
    every branch, including branches created after the actor was built.
    """

    user_id: int | None
    username: str
    super_admin: bool = False
    roles: dict[int, Role] = field(default_factory=dict)
    workstation: str = ""

    @property
    def branch_ids(self) -> frozenset[int]:
        """Branches this actor is a member of (super admins: see ``super_admin``)."""
        return frozenset(self.roles)

    def can(self, permission: Permission, branch_id: int | None = None) -> bool:
        """True when the actor holds ``permission`` in ``branch_id`` (or in any branch if None)."""
        if self.super_admin:
            return True
        if branch_id is None:
            return any(role_grants(r, permission) for r in self.roles.values())
        role = self.roles.get(branch_id)
        return role is not None and role_grants(role, permission)

    def require(self, permission: Permission, branch_id: int | None = None) -> None:
        """Raise a typed access error unless the actor holds ``permission`` there."""
        if self.can(permission, branch_id):
            return
        if branch_id is not None and branch_id not in self.roles:
            raise AccessDeniedError(
                ErrorCode.ACCESS_BRANCH_DENIED, branch_id=branch_id, permission=permission.value
            )
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission=permission.value)


def local_admin(workstation: str) -> Actor:
    """The actor used by the CLI on this machine (holder of the data directory)."""
    return Actor(user_id=None, username="local-admin", super_admin=True, workstation=workstation)
