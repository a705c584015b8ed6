"""The store's side of the admin commands (see ``backends``): the store opened by this
process, used as the local administrator, returning the API's JSON shapes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.api.schemas import AuditVerifyOut, BranchOut, ChannelOut, branch_settings_out, user_out
from app.api.schemas_tickets import QueueOut, QuickReplyOut
from app.bootstrap import Core
from app.cli.backends import Json, UserArgs, named_row
from app.domain.audit import Anchor
from app.domain.errors import ErrorCode, NotFoundError
from app.domain.models import Branch
from app.domain.roles import Permission, Role
from app.services.branches import SettingsChange
from app.services.channels import ChannelSpec
from app.services.ports_messaging import QueueRecord
from app.services.queues import QueueChange
from app.services.users import NewUser

MANAGE_USERS = Permission.MANAGE_USERS
T = TypeVar("T")


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


class LocalClinic:
    """On the store opened by this process, as the local administrator."""

    def __init__(self, core: Core) -> None:
        self.core, self.actor = core, core.local_actor()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def _branch(self, name: str) -> Branch:
        return self._run(self.core.branches.get_by_name(self.actor, name))

    def branch_settings(self, branch: str) -> Json:
        settings = self._run(self.core.branches.settings(self.actor, self._branch(branch).id))
        return branch_settings_out(settings).model_dump(mode="json")

    def configure_branch(self, branch: str, change: Json) -> Json:
        branch_id, wanted = self._branch(branch).id, SettingsChange(**change)
        done = self._run(self.core.branches.configure(self.actor, branch_id, wanted))
        return branch_settings_out(done).model_dump(mode="json")

    def add_queue(self, branch: str, queue: Json) -> Json:
        branch_id = self._branch(branch).id
        made = self._run(self.core.queues.create(self.actor, branch_id, **queue))
        return _queue_json(made)

    def list_queues(self, branch: str) -> list[Json]:
        queues = self._run(self.core.queues.list(self.actor, self._branch(branch).id))
        return [_queue_json(q) for q in queues]

    def change_queue(self, branch: str, queue: str, change: Json) -> Json:
        queue_id = int(named_row(self.list_queues(branch), queue, "name", "queue")["id"])
        done = self._run(self.core.queues.change(self.actor, queue_id, QueueChange(**change)))
        return _queue_json(done)

    def queue_member(self, branch: str, queue: str, username: str, *, add: bool) -> None:
        queue_id = int(named_row(self.list_queues(branch), queue, "name", "queue")["id"])
        user = self._run(self.core.store.read(lambda tx: tx.users.get_by_username(username)))
        if user is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="user")
        change = self.core.queues.add_member if add else self.core.queues.remove_member
        self._run(change(self.actor, queue_id, user.id))

    def add_quick_reply(self, branch: str, shortcut: str, body: str) -> Json:
        branch_id = self._branch(branch).id
        reply = self._run(self.core.tickets.add_quick_reply(self.actor, branch_id, shortcut, body))
        return QuickReplyOut.model_validate(reply).model_dump(mode="json")

    def list_quick_replies(self, branch: str) -> list[Json]:
        replies = self._run(self.core.tickets.quick_replies(self.actor, self._branch(branch).id))
        return [QuickReplyOut.model_validate(r).model_dump(mode="json") for r in replies]

    def _reply_id(self, branch: str, shortcut: str) -> int:
        replies = self.list_quick_replies(branch)
        return int(named_row(replies, shortcut.lstrip("/"), "shortcut", "quick_reply")["id"])

    def change_quick_reply(self, branch: str, shortcut: str, new: Json) -> Json:
        reply_id, tickets = self._reply_id(branch, shortcut), self.core.tickets
        done = self._run(tickets.change_quick_reply(self.actor, reply_id, **new))
        return QuickReplyOut.model_validate(done).model_dump(mode="json")

    def remove_quick_reply(self, branch: str, shortcut: str) -> None:
        reply_id = self._reply_id(branch, shortcut)
        self._run(self.core.tickets.remove_quick_reply(self.actor, reply_id))

    def close(self) -> None:
        self.core.close()


def _queue_json(queue: QueueRecord) -> Json:
    return QueueOut.model_validate(queue).model_dump(mode="json")
