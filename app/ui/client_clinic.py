"""The desk's calls for the Clínica page: a branch's settings (``/branches/{id}/settings``)
and its quick replies (``/quick-replies``), kept out of ``client.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.ui.client import DeskClient

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BranchSettings:
    """A branch's settings as the engine holds them (None: the engine's default applies)."""

    branch_id: int
    name: str
    timezone: str
    business_hours: str | None  # JSON {"mon": [["08:00", "12:00"], …]}; None: always open
    out_of_hours_message: str | None
    reopen_window_minutes: int | None
    menu_header: str | None
    clinic_name: str | None
    # the automatic texts by setting key (None: the default, in ``defaults``, is sent)
    texts: dict[str, str | None] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QuickReplyRow:
    """One ``/shortcut`` of a branch, with the id that changes or deletes it."""

    id: int
    shortcut: str
    body: str


def _settings_of(j: Json) -> BranchSettings:
    defaults = {str(k): str(v) for k, v in (j.get("defaults") or {}).items()}
    return BranchSettings(
        int(j["branch_id"]), str(j["name"]), str(j["timezone"]), j.get("business_hours"),
        j.get("out_of_hours_message"), j.get("reopen_window_minutes"), j.get("menu_header"),
        j.get("clinic_name"), {key: j.get(key) for key in defaults}, defaults,
    )  # fmt: skip


async def branch_settings(client: DeskClient, branch_id: int) -> BranchSettings:
    """``GET /branches/{id}/settings``."""
    return _settings_of(await client.call("GET", f"/branches/{branch_id}/settings"))


async def configure_branch(client: DeskClient, branch_id: int, change: Json) -> BranchSettings:
    """``PATCH /branches/{id}/settings`` with only the fields that changed; the settings after."""
    path = f"/branches/{branch_id}/settings"
    return _settings_of(await client.call("PATCH", path, json=change))


def _reply_of(j: Json) -> QuickReplyRow:
    return QuickReplyRow(int(j["id"]), str(j["shortcut"]), str(j["body"]))


async def quick_replies(client: DeskClient, branch_id: int) -> list[QuickReplyRow]:
    """The branch's replies, by shortcut."""
    data = await client.call("GET", "/quick-replies", params={"branch_id": branch_id})
    return [_reply_of(q) for q in data]


async def add_quick_reply(
    client: DeskClient, branch_id: int, shortcut: str, body: str
) -> QuickReplyRow:
    reply = {"branch_id": branch_id, "shortcut": shortcut, "body": body}
    return _reply_of(await client.call("POST", "/quick-replies", json=reply))


async def change_quick_reply(
    client: DeskClient, reply_id: int, shortcut: str, body: str
) -> QuickReplyRow:
    change = {"shortcut": shortcut, "body": body}
    return _reply_of(await client.call("PUT", f"/quick-replies/{reply_id}", json=change))


async def remove_quick_reply(client: DeskClient, reply_id: int) -> None:
    await client.call("DELETE", f"/quick-replies/{reply_id}")


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue of the numbered menu, as admins edit it."""

    id: int
    name: str
    color: str
    greeting: str | None
    menu_order: int


@dataclass(frozen=True, slots=True)
class StaffRow:
    """An account that works in the branch (a possible queue member)."""

    id: int
    username: str
    display_name: str


def _queue_of(j: Json) -> QueueRow:
    return QueueRow(int(j["id"]), str(j["name"]), str(j["color"]), j.get("greeting"),
                    int(j["menu_order"]))  # fmt: skip


async def queues(client: DeskClient, branch_id: int) -> list[QueueRow]:
    """The branch's queues in menu order."""
    data = await client.call("GET", "/queues", params={"branch_id": branch_id})
    return [_queue_of(q) for q in data]


async def save_queue(
    client: DeskClient, branch_id: int, queue_id: int | None, fields: Json
) -> QueueRow:
    """Create the queue (``queue_id`` None) or change its ``fields``."""
    if queue_id is None:
        body = fields | {"branch_id": branch_id}
        return _queue_of(await client.call("POST", "/queues", json=body))
    return _queue_of(await client.call("PATCH", f"/queues/{queue_id}", json=fields))


async def queue_members(client: DeskClient, queue_id: int) -> set[int]:
    return {int(u) for u in await client.call("GET", f"/queues/{queue_id}/members")}


async def set_member(client: DeskClient, queue_id: int, user_id: int, member: bool) -> None:
    """Put the user in the queue, or take them out."""
    if member:
        await client.call("POST", f"/queues/{queue_id}/members", json={"user_id": user_id})
    else:
        await client.call("DELETE", f"/queues/{queue_id}/members/{user_id}")


async def staff(client: DeskClient, branch_name: str) -> list[StaffRow]:
    """Active accounts with a role in the branch, by name (``GET /users``: admins)."""
    users = await client.call("GET", "/users")
    found = [
        StaffRow(int(u["id"]), str(u["username"]), str(u["display_name"]))
        for u in users
        if branch_name in u.get("roles", {}) and not u.get("disabled")
    ]
    return sorted(found, key=lambda s: s.display_name.lower())
