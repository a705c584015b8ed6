"""``/events``: the authenticated WebSocket stream of engine events, filtered by branch.

The token comes in the ``Authorization: Bearer`` header (desk, CLI) or, for clients that cannot
set headers, as the first text frame ``{"token": "..."}``. Events outside the caller's branches
never reach it; engine-wide events (no branch) only reach super admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.bootstrap import Core
from app.domain.errors import ClinicDeskError
from app.domain.roles import Actor, Permission, local_admin
from app.services.events import Event, PairingCode, PairingQr, QueueSubscription

router = APIRouter()
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN = 1013


# A pairing QR or code links a device to the clinic's number: only channel managers see it.
_RESTRICTED: dict[type[Event], Permission] = {
    PairingQr: Permission.MANAGE_CHANNELS,
    PairingCode: Permission.MANAGE_CHANNELS,
}


def may_see(actor: Actor, event: Event) -> bool:
    """True unless ``event`` needs a permission the actor lacks in the event's branch."""
    needed = _RESTRICTED.get(type(event))
    return needed is None or actor.can(needed, event.branch_id)


def event_json(event: Event) -> str:
    """The wire form of an event: its type name plus its fields."""
    return json.dumps({"type": event.name, **dataclasses.asdict(event)})


async def _token(ws: WebSocket) -> str:
    scheme, _, token = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    first = await asyncio.wait_for(ws.receive_text(), timeout=10)
    return str(json.loads(first).get("token", ""))


async def _actor(core: Core, token: str) -> Actor:
    session = core.tokens.resolve(token)
    if session.user_id is None:
        return local_admin(session.workstation)
    return await core.auth.actor_of(session.user_id, session.workstation)


@router.websocket("/events")
async def events(ws: WebSocket) -> None:
    """Stream events the caller may see until either side closes."""
    core: Core = ws.app.state.core
    await ws.accept()
    try:
        actor = await _actor(core, await _token(ws))
    except (ClinicDeskError, ValueError, TimeoutError, WebSocketDisconnect):
        with contextlib.suppress(RuntimeError):
            await ws.close(CLOSE_POLICY_VIOLATION, "auth.token_invalid")
        return
    await _pump(ws, core, actor)


async def _until_disconnect(ws: WebSocket) -> None:
    """Return when the client leaves or the server closes the socket (engine shutdown)."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def _pump(ws: WebSocket, core: Core, actor: Actor) -> None:
    """Forward events until the client leaves, the engine stops, or the client falls behind.

    Waiting on the socket as well as the queue matters: a pump blocked only on the queue would
    never see its client go, and would hold the engine's shutdown open forever.
    """
    branches = None if actor.super_admin else actor.branch_ids
    sub = core.bus.queue(branches)
    await ws.send_text(json.dumps({"type": "Hello", "branches": sorted(branches or [])}))
    gone = asyncio.ensure_future(_until_disconnect(ws))
    try:
        await _forward(ws, actor, sub, gone)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        gone.cancel()
        sub.close()
    if sub.overflowed:
        await ws.close(CLOSE_TRY_AGAIN, "events.overflow")


async def _forward(
    ws: WebSocket, actor: Actor, sub: QueueSubscription, gone: asyncio.Future[None]
) -> None:
    """Send each event the actor may see until the client is gone or the queue is cut off."""
    cut: asyncio.Future[Any] = asyncio.ensure_future(sub.cut_off.wait())
    try:
        while True:
            getter: asyncio.Future[Any] = asyncio.ensure_future(sub.queue.get())
            await asyncio.wait([getter, gone, cut], return_when=asyncio.FIRST_COMPLETED)
            if not getter.done() or gone.done():
                getter.cancel()
                return
            if may_see(actor, getter.result()):
                await ws.send_text(event_json(getter.result()))
    finally:
        cut.cancel()
