"""Setting up a clinic from the command line: branch settings (hours, replies) and queues.

Like ``backends.py``: through the running engine's API when one runs, else on the store opened
here; both return the API's JSON shapes. Branches, queues and users are named, never numbered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from app.api.schemas import branch_settings_out
from app.api.schemas_tickets import QueueOut, QuickReplyOut
from app.bootstrap import Core
from app.cli.remote import EngineClient
from app.domain.errors import ErrorCode, NotFoundError
from app.domain.models import Branch
from app.services.branches import SettingsChange
from app.services.ports_messaging import QueueRecord

T = TypeVar("T")
Json = dict[str, Any]


class ClinicBackend(Protocol):
    def branch_settings(self, branch: str) -> Json: ...
    def configure_branch(self, branch: str, change: Json) -> Json: ...
    def add_queue(self, branch: str, queue: Json) -> Json: ...
    def list_queues(self, branch: str) -> list[Json]: ...
    def queue_member(self, branch: str, queue: str, username: str, *, add: bool) -> None: ...
    def add_quick_reply(self, branch: str, shortcut: str, body: str) -> Json: ...
    def list_quick_replies(self, branch: str) -> list[Json]: ...
    def close(self) -> None: ...


def _named(rows: list[Json], name: str, key: str, entity: str) -> Json:
    """The row whose ``key`` is ``name`` (case-insensitive), else ``entity.not_found``."""
    wanted = " ".join(name.split()).lower()
    for row in rows:
        if str(row[key]).lower() == wanted:
            return row
    raise NotFoundError(ErrorCode.NOT_FOUND, entity=entity)


class RemoteClinic:
    """Through the engine's API."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client

    def _branch_id(self, name: str) -> int:
        return int(_named(self.client.call("GET", "/branches"), name, "name", "branch")["id"])

    def branch_settings(self, branch: str) -> Json:
        return dict(self.client.call("GET", f"/branches/{self._branch_id(branch)}/settings"))

    def configure_branch(self, branch: str, change: Json) -> Json:
        path = f"/branches/{self._branch_id(branch)}/settings"
        return dict(self.client.call("PATCH", path, json=change))

    def add_queue(self, branch: str, queue: Json) -> Json:
        body = queue | {"branch_id": self._branch_id(branch)}
        return dict(self.client.call("POST", "/queues", json=body))

    def list_queues(self, branch: str) -> list[Json]:
        params = {"branch_id": self._branch_id(branch)}
        return list(self.client.call("GET", "/queues", params=params))

    def queue_member(self, branch: str, queue: str, username: str, *, add: bool) -> None:
        queue_id = _named(self.list_queues(branch), queue, "name", "queue")["id"]
        user_id = _named(self.client.call("GET", "/users"), username, "username", "user")["id"]
        if add:
            self.client.call("POST", f"/queues/{queue_id}/members", json={"user_id": user_id})
        else:
            self.client.call("DELETE", f"/queues/{queue_id}/members/{user_id}")

    def add_quick_reply(self, branch: str, shortcut: str, body: str) -> Json:
        reply = {"branch_id": self._branch_id(branch), "shortcut": shortcut, "body": body}
        return dict(self.client.call("POST", "/quick-replies", json=reply))

    def list_quick_replies(self, branch: str) -> list[Json]:
        params = {"branch_id": self._branch_id(branch)}
        return list(self.client.call("GET", "/quick-replies", params=params))

    def close(self) -> None:
        self.client.close()


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

    def queue_member(self, branch: str, queue: str, username: str, *, add: bool) -> None:
        queue_id = int(_named(self.list_queues(branch), queue, "name", "queue")["id"])
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

    def close(self) -> None:
        self.core.close()


def _queue_json(queue: QueueRecord) -> Json:
    return QueueOut.model_validate(queue).model_dump(mode="json")
