"""Request dependencies: the wired core and the acting user behind the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.bootstrap import Core
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor, local_admin


def get_core(request: Request) -> Core:
    """The core this app was built around."""
    core: Core = request.app.state.core
    return core


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The token from ``Authorization: Bearer …``; token-invalid when absent or malformed."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ClinicDeskError(ErrorCode.AUTH_TOKEN_INVALID)
    return token.strip()


async def current_actor(
    core: Annotated[Core, Depends(get_core)], token: Annotated[str, Depends(bearer_token)]
) -> Actor:
    """The acting user, with roles read fresh from the store on every request."""
    session = core.tokens.resolve(token)
    if session.user_id is None:
        return local_admin(session.workstation)
    return await core.auth.actor_of(session.user_id, session.workstation)


CoreDep = Annotated[Core, Depends(get_core)]
ActorDep = Annotated[Actor, Depends(current_actor)]
TokenDep = Annotated[str, Depends(bearer_token)]
