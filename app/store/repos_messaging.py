"""SQL behind ``app.services.ports_messaging`` (filled in by the inbound/tickets work)."""

from __future__ import annotations

from sqlalchemy import Connection


class MessagingRepository:
    """Messages, tickets, queues, identities and quarantine."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn
