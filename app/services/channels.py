"""Channels (WhatsApp numbers): configuration by admins, pairing, logout, suspend/resume."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field, fields
from datetime import datetime

from app.domain.channels import SendLimits
from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.models import Channel, StateChange
from app.domain.phones import normalise_phone
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.branches import clean_name
from app.services.ports import ChannelRuntime, Clock, NewChannel, Store, Tx

KINDS = ("simulator", "whatsapp-web", "cloud-api")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LIMIT_KEYS = frozenset(f.name for f in fields(SendLimits))  # what the pacer understands


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A channel with its live state (from the supervisor when one runs, else the stored one)."""

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
    breaker_open: bool = False
    until: float | None = None
    warning: str | None = None  # e.g. "deaf_suspected" (docs/CHANNELS.md "Deaf channels")
    warning_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """What an admin gives to create a channel."""

    branch_id: int
    name: str
    display_name: str
    kind: str
    phone: str | None = None
    config: dict[str, object] = field(default_factory=dict)


def _check_spec(spec: ChannelSpec) -> tuple[str, str | None]:
    name = spec.name.strip().lower()
    if not NAME_RE.fullmatch(name):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="name")
    if spec.kind not in KINDS:
        raise ClinicDeskError(ErrorCode.CHANNEL_KIND_UNSUPPORTED, kind=spec.kind)
    return name, normalise_phone(spec.phone) if spec.phone else None


def check_limits(limits: dict[str, object]) -> dict[str, object]:
    """Validate per-channel send limit overrides (known keys, positive numbers)."""
    for key, value in limits.items():
        if key not in LIMIT_KEYS or not isinstance(value, int | float) or value <= 0:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field=f"send_limits.{key}")
    return limits


class ChannelService:
    """Channel use cases. ``runtime`` is the engine's supervisor (None in offline CLI use)."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor
        self.runtime: ChannelRuntime | None = None

    async def create(self, actor: Actor, spec: ChannelSpec) -> ChannelView:
        """Add a channel to a branch (admins); the engine starts it at once if it runs."""
        actor.require(Permission.MANAGE_CHANNELS, spec.branch_id)
        name, phone = _check_spec(spec)
        display = clean_name(spec.display_name, "display_name")
        new = NewChannel(spec.branch_id, name, display, spec.kind, phone, dict(spec.config))
        channel = await self._store.transaction(lambda tx: self._insert(tx, actor, new))
        if self.runtime is not None:
            await self.runtime.add_channel(channel)
        return self._view(channel)

    def _insert(self, tx: Tx, actor: Actor, new: NewChannel) -> Channel:
        if tx.branches.get(new.branch_id) is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
        if tx.channels.get_by_name(new.name) is not None:
            raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="channel")
        channel_id = tx.channels.add(new, self._clock.now())
        target = AuditTarget("channel", channel_id, new.branch_id)
        self._auditor.record(tx, actor, "channel.add", target, kind=new.kind)
        return _must(tx.channels.get(channel_id))

    async def list(self, actor: Actor) -> list[ChannelView]:
        """Channels of the actor's branches with their live state."""
        only = None if actor.super_admin else actor.branch_ids
        channels = await self._store.read(lambda tx: tx.channels.list(only))
        return [self._view(c) for c in channels]

    async def get(self, actor: Actor, channel_id: int | str) -> ChannelView:
        """One channel by id or name, if the actor may see its branch."""
        return self._view(await self._visible(actor, channel_id))

    async def history(self, actor: Actor, channel_id: int | str) -> builtins.list[StateChange]:
        """The channel's stored state transitions, newest first."""
        channel = await self._visible(actor, channel_id)
        return await self._store.read(lambda tx: tx.channels.history(channel.id))

    async def update_limits(
        self, actor: Actor, channel_id: int | str, limits: dict[str, object]
    ) -> ChannelView:
        """Replace the channel's send-limit overrides (admins); the next send is paced by them."""
        channel = await self._visible(actor, channel_id)
        actor.require(Permission.MANAGE_CHANNELS, channel.branch_id)
        clean = check_limits(dict(limits))

        def work(tx: Tx) -> Channel:
            tx.channels.update(channel.id, send_limits=clean)
            target = AuditTarget("channel", channel.id, channel.branch_id)
            self._auditor.record(tx, actor, "channel.limits", target, keys=sorted(clean))
            return _must(tx.channels.get(channel.id))

        updated = await self._store.transaction(work)
        if self.runtime is not None:
            self.runtime.set_send_limits(updated.id, clean)
        return self._view(updated)

    async def delete(self, actor: Actor, channel_id: int | str) -> None:
        """Remove a channel without history (one with messages can only be disabled)."""
        channel = await self._visible(actor, channel_id)
        actor.require(Permission.MANAGE_CHANNELS, channel.branch_id)
        if self.runtime is not None:
            await self.runtime.remove_channel(channel.id)

        def work(tx: Tx) -> None:
            tx.channels.delete(channel.id)
            target = AuditTarget("channel", channel.id, channel.branch_id)
            self._auditor.record(tx, actor, "channel.delete", target)

        await self._store.transaction(work)

    async def pair(self, actor: Actor, channel_id: int | str, phone: str | None) -> str | None:
        """Start pairing (QR, or a code for ``phone``); returns the code if one was asked."""
        channel = await self._managed(actor, channel_id)
        phone_e164 = normalise_phone(phone) if phone else None
        code = await self._runtime().pair(channel.id, phone_e164)
        await self._audit(actor, channel, "channel.pair", by="code" if phone else "qr")
        return code

    async def cancel_pairing(self, actor: Actor, channel_id: int | str) -> None:
        """End a pairing window early."""
        channel = await self._managed(actor, channel_id)
        await self._runtime().cancel_pairing(channel.id)

    async def logout(self, actor: Actor, channel_id: int | str) -> None:
        """Unlink the number (its credentials are wiped; pairing is needed again)."""
        channel = await self._managed(actor, channel_id)
        await self._runtime().logout(channel.id)
        await self._audit(actor, channel, "channel.logout")

    async def suspend(self, actor: Actor, channel_id: int | str) -> None:
        """Pause the channel, keeping its credentials."""
        channel = await self._managed(actor, channel_id)
        await self._runtime().suspend(channel.id)
        await self._audit(actor, channel, "channel.suspend")

    async def resume(self, actor: Actor, channel_id: int | str) -> None:
        """Reconnect a suspended channel."""
        channel = await self._managed(actor, channel_id)
        await self._runtime().resume(channel.id)
        await self._audit(actor, channel, "channel.resume")

    async def _audit(self, actor: Actor, channel: Channel, action: str, **details: object) -> None:
        target = AuditTarget("channel", channel.id, channel.branch_id)
        await self._store.transaction(
            lambda tx: self._auditor.record(tx, actor, action, target, **details)
        )

    async def _visible(self, actor: Actor, key: int | str) -> Channel:
        channel = await self._store.read(lambda tx: _lookup(tx, key))
        if channel is None or not (actor.super_admin or channel.branch_id in actor.branch_ids):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="channel")
        return channel

    async def _managed(self, actor: Actor, key: int | str) -> Channel:
        channel = await self._visible(actor, key)
        actor.require(Permission.MANAGE_CHANNELS, channel.branch_id)
        return channel

    def _runtime(self) -> ChannelRuntime:
        if self.runtime is None:
            raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING)
        return self.runtime

    def _view(self, c: Channel) -> ChannelView:
        base = ChannelView(
            c.id, c.branch_id, c.name, c.display_name, c.kind, c.phone_e164, c.enabled,
            c.state, c.state_reason, c.state_since, 0,
        )  # fmt: skip
        if self.runtime is None:
            return base
        return self._merge_live(base)

    def _merge_live(self, base: ChannelView) -> ChannelView:
        assert self.runtime is not None
        try:
            live = self.runtime.status(base.id)
        except ClinicDeskError:
            return base
        return ChannelView(
            base.id, base.branch_id, base.name, base.display_name, base.kind, base.phone_e164,
            base.enabled, str(live.state), live.reason, base.since, live.reconnects,
            live.breaker_open, live.until, live.warning, live.warning_since,
        )  # fmt: skip


def _lookup(tx: Tx, key: int | str) -> Channel | None:
    if isinstance(key, int) or str(key).isdigit():
        return tx.channels.get(int(key))
    return tx.channels.get_by_name(str(key).strip().lower())


def _must(channel: Channel | None) -> Channel:
    if channel is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="channel")
    return channel
