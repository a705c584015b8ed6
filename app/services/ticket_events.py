"""Events of the ticket desk on the engine's bus (ids only; the WebSocket stream relays them)."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.events import Event


@dataclass(frozen=True, slots=True)
class TicketChanged(Event):
    """A ticket was accepted, transferred, resolved, reopened, tagged or annotated."""

    ticket_id: int
    action: str
    status: str
    queue_id: int | None = None
    assignee_id: int | None = None
