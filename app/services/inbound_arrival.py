"""The facts of one stored inbound message that routing, opt-outs and reminder answers need
(one type for all three, inside the inbound transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Arrival:
    """One inbound message, already stored and linked to its contact."""

    branch_id: int
    channel_id: int
    contact_id: int
    text: str | None
    at: datetime
    message_id: int | None = None  # the stored inbound row (opt-outs point at it)
    kind: str = "text"
    reacted_to: str | None = None  # a reaction: the WhatsApp id of the message it is on

    @property
    def reaction(self) -> bool:
        return self.kind == "reaction"
