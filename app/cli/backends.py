"""The two ways an admin command reaches the store: through the running engine's API, or by
opening the store itself when no engine runs. Both return the same JSON-ready shapes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from app.api.schemas import AuditVerifyOut, BranchOut, ChannelOut, user_out
from app.bootstrap import Core, open_core
from app.cli.remote import EngineClient, running_engine
from app.config import DataDir, resolve_data_dir
from app.domain.audit import Anchor
from app.domain.roles import Permission, Role
from app.services.channels import ChannelSpec
from app.services.users import NewUser

MANAGE_USERS = Permission.MANAGE_USERS

T = TypeVar("T")
Json = dict[str, Any]


class AdminBackend(Protocol):
    def add_branch(self, name: str) -> Json: ...
    def list_branches(self) -> list[Json]: ...
    def add_user(self, user: UserArgs) -> Json: ...
    def list_users(self) -> list[Json]: ...
    def set_password(self, username: str, password: str) -> None: ...
    def verify_audit(self, anchor: Anchor | None) -> Json: ...
    def add_channel(self, body: Json) -> Json: ...
    def list_channels(self) -> list[Json]: ...
    def close(self) -> None: ...


class UserArgs(Protocol):
    username: str
    display_name: str
    password: str
    branch: str
    role: str


class RemoteBackend:
    """Admin commands sent to the running engine (it holds the store; we must not open it)."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client

    def add_branch(self, name: str) -> Json:
        return dict(self.client.call("POST", "/branches", json={"name": name}))

    def list_branches(self) -> list[Json]:
        return list(self.client.call("GET", "/branches"))

    def add_user(self, user: UserArgs) -> Json:
        body = {k: getattr(user, k) for k in ("username", "display_name", "password", "branch")}
        return dict(self.client.call("POST", "/users", json=body | {"role": user.role}))

    def list_users(self) -> list[Json]:
        return list(self.client.call("GET", "/users"))

    def set_password(self, username: str, password: str) -> None:
        self.client.call("PUT", f"/users/{username}/password", json={"password": password})

    def verify_audit(self, anchor: Anchor | None) -> Json:
        params = {"anchor_seq": anchor.seq, "anchor_hash": anchor.hash} if anchor else {}
        return dict(self.client.call("GET", "/audit/verify", params=params))

    def add_channel(self, body: Json) -> Json:
        return dict(self.client.call("POST", "/channels", json=body))

    def list_channels(self) -> list[Json]:
        return list(self.client.call("GET", "/channels"))

    def close(self) -> None:
        self.client.close()


class LocalBackend:
    """Admin commands run against the store opened by this process (no engine running)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.actor = core.local_actor()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def add_branch(self, name: str) -> Json:
        branch = self._run(self.core.branches.add(self.actor, name))
        return BranchOut.model_validate(branch).model_dump(mode="json")

    def list_branches(self) -> list[Json]:
        branches = self._run(self.core.branches.list(self.actor))
        return [BranchOut.model_validate(b).model_dump(mode="json") for b in branches]

    def add_user(self, user: UserArgs) -> Json:
        return self._run(self._add_user(user))

    async def _add_user(self, user: UserArgs) -> Json:
        branch = await self.core.branches.resolve_for(self.actor, user.branch, MANAGE_USERS)
        role = Role.parse(user.role)
        new = NewUser(user.username, user.display_name, user.password, branch.id, role)
        view = await self.core.users.add(self.actor, new)
        return user_out(view, {branch.id: branch.name}).model_dump(mode="json")

    def list_users(self) -> list[Json]:
        return self._run(self._list_users())

    async def _list_users(self) -> list[Json]:
        names = {b.id: b.name for b in await self.core.branches.list(self.actor)}
        return [
            user_out(u, names).model_dump(mode="json")
            for u in await self.core.users.list(self.actor)
        ]

    def set_password(self, username: str, password: str) -> None:
        self._run(self.core.users.set_password(self.actor, username, password))

    def verify_audit(self, anchor: Anchor | None) -> Json:
        result = self._run(self.core.audit.verify(self.actor, anchor))
        return AuditVerifyOut.model_validate(result).model_dump(mode="json")

    def add_channel(self, body: Json) -> Json:
        return self._run(self._add_channel(body))

    async def _add_channel(self, body: Json) -> Json:
        branch = await self.core.branches.get_by_name(self.actor, body["branch"])
        config = {"simulator_url": body["simulator_url"]} if body.get("simulator_url") else {}
        display = body.get("display_name") or body["name"]
        spec = ChannelSpec(
            branch.id, body["name"], display, body["kind"], body.get("phone"), config
        )
        channel = await self.core.channels.create(self.actor, spec)
        return ChannelOut.model_validate(channel).model_dump(mode="json")

    def list_channels(self) -> list[Json]:
        channels = self._run(self.core.channels.list(self.actor))
        return [ChannelOut.model_validate(c).model_dump(mode="json") for c in channels]

    def close(self) -> None:
        self.core.close()


def engine_or_store(args: argparse.Namespace) -> EngineClient | Core:
    """A client of the engine running on the data dir, else the store opened here (never
    both: the engine holds the store while it runs)."""
    data_dir = DataDir(resolve_data_dir(args.data_dir))
    client = running_engine(data_dir)
    if client is not None:
        return client
    return open_core(data_dir.root, insecure=args.insecure_key_storage)
