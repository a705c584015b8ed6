"""Results of the contact and channel-history calls of :class:`app.ui.client.DeskClient`
(kept apart so the client module stays small)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.ui.client_types import moment

Json = dict[str, Any]


def _moment_req(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class StateChange:
    """One stored transition of a channel (``GET /channels/{name}/history``)."""

    at: datetime
    from_state: str | None
    to_state: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class ContactTicket:
    id: int
    status: str
    channel_id: int
    created_at: datetime
    closed_at: datetime | None
    visible: bool  # the caller may open it


@dataclass(frozen=True, slots=True)
class ContactProfile:
    """``GET /contacts/{id}``: who the patient is, consent and earlier tickets (newest first)."""

    id: int
    display_name: str | None
    phone_e164: str | None
    identity_kinds: tuple[str, ...]
    opted_out_at: datetime | None
    tickets: tuple[ContactTicket, ...]


def contact_of(d: Json) -> ContactProfile:
    rows = tuple(
        ContactTicket(t["id"], t["status"], t["channel_id"], _moment_req(t["created_at"]),
                      moment(t.get("closed_at")), bool(t.get("visible", True)))
        for t in d.get("tickets", [])
    )  # fmt: skip
    return ContactProfile(
        d["id"], d.get("display_name"), d.get("phone_e164"), tuple(d.get("identity_kinds", [])),
        moment(d.get("opted_out_at")), rows,
    )  # fmt: skip


def state_change_of(h: Json) -> StateChange:
    return StateChange(_moment_req(h["at"]), h.get("from_state"), h["to_state"], h.get("reason"))
