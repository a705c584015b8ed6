"""Channels: list, create, limits, delete (admins); pair, logout, suspend, resume; history."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ActorDep, CoreDep
from app.api.schemas import ChannelIn, ChannelOut, LimitsIn, PairIn, PairOut, StateChangeOut
from app.domain.roles import Permission
from app.services.channels import ChannelSpec

router = APIRouter(prefix="/channels")


@router.get("")
async def list_channels(actor: ActorDep, core: CoreDep) -> list[ChannelOut]:
    """Channels of the caller's branches, with live state and reconnect counts."""
    return [ChannelOut.model_validate(c) for c in await core.channels.list(actor)]


@router.post("", status_code=201)
async def create_channel(body: ChannelIn, actor: ActorDep, core: CoreDep) -> ChannelOut:
    """Add a WhatsApp number to a branch; the engine starts connecting it at once."""
    branch = await core.branches.resolve_for(actor, body.branch, Permission.MANAGE_CHANNELS)
    config: dict[str, object] = {}
    if body.simulator_url:
        config["simulator_url"] = body.simulator_url
    spec = ChannelSpec(
        branch.id, body.name, body.display_name or body.name, body.kind, body.phone, config
    )
    return ChannelOut.model_validate(await core.channels.create(actor, spec))


@router.get("/{key}")
async def get_channel(key: str, actor: ActorDep, core: CoreDep) -> ChannelOut:
    """One channel by id or name."""
    return ChannelOut.model_validate(await core.channels.get(actor, key))


@router.put("/{key}/limits")
async def set_limits(key: str, body: LimitsIn, actor: ActorDep, core: CoreDep) -> ChannelOut:
    """Replace the channel's send-limit overrides."""
    limits: dict[str, object] = dict(body.send_limits)
    return ChannelOut.model_validate(await core.channels.update_limits(actor, key, limits))


@router.delete("/{key}", status_code=204)
async def delete_channel(key: str, actor: ActorDep, core: CoreDep) -> None:
    """Remove a channel."""
    await core.channels.delete(actor, key)


@router.get("/{key}/history")
async def channel_history(key: str, actor: ActorDep, core: CoreDep) -> list[StateChangeOut]:
    """Stored state transitions, newest first."""
    return [StateChangeOut.model_validate(h) for h in await core.channels.history(actor, key)]


@router.post("/{key}/pair")
async def pair(key: str, body: PairIn, actor: ActorDep, core: CoreDep) -> PairOut:
    """Start pairing: QR codes follow on the event stream, or a code is returned for a phone."""
    return PairOut(code=await core.channels.pair(actor, key, body.phone))


@router.post("/{key}/pair/cancel", status_code=204)
async def cancel_pairing(key: str, actor: ActorDep, core: CoreDep) -> None:
    await core.channels.cancel_pairing(actor, key)


@router.post("/{key}/logout", status_code=204)
async def logout(key: str, actor: ActorDep, core: CoreDep) -> None:
    await core.channels.logout(actor, key)


@router.post("/{key}/suspend", status_code=204)
async def suspend(key: str, actor: ActorDep, core: CoreDep) -> None:
    await core.channels.suspend(actor, key)


@router.post("/{key}/resume", status_code=204)
async def resume(key: str, actor: ActorDep, core: CoreDep) -> None:
    await core.channels.resume(actor, key)
