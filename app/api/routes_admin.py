"""Administration used by the CLI and the desk's settings: branches, users, audit, status."""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Request

from app import __version__
from app.api.deps import ActorDep, CoreDep
from app.api.schemas import (
    AuditVerifyOut,
    BranchIn,
    BranchOut,
    BranchSettingsIn,
    BranchSettingsOut,
    PasswordIn,
    UserIn,
    UserOut,
    branch_settings_out,
    user_out,
)
from app.bootstrap import core_report
from app.domain.audit import Anchor
from app.domain.roles import Permission
from app.services.branches import SettingsChange
from app.services.users import NewUser

router = APIRouter()


@router.get("/branches")
async def list_branches(actor: ActorDep, core: CoreDep) -> list[BranchOut]:
    """Branches visible to the caller."""
    return [BranchOut.model_validate(b) for b in await core.branches.list(actor)]


@router.post("/branches", status_code=201)
async def add_branch(body: BranchIn, actor: ActorDep, core: CoreDep) -> BranchOut:
    """Create a branch (super admins)."""
    return BranchOut.model_validate(await core.branches.add(actor, body.name))


@router.get("/branches/{branch_id}/settings")
async def branch_settings(branch_id: int, actor: ActorDep, core: CoreDep) -> BranchSettingsOut:
    """Time zone, business hours, out-of-hours reply, reopen window, menu header, clinic name."""
    return branch_settings_out(await core.branches.settings(actor, branch_id))


@router.patch("/branches/{branch_id}/settings")
async def configure_branch(
    branch_id: int, body: BranchSettingsIn, actor: ActorDep, core: CoreDep
) -> BranchSettingsOut:
    """Change some settings (admins of the branch); any invalid field refuses the whole change
    (400 ``input.invalid`` naming the field)."""
    change = SettingsChange(**body.model_dump())
    return branch_settings_out(await core.branches.configure(actor, branch_id, change))


@router.get("/users")
async def list_users(actor: ActorDep, core: CoreDep) -> list[UserOut]:
    """Accounts in the branches the caller manages."""
    names = {b.id: b.name for b in await core.branches.list(actor)}
    return [user_out(u, names) for u in await core.users.list(actor)]


@router.post("/users", status_code=201)
async def add_user(body: UserIn, actor: ActorDep, core: CoreDep) -> UserOut:
    """Create an account with a role in one branch."""
    branch = await core.branches.resolve_for(actor, body.branch, Permission.MANAGE_USERS)
    new = NewUser(body.username, body.display_name, body.password, branch.id, body.role)
    return user_out(await core.users.add(actor, new), {branch.id: branch.name})


@router.put("/users/{username}/password", status_code=204)
async def set_password(username: str, body: PasswordIn, actor: ActorDep, core: CoreDep) -> None:
    """Replace a password (one's own, or of an account the caller manages)."""
    await core.users.set_password(actor, username, body.password)


@router.get("/audit/verify")
async def verify_audit(
    actor: ActorDep, core: CoreDep, anchor_seq: int | None = None, anchor_hash: str | None = None
) -> AuditVerifyOut:
    """Check the audit chain, optionally against an anchor recorded elsewhere."""
    anchor = Anchor(anchor_seq, anchor_hash) if anchor_seq and anchor_hash else None
    result = await core.audit.verify(actor, anchor)
    return AuditVerifyOut.model_validate(result)


@router.get("/status")
async def engine_status(request: Request, actor: ActorDep, core: CoreDep) -> dict[str, object]:
    """Engine, store, key storage and audit head, for ``clinicdesk status`` (admins)."""
    actor.require(Permission.MANAGE_SETTINGS)
    engine = {"running": True, "pid": os.getpid(), "version": __version__}
    report = await asyncio.to_thread(core_report, core)
    return {"engine": engine | request.app.state.engine_meta, **report}
