"""SQL behind :class:`app.services.search.SearchRepo`: FTS5 ``MATCH`` over ``messages_fts`` and
``contacts_fts`` (migration 0002), joined with tickets and filtered by the same visibility
expression as the ticket listing (``repos_tickets._visible``). The match expression is always a
bound parameter.

Both searches walk the FTS index by rowid, newest first, and stop early:

1. the *window*: the newest ``window`` matching rowids below the cursor, counted, rowids only
   (no join, no snippet);
2. the *page*: the same rowid-descending FTS scan, restricted to that window, joined with the
   scope and stopped after ``limit + 1`` visible rows.

So one call costs at most ``window`` matches however narrow the reader's scope is; a scope that
sees little gets a short page and a cursor to continue below the window. The rowid bound is
always present (``2**63 - 1`` on the first page): without any rowid constraint, FTS5 serves a
descending *prefix* query (``"consulta"*``) by materialising and reversing the whole doclist,
which took seconds on 1,000,000 messages; with a bound it walks only what it returns.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
)

from app.services.ports import Tx
from app.services.ports_messaging import TicketScope
from app.services.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    SCAN_WINDOW,
    ContactHit,
    MessageHit,
    Page,
    PhoneQuery,
    SearchRepo,
)
from app.store.repos_tickets import _visible
from app.store.repositories import SqlTx
from app.store.schema import contact_identities, contacts, messages, tickets

SNIPPET_TOKENS = 12
NO_CURSOR = 2**63 - 1  # above every rowid: the first page still carries a rowid bound
messages_fts = table("messages_fts", column("rowid"))
contacts_fts = table("contacts_fts", column("rowid"))
m, c, t, ident = messages.c, contacts.c, tickets.c, contact_identities.c
H = TypeVar("H")


def _matches(fts: str) -> ColumnElement[bool]:
    """``<fts> MATCH :match`` (the expression is bound, never interpolated)."""
    return literal_column(fts).op("MATCH")(bindparam("match"))


def _rowid(fts: str) -> Any:
    return literal_column(f"{fts}.rowid")


def _in_window(fts: str) -> list[ColumnElement[bool]]:
    """The match, below the cursor (``:before``) and at or above the window's floor."""
    rowid = _rowid(fts)
    return [_matches(fts), rowid < bindparam("before"), rowid >= bindparam("floor")]


def window_query(fts: str) -> Select[int, Any]:
    """(count, lowest rowid) of the newest ``:window`` matches below ``:before``."""
    newest = (
        select(_rowid(fts).label("id"))
        .select_from(table(fts))
        .where(_matches(fts), _rowid(fts) < bindparam("before"))
        .order_by(_rowid(fts).desc())
        .limit(bindparam("window"))
        .subquery()
    )
    return select(func.count(), func.min(newest.c.id))


def message_query(scope: TicketScope) -> Select[Any]:
    """Visible matching messages in the window, newest first (``LIMIT :limit``)."""
    snippet = func.snippet(
        literal_column("messages_fts"), 0, HIGHLIGHT_START, HIGHLIGHT_END, "…", SNIPPET_TOKENS
    )
    joined = messages_fts.join(messages, m.id == messages_fts.c.rowid).join(
        tickets, t.id == m.ticket_id
    )
    return (
        select(m.id, m.ticket_id, m.contact_id, m.sent_at, snippet.label("snippet"))
        .select_from(joined)
        .where(*_in_window("messages_fts"), _visible(scope))
        .order_by(_rowid("messages_fts").desc())
        .limit(bindparam("limit"))
    )


def contact_query(scope: TicketScope) -> Select[Any]:
    """Matching unmerged contacts with a ticket the reader may see, in the window, newest first."""
    has_visible_ticket = exists().where(t.contact_id == c.id, _visible(scope))
    return (
        select(c.id, c.display_name, c.phone_e164)
        .select_from(contacts_fts.join(contacts, c.id == contacts_fts.c.rowid))
        .where(*_in_window("contacts_fts"), c.merged_into_id.is_(None), has_visible_ticket)
        .order_by(_rowid("contacts_fts").desc())
        .limit(bindparam("limit"))
    )


def _number_matches(value: ColumnElement[str], phone: PhoneQuery) -> ColumnElement[bool]:
    """``value`` (an E.164 number) is the whole number asked for, or holds the typed digits."""
    if phone.e164 is not None:
        return value == phone.e164
    return func.instr(value, phone.digits) > 0


def phone_contact_query(phone: PhoneQuery, scope: TicketScope, before: int | None) -> Select[Any]:
    """Unmerged contacts with a ticket the reader may see whose number (the contact's own or
    any phone identity, which follow a merge) matches, below ``before``, newest first. A plain
    scan of contacts: no index helps a match inside a number, and a clinic has thousands."""
    has_visible_ticket = exists().where(t.contact_id == c.id, _visible(scope))
    has_number = exists().where(
        ident.contact_id == c.id, ident.kind == "phone", _number_matches(ident.value, phone)
    )
    return (
        select(c.id, c.display_name, c.phone_e164)
        .where(
            c.id < (NO_CURSOR if before is None else before),
            c.merged_into_id.is_(None),
            or_(_number_matches(c.phone_e164, phone), has_number),
            has_visible_ticket,
        )
        .order_by(c.id.desc())
        .limit(bindparam("limit"))
    )


class SearchSql:
    """The two search queries, bound to one connection."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def messages(
        self,
        match: str,
        scope: TicketScope,
        limit: int,
        before: int | None = None,
        window: int = SCAN_WINDOW,
    ) -> Page[MessageHit]:
        """Visible messages whose text matches, newest first, below ``before`` (a message id)."""
        rows = self._paged(
            message_query(scope), "messages_fts", match, limit, before=before, window=window
        )
        hits = [MessageHit(r.id, r.ticket_id, r.contact_id, r.sent_at, r.snippet) for r in rows[0]]
        return _page(hits, [h.message_id for h in hits], limit, rows[1])

    def contacts(
        self,
        match: str,
        scope: TicketScope,
        limit: int,
        before: int | None = None,
        window: int = SCAN_WINDOW,
    ) -> Page[ContactHit]:
        """Contacts whose name matches and who have a ticket the reader may see, newest first."""
        rows = self._paged(
            contact_query(scope), "contacts_fts", match, limit, before=before, window=window
        )
        hits = [ContactHit(r.id, r.display_name, r.phone_e164) for r in rows[0]]
        return _page(hits, [h.contact_id for h in hits], limit, rows[1])

    def contacts_by_phone(
        self, phone: PhoneQuery, scope: TicketScope, limit: int, before: int | None = None
    ) -> Page[ContactHit]:
        """Contacts whose number matches ``phone`` and who have a ticket the reader may see,
        newest first, below ``before`` (a contact id)."""
        query = phone_contact_query(phone, scope, before)
        rows = list(self._c.execute(query, {"limit": limit + 1}))
        hits = [ContactHit(r.id, r.display_name or "", r.phone_e164) for r in rows]
        return _page(hits, [h.contact_id for h in hits], limit, None)

    def _paged(
        self,
        query: Select[Any],
        fts: str,
        match: str,
        limit: int,
        *,
        before: int | None,
        window: int,
    ) -> tuple[list[Any], int | None]:
        """Up to ``limit + 1`` rows of ``query`` in the window below ``before``, and the
        window's floor when the window was full (more matches lie below it), else None."""
        params: dict[str, Any] = {"match": match, "before": NO_CURSOR if before is None else before}
        count, floor = self._c.execute(window_query(fts), params | {"window": window}).one()
        if not count:
            return [], None
        rows = list(self._c.execute(query, params | {"floor": floor, "limit": limit + 1}))
        return rows, (floor if count >= window else None)


def _page(hits: list[H], ids: list[int], limit: int, floor: int | None) -> Page[H]:
    """The first ``limit`` hits; the cursor continues after the last one when more visible
    hits exist, else below a full window, else there is nothing more."""
    if len(hits) > limit:
        return Page(hits[:limit], ids[limit - 1])
    return Page(hits, floor)


def search_repo(tx: Tx) -> SearchRepo:
    """The search queries on ``tx`` (a store read or write transaction); wire as the factory."""
    if not isinstance(tx, SqlTx):
        raise TypeError("search_repo needs a store transaction (SqlTx)")
    return SearchSql(tx.conn)
