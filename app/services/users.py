"""Staff accounts: adding, listing, changing passwords, and building the acting user."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.domain.errors import AccessDeniedError, ClinicDeskError, ErrorCode, NotFoundError
from app.domain.models import User
from app.domain.policies import check_password, normalise_username
from app.domain.roles import Actor, Permission, Role
from app.services.audit import Auditor, AuditTarget
from app.services.branches import clean_name
from app.services.ports import Clock, PasswordHasher, Store, Tx


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as others may see it: no hash, no throttle state."""

    id: int
    username: str
    display_name: str
    super_admin: bool
    disabled: bool
    roles: dict[int, Role]


@dataclass(frozen=True, slots=True)
class NewUser:
    """What it takes to create an account."""

    username: str
    display_name: str
    password: str
    branch_id: int
    role: Role


def actor_for(tx: Tx, user: User, workstation: str = "") -> Actor:
    """The acting-user value for ``user`` with its current memberships."""
    roles = tx.memberships.roles_of(user.id)
    is_super = user.super_admin or Role.SUPER_ADMIN in roles.values()
    return Actor(user.id, user.username, is_super, roles, workstation)


def view_of(tx: Tx, user: User) -> UserView:
    """The public view of ``user``."""
    roles = tx.memberships.roles_of(user.id)
    return UserView(
        user.id, user.username, user.display_name, user.super_admin, user.disabled, roles
    )


class UserService:
    """Account use cases. Passwords are hashed off the event loop and off the writer thread."""

    def __init__(
        self, store: Store, clock: Clock, hasher: PasswordHasher, auditor: Auditor
    ) -> None:
        self._store, self._clock, self._hasher, self._auditor = store, clock, hasher, auditor

    async def add(self, actor: Actor, new: NewUser) -> UserView:
        """Create an account with one branch membership; only super admins make super admins."""
        actor.require(Permission.MANAGE_USERS, new.branch_id)
        if new.role is Role.SUPER_ADMIN and not actor.super_admin:
            raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="grant_super_admin")
        username = normalise_username(new.username)
        display = clean_name(new.display_name, "display_name")
        check_password(new.password)
        password_hash = await asyncio.to_thread(self._hasher.hash, new.password)
        return await self._store.transaction(
            lambda tx: self._insert(
                tx, actor, new, username=username, display=display, pw_hash=password_hash
            )
        )

    def _insert(
        self, tx: Tx, actor: Actor, new: NewUser, *, username: str, display: str, pw_hash: str
    ) -> UserView:
        if tx.branches.get(new.branch_id) is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
        if tx.users.get_by_username(username) is not None:
            raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="user")
        is_super = new.role is Role.SUPER_ADMIN
        user_id = tx.users.add(username, display, pw_hash, is_super, self._clock.now())
        tx.memberships.set(user_id, new.branch_id, new.role)
        target = AuditTarget("user", user_id, new.branch_id)
        self._auditor.record(tx, actor, "user.add", target, role=new.role.value)
        return view_of(tx, _must(tx.users.get(user_id)))

    async def add_first_super_admin(
        self, actor: Actor, username: str, display_name: str, password: str
    ) -> UserView:
        """Create the installation's first account, a super admin; refused once any user exists."""
        actor.require(Permission.MANAGE_BRANCHES)
        username = normalise_username(username)
        display = clean_name(display_name, "display_name")
        check_password(password)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)

        def work(tx: Tx) -> UserView:
            if tx.users.count() > 0:
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="user")
            user_id = tx.users.add(username, display, password_hash, True, self._clock.now())
            target = AuditTarget("user", user_id)
            self._auditor.record(tx, actor, "user.add", target, role=Role.SUPER_ADMIN.value)
            return view_of(tx, _must(tx.users.get(user_id)))

        return await self._store.transaction(work)

    async def list(self, actor: Actor) -> list[UserView]:
        """Accounts in the branches where ``actor`` manages users (all for super admins)."""
        actor.require(Permission.MANAGE_USERS)
        only = None if actor.super_admin else _managed_branches(actor)
        return await self._store.read(lambda tx: [view_of(tx, u) for u in tx.users.list(only)])

    async def own_profile(self, actor: Actor) -> UserView | None:
        """The actor's own account (None for the local administrator, who has none)."""
        if actor.user_id is None:
            return None
        user_id = actor.user_id

        def work(tx: Tx) -> UserView | None:
            user = tx.users.get(user_id)
            return view_of(tx, user) if user else None

        return await self._store.read(work)

    async def set_password(self, actor: Actor, username: str, password: str) -> None:
        """Replace a password: one's own, or one managed by ``actor``; clears the throttle.

        Permission is checked before the (costly) hash and again when writing.
        """
        check_password(password)
        name = normalise_username(username)
        await self._store.read(lambda tx: self._target_for_password(tx, actor, name))
        password_hash = await asyncio.to_thread(self._hasher.hash, password)

        def work(tx: Tx) -> None:
            user = self._target_for_password(tx, actor, name)
            tx.users.set_password(user.id, password_hash, self._clock.now())
            self._auditor.record(tx, actor, "user.password_set", AuditTarget("user", user.id))

        await self._store.transaction(work)

    @staticmethod
    def _target_for_password(tx: Tx, actor: Actor, name: str) -> User:
        user = tx.users.get_by_username(name)
        if user is None:
            if not actor.can(Permission.MANAGE_USERS):
                raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="manage_users")
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="user")
        _require_manages(actor, actor_for(tx, user))
        return user


def _managed_branches(actor: Actor) -> frozenset[int]:
    return frozenset(b for b in actor.roles if actor.can(Permission.MANAGE_USERS, b))


def _require_manages(actor: Actor, target: Actor) -> None:
    """Raise unless ``actor`` is ``target`` or manages users in *every* branch of target.

    Managing one shared branch is not enough: a new password would hand over the target's
    rights in the other branches too.
    """
    if actor.user_id is not None and actor.user_id == target.user_id:
        return
    if actor.super_admin:
        return
    if target.super_admin:
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="manage_super_admin")
    if target.branch_ids and target.branch_ids <= _managed_branches(actor):
        return
    raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission=Permission.MANAGE_USERS.value)


def _must(user: User | None) -> User:
    if user is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="user")
    return user
