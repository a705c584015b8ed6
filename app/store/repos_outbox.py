"""SQL behind ``app.services.ports_outbox`` (filled in by the outbound work)."""

from __future__ import annotations

from sqlalchemy import Connection


class OutboxRepository:
    """The outbox and outbound message rows."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn
