"""Login, token refresh, logout and ``/me``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.api.deps import ActorDep, CoreDep, TokenDep
from app.api.schemas import BranchRole, LoginRequest, MeResponse, TokenResponse

router = APIRouter()


def _workstation(request: Request, claimed: str) -> str:
    host = request.client.host if request.client else "?"
    return f"{claimed}@{host}" if claimed else host


@router.post("/auth/login")
async def login(body: LoginRequest, request: Request, core: CoreDep) -> TokenResponse:
    """Exchange a username and password for a short-lived bearer token."""
    where = _workstation(request, body.workstation)
    outcome = await core.auth.login(body.username, body.password, where)
    token = core.tokens.issue(outcome.actor.user_id, where)
    return TokenResponse(token=token, expires_at=core.tokens.resolve(token).expires_at)


@router.post("/auth/refresh")
async def refresh(core: CoreDep, token: TokenDep) -> TokenResponse:
    """Extend the caller's token by one lifetime."""
    return TokenResponse(token=token, expires_at=core.tokens.refresh(token).expires_at)


@router.post("/auth/logout", status_code=204)
async def logout(core: CoreDep, token: TokenDep) -> None:
    """End the caller's session."""
    core.tokens.revoke(token)


@router.get("/me")
async def me(actor: ActorDep, core: CoreDep) -> MeResponse:
    """Who the token belongs to, and the branches and roles it holds."""
    names = {b.id: b.name for b in await core.branches.list(actor)}
    branches = [
        BranchRole(branch_id=b, branch_name=names[b], role=r) for b, r in actor.roles.items()
    ]
    profile = await core.users.own_profile(actor)
    display = profile.display_name if profile else actor.username
    return MeResponse(
        id=actor.user_id,
        username=actor.username,
        display_name=display,
        super_admin=actor.super_admin,
        branches=branches,
    )
