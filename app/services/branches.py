"""Branches (filiais): creating and listing them."""

from __future__ import annotations

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.models import Branch
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Clock, Store, Tx


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


def _must(branch: Branch | None) -> Branch:
    if branch is None:  # pragma: no cover - just inserted in the same transaction
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
    return branch
