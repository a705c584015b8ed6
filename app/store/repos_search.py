"""SQL behind :class:`app.services.search.SearchRepo`: FTS5 ``MATCH`` over ``messages_fts`` and
``contacts_fts`` (migration 0002), joined with tickets and filtered by the same visibility
expression as the ticket listing (``repos_tickets._visible``). The match expression is always a
bound parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
)

from app.services.ports import Tx
from app.services.ports_messaging import TicketScope
from app.services.search import HIGHLIGHT_END, HIGHLIGHT_START, ContactHit, MessageHit, SearchRepo
from app.store.repos_tickets import _visible
from app.store.repositories import SqlTx
from app.store.schema import contacts, messages, tickets

SNIPPET_TOKENS = 12
messages_fts = table("messages_fts", column("rowid"))
contacts_fts = table("contacts_fts", column("rowid"))
m, c, t = messages.c, contacts.c, tickets.c


def _matches(fts: str) -> ColumnElement[bool]:
    """``<fts> MATCH :match`` (the expression is bound, never interpolated)."""
    return literal_column(fts).op("MATCH")(bindparam("match"))


def _rank(fts: str) -> Any:
    return literal_column(f"{fts}.rank")


class SearchSql:
    """The two search queries, bound to one connection."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def messages(self, match: str, scope: TicketScope, limit: int) -> list[MessageHit]:
        """Visible messages whose text matches, best rank first."""
        snippet = func.snippet(
            literal_column("messages_fts"), 0, HIGHLIGHT_START, HIGHLIGHT_END, "…", SNIPPET_TOKENS
        )
        joined = messages_fts.join(messages, m.id == messages_fts.c.rowid).join(
            tickets, t.id == m.ticket_id
        )
        query = (
            select(m.id, m.ticket_id, m.contact_id, m.sent_at, snippet.label("snippet"))
            .select_from(joined)
            .where(_matches("messages_fts"), _visible(scope))
            .order_by(_rank("messages_fts"), m.sent_at.desc(), m.id.desc())
            .limit(limit)
        )
        rows = self._c.execute(query, {"match": match})
        return [MessageHit(r.id, r.ticket_id, r.contact_id, r.sent_at, r.snippet) for r in rows]

    def contacts(self, match: str, scope: TicketScope, limit: int) -> list[ContactHit]:
        """Contacts whose name matches and who have at least one ticket the reader may see."""
        has_visible_ticket = exists().where(t.contact_id == c.id, _visible(scope))
        query = (
            select(c.id, c.display_name)
            .select_from(contacts_fts.join(contacts, c.id == contacts_fts.c.rowid))
            .where(_matches("contacts_fts"), c.merged_into_id.is_(None), has_visible_ticket)
            .order_by(_rank("contacts_fts"), c.id)
            .limit(limit)
        )
        rows = self._c.execute(query, {"match": match})
        return [ContactHit(r.id, r.display_name) for r in rows]


def search_repo(tx: Tx) -> SearchRepo:
    """The search queries inside ``tx`` (a store transaction); wire as the service's factory."""
    if not isinstance(tx, SqlTx):
        raise TypeError("search_repo needs a store transaction (SqlTx)")
    return SearchSql(tx.conn)
