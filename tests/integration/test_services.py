"""Branch, user and contact services on a real encrypted store: roles, branch scoping, validation.

Refused calls run against the shared ``installation`` (a refusal writes nothing); calls that
succeed get a ``fresh`` installation of their own.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

import pytest
from sqlalchemy import Table, func, select

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Role
from app.services.users import NewUser
from app.store.repositories import SqlTx
from app.store.schema import audit_log, memberships, users
from tests.integration.conftest import (
    ALL_STAFF,
    PASSWORD,
    STAFF_ROLES,
    SUPER,
    Installation,
    staff_name,
)

NEW_PASSWORD = "another long passphrase"


async def code_of(call: Awaitable[object]) -> ErrorCode:
    """The error code ``call`` fails with (fails the test if it succeeds)."""
    with pytest.raises(ClinicDeskError) as info:
        await call
    return info.value.code


def _row_counts(tx: SqlTx) -> tuple[int, int, int]:
    def count(table: Table) -> int:
        return int(tx.conn.execute(select(func.count()).select_from(table)).scalar_one())

    return count(users), count(memberships), count(audit_log)


async def row_counts(inst: Installation) -> tuple[int, int, int]:
    """(users, memberships, audit entries) now."""
    return await inst.core.store.read(_row_counts)


async def can_log_in(inst: Installation, username: str, password: str) -> bool:
    outcome = await inst.core.auth.login(username, password)
    return outcome.actor.username == username


# --- branches ---------------------------------------------------------------------------------


async def test_super_admin_adds_a_branch(fresh: Installation) -> None:
    branch = await fresh.core.branches.add(fresh.super_admin, "  Zona   Norte ")
    listed = await fresh.core.branches.list(fresh.super_admin)
    assert (branch.name, [b.name for b in listed]) == (
        "Zona Norte",
        ["Centro", "Sul", "Zona Norte"],
    )


@pytest.mark.parametrize("username", ALL_STAFF)
async def test_only_super_admin_adds_branches(installation: Installation, username: str) -> None:
    call = installation.core.branches.add(installation.actor(username), "Zona Norte")
    assert await code_of(call) is ErrorCode.ACCESS_DENIED


@pytest.mark.parametrize("name", ["Centro", "  Centro ", "Sul"])
async def test_duplicate_branch_name_is_refused(installation: Installation, name: str) -> None:
    call = installation.core.branches.add(installation.super_admin, name)
    assert await code_of(call) is ErrorCode.ALREADY_EXISTS


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "x" * 121])
async def test_blank_or_overlong_branch_name_is_invalid(
    installation: Installation, name: str
) -> None:
    call = installation.core.branches.add(installation.super_admin, name)
    assert await code_of(call) is ErrorCode.INVALID_INPUT


@pytest.mark.parametrize(
    ("username", "visible"),
    [
        (SUPER, ["Centro", "Sul"]),
        ("admin.centro", ["Centro"]),
        ("supervisor.centro", ["Centro"]),
        ("receptionist.centro", ["Centro"]),
        ("admin.sul", ["Sul"]),
        ("supervisor.sul", ["Sul"]),
        ("receptionist.sul", ["Sul"]),
    ],
)
async def test_branch_list_is_scoped_to_membership(
    installation: Installation, username: str, visible: list[str]
) -> None:
    branches = await installation.core.branches.list(installation.actor(username))
    assert [b.name for b in branches] == visible


# --- users: adding ----------------------------------------------------------------------------


async def test_admin_adds_a_user_in_own_branch(fresh: Installation) -> None:
    admin = await fresh.add_staff(Role.ADMIN, "Centro")
    centro = fresh.branch_ids["Centro"]
    new = NewUser("nova.recepcao", "Nova Recepção", PASSWORD, centro, Role.RECEPTIONIST)
    view = await fresh.core.users.add(admin, new)
    assert (view.username, view.super_admin, view.roles) == (
        "nova.recepcao",
        False,
        {centro: Role.RECEPTIONIST},
    )


async def test_super_admin_grants_super_admin(fresh: Installation) -> None:
    new = NewUser("outro.super", "Outro", PASSWORD, fresh.branch_ids["Sul"], Role.SUPER_ADMIN)
    view = await fresh.core.users.add(fresh.super_admin, new)
    assert view.super_admin


@dataclass(frozen=True)
class Attempt:
    """One call of ``UserService.add``: who asks, and what differs from a valid request."""

    actor: str
    username: str = "novo.centro"
    display: str = "Novo Usuário"
    password: str = PASSWORD
    branch: str = "Centro"
    role: Role = Role.RECEPTIONIST

    def call(self, inst: Installation) -> Awaitable[object]:
        new = NewUser(
            self.username, self.display, self.password, inst.branch_ids[self.branch], self.role
        )
        return inst.core.users.add(inst.actor(self.actor), new)


DENIED, BRANCH_DENIED = ErrorCode.ACCESS_DENIED, ErrorCode.ACCESS_BRANCH_DENIED
INVALID, EXISTS = ErrorCode.INVALID_INPUT, ErrorCode.ALREADY_EXISTS
REFUSED_ADDS: dict[str, tuple[Attempt, ErrorCode]] = {
    "admin-into-other-branch": (Attempt("admin.centro", branch="Sul"), BRANCH_DENIED),
    "receptionist-into-other-branch": (Attempt("receptionist.sul"), BRANCH_DENIED),
    "supervisor-cannot-add": (Attempt("supervisor.centro"), DENIED),
    "receptionist-cannot-add": (Attempt("receptionist.centro"), DENIED),
    "admin-cannot-grant-super": (Attempt("admin.centro", role=Role.SUPER_ADMIN), DENIED),
    "duplicate-username": (Attempt(SUPER, username="admin.centro"), EXISTS),
    "duplicate-after-normalising": (Attempt(SUPER, username="  ADMIN.Sul "), EXISTS),
    "username-too-short": (Attempt(SUPER, username="x"), INVALID),
    "username-with-space": (Attempt(SUPER, username="has space"), INVALID),
    "username-leading-dash": (Attempt(SUPER, username="-lead"), INVALID),
    "username-non-ascii": (Attempt(SUPER, username="joão"), INVALID),
    "username-too-long": (Attempt(SUPER, username="a" * 65), INVALID),
    "blank-display-name": (Attempt(SUPER, display="   "), INVALID),
    "overlong-display-name": (Attempt(SUPER, display="d" * 121), INVALID),
    "password-11-chars": (Attempt(SUPER, password="elevenchars"), ErrorCode.PASSWORD_TOO_SHORT),
    "password-empty": (Attempt(SUPER, password=""), ErrorCode.PASSWORD_TOO_SHORT),
    "password-129-chars": (Attempt(SUPER, password="p" * 129), ErrorCode.PASSWORD_TOO_LONG),
}
REFUSED_PARAMS = [pytest.param(a, code, id=name) for name, (a, code) in REFUSED_ADDS.items()]


@pytest.mark.parametrize(("attempt", "expected"), REFUSED_PARAMS)
async def test_refused_user_add_says_why(
    installation: Installation, attempt: Attempt, expected: ErrorCode
) -> None:
    assert await code_of(attempt.call(installation)) is expected


@pytest.mark.parametrize(("attempt", "expected"), REFUSED_PARAMS)
async def test_refused_user_add_writes_nothing(
    installation: Installation, attempt: Attempt, expected: ErrorCode
) -> None:
    before = await row_counts(installation)
    await code_of(attempt.call(installation))
    assert await row_counts(installation) == before


async def test_add_into_unknown_branch_is_not_found(installation: Installation) -> None:
    new = NewUser("novo.norte", "Novo", PASSWORD, 999, Role.RECEPTIONIST)
    call = installation.core.users.add(installation.super_admin, new)
    assert await code_of(call) is ErrorCode.NOT_FOUND


# --- users: passwords -------------------------------------------------------------------------


async def test_user_sets_own_password(fresh: Installation) -> None:
    me = await fresh.add_staff(Role.RECEPTIONIST, "Centro")
    await fresh.core.users.set_password(me, me.username, NEW_PASSWORD)
    assert await can_log_in(fresh, me.username, NEW_PASSWORD)


async def test_admin_resets_password_in_own_branch(fresh: Installation) -> None:
    admin = await fresh.add_staff(Role.ADMIN, "Centro")
    await fresh.add_staff(Role.RECEPTIONIST, "Centro")
    await fresh.core.users.set_password(admin, "receptionist.centro", NEW_PASSWORD)
    assert await can_log_in(fresh, "receptionist.centro", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("actor", "target"),
    [
        pytest.param("admin.sul", "receptionist.centro", id="admin-other-branch"),
        pytest.param("admin.centro", "admin.sul", id="admin-other-branch-admin"),
        pytest.param("supervisor.centro", "receptionist.centro", id="supervisor-colleague"),
        pytest.param("receptionist.centro", "supervisor.centro", id="receptionist-colleague"),
        pytest.param("receptionist.centro", "receptionist.sul", id="receptionist-other-branch"),
        pytest.param("admin.centro", SUPER, id="admin-resets-super-admin"),
    ],
)
async def test_password_reset_outside_ones_rights_is_denied(
    installation: Installation, actor: str, target: str
) -> None:
    call = installation.core.users.set_password(installation.actor(actor), target, NEW_PASSWORD)
    assert await code_of(call) is ErrorCode.ACCESS_DENIED


async def test_admin_cannot_reset_super_admin_who_is_member_of_admins_branch(
    fresh: Installation,
) -> None:
    admin = await fresh.add_staff(Role.ADMIN, "Centro")
    await fresh.add_staff(Role.SUPER_ADMIN, "Centro", username="chefe.centro")
    call = fresh.core.users.set_password(admin, "chefe.centro", NEW_PASSWORD)
    assert await code_of(call) is ErrorCode.ACCESS_DENIED


async def test_admin_cannot_reset_a_user_who_holds_more_in_another_branch(
    fresh: Installation,
) -> None:
    admin = await fresh.add_staff(Role.ADMIN, "Centro")
    other = await fresh.add_staff(Role.ADMIN, "Sul")
    centro = fresh.branch_ids["Centro"]
    await fresh.core.store.transaction(
        lambda tx: tx.memberships.set(other.user_id or 0, centro, Role.RECEPTIONIST)
    )
    call = fresh.core.users.set_password(admin, other.username, NEW_PASSWORD)
    assert await code_of(call) is ErrorCode.ACCESS_DENIED


# --- users: listing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "visible"),
    [
        (SUPER, sorted((SUPER, *ALL_STAFF))),
        ("admin.centro", sorted(staff_name(r, "Centro") for r in STAFF_ROLES)),
        ("admin.sul", sorted(staff_name(r, "Sul") for r in STAFF_ROLES)),
    ],
)
async def test_user_list_is_scoped_to_managed_branches(
    installation: Installation, username: str, visible: list[str]
) -> None:
    listed = await installation.core.users.list(installation.actor(username))
    assert [u.username for u in listed] == visible


@pytest.mark.parametrize(
    "username", ["supervisor.centro", "receptionist.centro", "supervisor.sul", "receptionist.sul"]
)
async def test_user_list_needs_user_management(installation: Installation, username: str) -> None:
    call = installation.core.users.list(installation.actor(username))
    assert await code_of(call) is ErrorCode.ACCESS_DENIED


# --- contacts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("011 98765-4321", "+5511987654321"),
        ("(21) 3456-7890", "+552134567890"),
    ],
)
async def test_contact_phone_is_stored_as_e164(fresh: Installation, raw: str, e164: str) -> None:
    receptionist = await fresh.add_staff(Role.RECEPTIONIST, "Centro")
    contact = await fresh.core.contacts.add(receptionist, fresh.branch_ids["Centro"], raw, "Ana")
    stored = await fresh.core.store.read(lambda tx: tx.contacts.get(contact.id))
    assert (contact.phone_e164, stored and stored.phone_e164) == (e164, e164)


@pytest.mark.parametrize("raw", ["", "abc", "12345", "98765-4321", "(11) 1234-567", "+55 11 1234"])
async def test_invalid_phone_is_refused(installation: Installation, raw: str) -> None:
    actor = installation.actor("receptionist.centro")
    call = installation.core.contacts.add(actor, installation.branch_ids["Centro"], raw, "Ana")
    assert await code_of(call) is ErrorCode.PHONE_INVALID


@pytest.mark.parametrize(
    ("username", "branch"),
    [
        ("receptionist.centro", "Sul"),
        ("supervisor.centro", "Sul"),
        ("admin.sul", "Centro"),
    ],
)
async def test_contact_in_another_branch_is_denied(
    installation: Installation, username: str, branch: str
) -> None:
    actor = installation.actor(username)
    call = installation.core.contacts.add(
        actor, installation.branch_ids[branch], "(11) 98765-4321", "Ana"
    )
    assert await code_of(call) is ErrorCode.ACCESS_BRANCH_DENIED


async def test_contact_in_unknown_branch_is_not_found(installation: Installation) -> None:
    call = installation.core.contacts.add(installation.super_admin, 999, "(11) 98765-4321", "Ana")
    assert await code_of(call) is ErrorCode.NOT_FOUND
