"""The two ways an admin command reaches the store: through the running engine's API, or by
opening the store itself when no engine runs. Both return the same JSON-ready shapes (the
API's); branches, queues and users are named, never numbered.

The store's side lives in ``backends_local`` and is imported only when no engine runs: a
command that talks to a running engine must not load the store, the services and the API's
schemas (about a second of start-up; docs/CLI.md, "Start-up time").
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Protocol

from app.cli.remote import EngineClient, running_engine
from app.config import DataDir, resolve_data_dir
from app.domain.errors import ErrorCode, NotFoundError

if TYPE_CHECKING:
    from app.bootstrap import Core
    from app.domain.audit import Anchor

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


class ClinicBackend(Protocol):
    def branch_settings(self, branch: str) -> Json: ...
    def configure_branch(self, branch: str, change: Json) -> Json: ...
    def add_queue(self, branch: str, queue: Json) -> Json: ...
    def list_queues(self, branch: str) -> list[Json]: ...
    def queue_member(self, branch: str, queue: str, username: str, *, add: bool) -> None: ...
    def change_queue(self, branch: str, queue: str, change: Json) -> Json: ...
    def add_quick_reply(self, branch: str, shortcut: str, body: str) -> Json: ...
    def list_quick_replies(self, branch: str) -> list[Json]: ...
    def change_quick_reply(self, branch: str, shortcut: str, new: Json) -> Json: ...
    def remove_quick_reply(self, branch: str, shortcut: str) -> None: ...
    def close(self) -> None: ...


def named_row(rows: list[Json], name: str, key: str, entity: str) -> Json:
    """The row whose ``key`` is ``name`` (case-insensitive), else ``entity.not_found``."""
    wanted = " ".join(name.split()).lower()
    for row in rows:
        if str(row[key]).lower() == wanted:
            return row
    raise NotFoundError(ErrorCode.NOT_FOUND, entity=entity)


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


class RemoteClinic:
    """Through the engine's API."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client

    def _branch_id(self, name: str) -> int:
        return int(named_row(self.client.call("GET", "/branches"), name, "name", "branch")["id"])

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

    def change_queue(self, branch: str, queue: str, change: Json) -> Json:
        queue_id = named_row(self.list_queues(branch), queue, "name", "queue")["id"]
        return dict(self.client.call("PATCH", f"/queues/{queue_id}", json=change))

    def queue_member(self, branch: str, queue: str, username: str, *, add: bool) -> None:
        queue_id = named_row(self.list_queues(branch), queue, "name", "queue")["id"]
        user_id = named_row(self.client.call("GET", "/users"), username, "username", "user")["id"]
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

    def _reply_id(self, branch: str, shortcut: str) -> int:
        replies = self.list_quick_replies(branch)
        return int(named_row(replies, shortcut.lstrip("/"), "shortcut", "quick_reply")["id"])

    def change_quick_reply(self, branch: str, shortcut: str, new: Json) -> Json:
        path = f"/quick-replies/{self._reply_id(branch, shortcut)}"
        return dict(self.client.call("PUT", path, json=new))

    def remove_quick_reply(self, branch: str, shortcut: str) -> None:
        self.client.call("DELETE", f"/quick-replies/{self._reply_id(branch, shortcut)}")

    def close(self) -> None:
        self.client.close()


def admin_backend(args: argparse.Namespace) -> AdminBackend:
    """Branches, users, channels and the audit log: the running engine's API, else the store."""
    target = engine_or_store(args)
    if isinstance(target, EngineClient):
        return RemoteBackend(target)
    from app.cli.backends_local import LocalBackend  # only without an engine (module doc)

    return LocalBackend(target)


def clinic_backend(args: argparse.Namespace) -> ClinicBackend:
    """Branch settings, queues and quick replies: the running engine's API, else the store."""
    target = engine_or_store(args)
    if isinstance(target, EngineClient):
        return RemoteClinic(target)
    from app.cli.backends_local import LocalClinic  # only without an engine (module doc)

    return LocalClinic(target)


def data_dir_of(args: argparse.Namespace) -> DataDir:
    """The data directory named by ``--data-dir``, the environment or the platform default."""
    return DataDir(resolve_data_dir(args.data_dir))


def engine_or_store(args: argparse.Namespace) -> EngineClient | Core:
    """A client of the engine running on the data dir, else the store opened here (never
    both: the engine holds the store while it runs)."""
    data_dir = data_dir_of(args)
    client = running_engine(data_dir)
    if client is not None:
        return client
    from app.bootstrap import open_core  # only without an engine (module doc)

    return open_core(data_dir.root, insecure=args.insecure_key_storage)
