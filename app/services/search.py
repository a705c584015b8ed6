"""Full-text search over message text and contact names (SQLite FTS5), scoped to what the
actor may see (:func:`app.services.ticket_access.scope_for`).

The FTS5 tables use ``unicode61 remove_diacritics 2``, so "conceicao" finds "Conceição" and
"ação" finds "acao". User text never reaches ``MATCH`` as typed: it is split into words, FTS
operators and punctuation are dropped, every word is quoted and the last one becomes a prefix
("joao conc" → ``"joao" "conc"*``). Each search is audited with its result counts only — the
query itself may contain patient data and is never stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Store, Tx
from app.services.ports_messaging import TicketScope
from app.services.ticket_access import clamp_limit, scope_for

MAX_QUERY_CHARS = 200
MAX_TOKENS = 12
MAX_LIMIT = 200
# Private-use code points: they never occur in real text, so a client can split on them safely.
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class MessageHit:
    """A matching message; ``snippet`` marks matches with HIGHLIGHT_START/HIGHLIGHT_END."""

    message_id: int
    ticket_id: int
    contact_id: int | None
    sent_at: datetime
    snippet: str


@dataclass(frozen=True, slots=True)
class ContactHit:
    """A matching contact."""

    contact_id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Best matches first; both lists empty when the query had no searchable word."""

    messages: list[MessageHit] = field(default_factory=list)
    contacts: list[ContactHit] = field(default_factory=list)


class SearchRepo(Protocol):
    """The FTS5 queries, bound to one transaction (``app.store.repos_search``)."""

    def messages(self, match: str, scope: TicketScope, limit: int) -> list[MessageHit]: ...
    def contacts(self, match: str, scope: TicketScope, limit: int) -> list[ContactHit]: ...


SearchRepoFactory = Callable[[Tx], SearchRepo]


def match_expression(query: str) -> str | None:
    """The safe FTS5 ``MATCH`` expression for ``query``; None when it has no word to search.

    Raises ``input.invalid`` (field ``q``) for more than MAX_QUERY_CHARS characters or more
    than MAX_TOKENS words.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="q")
    tokens = _tokens(query)
    if len(tokens) > MAX_TOKENS:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="q")
    if not tokens:
        return None
    quoted = [f'"{token}"' for token in tokens]
    return " ".join(quoted) + "*"


def _tokens(query: str) -> list[str]:
    """Words of ``query`` (NFC, so combining accents stay inside their word), FTS operators
    and everything that is not a letter or digit dropped."""
    words = _WORD.findall(unicodedata.normalize("NFC", query))
    return [word for word in words if word not in OPERATORS]


class SearchService:
    """Search for staff (see the module docstring)."""

    def __init__(self, store: Store, auditor: Auditor, search_repo: SearchRepoFactory) -> None:
        self._store, self._auditor, self._repo = store, auditor, search_repo

    async def search(self, actor: Actor, query: str, limit: int = 50) -> SearchResults:
        """Messages and contacts matching ``query`` that ``actor`` may see, best first."""
        limit = clamp_limit(limit, MAX_LIMIT)
        match = match_expression(query)
        if match is None:
            return SearchResults()
        return await self._store.transaction(lambda tx: self._run(tx, actor, match, limit))

    def _run(self, tx: Tx, actor: Actor, match: str, limit: int) -> SearchResults:
        """Both queries in one transaction, audited with their counts."""
        scope, repo = scope_for(tx, actor), self._repo(tx)
        hits = repo.messages(match, scope, limit)
        found = SearchResults(hits, repo.contacts(match, scope, limit))
        counts = {"messages": len(found.messages), "contacts": len(found.contacts)}
        self._auditor.record(tx, actor, "search", AuditTarget(), **counts)
        return found
