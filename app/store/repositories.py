"""Repositories: the SQL behind the ports in ``app.services.ports`` (filled in by the services work)."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlTx:
    """All repositories bound to one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
