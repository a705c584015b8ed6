"""Full-text search over message text and contact names (SQLite FTS5), scoped to what the
actor may see (:func:`app.services.ticket_access.scope_for`).

The FTS5 tables use ``unicode61 remove_diacritics 2``, so "conceicao" finds "Conceição" and
"ação" finds "acao". User text never reaches ``MATCH`` as typed: it is split into words, FTS
operators and punctuation are dropped, every word is quoted and the last one becomes a prefix
("joao conc" → ``"joao" "conc"*``). Each search is audited with its result counts only — the
query itself may contain patient data and is never stored.

A query made only of digits and phone punctuation, with at least MIN_PHONE_DIGITS digits, looks
for contacts by phone number instead of by name (a receptionist types what the patient says:
"(11) 98765-4321", "8765-4321", the last four digits). With its DDD the number is made canonical
the way inbound numbers are (the ninth digit restored) and matched whole; shorter, it matches
anywhere in a contact's numbers. Messages are still searched by their text.

Results are newest first (by message or contact id, like WhatsApp's search), with keyset
pagination: each list comes with a cursor (``before``: exclusive upper id bound) for its next
page. One call looks at no more than SCAN_WINDOW matches per list, so a reader who may see few
of them gets a short page (possibly empty) with a cursor rather than a long scan; only a None
cursor means the list is complete. The queries run on a read connection, never on the DB
writer; the audit row is written afterwards in its own short transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.identity import PHONE_TYPED, typed_phone
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Store, Tx
from app.services.ports_messaging import TicketScope
from app.services.ticket_access import clamp_limit, scope_for

MAX_QUERY_CHARS = 200
MAX_TOKENS = 12
MAX_LIMIT = 200
# Matches looked at per list and call. When few of them are visible, each costs a message and
# a ticket lookup: for a reader who sees none of them, 1,000 took up to ~50 ms on the
# 1,000,000-message benchmark store, 2,000 up to 90 ms (docs/PERFORMANCE.md, issue 4).
SCAN_WINDOW = 1_000
# Private-use code points: they never occur in real text, so a client can split on them safely.
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_WORD = re.compile(r"[^\W_]+")
MIN_PHONE_DIGITS = 4


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
    """A matching contact (with its phone number, when it has one)."""

    contact_id: int
    display_name: str
    phone_e164: str | None = None


@dataclass(frozen=True, slots=True)
class PhoneQuery:
    """A phone search: ``e164`` (a whole canonical number, matched exactly) when the digits
    were a full number, else ``digits`` matched anywhere in a contact's numbers."""

    digits: str
    e164: str | None = None


def phone_query(query: str) -> PhoneQuery | None:
    """The phone search ``query`` asks for; None when it is not a phone number (anything but
    digits and phone punctuation, or fewer than MIN_PHONE_DIGITS digits). A whole number
    (:func:`app.domain.identity.typed_phone`) is matched exactly."""
    if not PHONE_TYPED.fullmatch(query.strip() or "x"):
        return None
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return PhoneQuery(digits, typed_phone(query))


H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Page(Generic[H]):
    """Hits newest first; ``next_before`` continues the list (None: nothing more)."""

    hits: list[H]
    next_before: int | None = None


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Newest matches first; both lists empty when the query had no searchable word. A
    ``*_next_before`` cursor continues its list; None means that list is complete (or was not
    asked for)."""

    messages: list[MessageHit] = field(default_factory=list)
    contacts: list[ContactHit] = field(default_factory=list)
    messages_next_before: int | None = None
    contacts_next_before: int | None = None


@dataclass(frozen=True, slots=True)
class Cursors:
    """Where each list continues (exclusive id bounds). A request that continues only one list
    leaves the other one out, so paging through messages does not repeat the contacts."""

    messages: int | None = None
    contacts: int | None = None

    def wants(self) -> tuple[bool, bool]:
        """(list messages?, list contacts?): both on a first page, else the continued ones."""
        first = self.messages is None and self.contacts is None
        return first or self.messages is not None, first or self.contacts is not None


class SearchRepo(Protocol):
    """The FTS5 queries, bound to one transaction (``app.store.repos_search``); each looks at
    no more than ``window`` matches below ``before``."""

    def messages(
        self, match: str, scope: TicketScope, limit: int, before: int | None, window: int
    ) -> Page[MessageHit]: ...
    def contacts(
        self, match: str, scope: TicketScope, limit: int, before: int | None, window: int
    ) -> Page[ContactHit]: ...
    def contacts_by_phone(
        self, phone: PhoneQuery, scope: TicketScope, limit: int, before: int | None
    ) -> Page[ContactHit]: ...


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


@dataclass(frozen=True, slots=True)
class Wanted:
    """What one search looks for: the text match, the phone (if the query is one), the limit."""

    match: str
    phone: PhoneQuery | None
    limit: int


class SearchService:
    """Search for staff (see the module docstring)."""

    def __init__(self, store: Store, auditor: Auditor, search_repo: SearchRepoFactory) -> None:
        self._store, self._auditor, self._repo = store, auditor, search_repo

    async def search(
        self, actor: Actor, query: str, limit: int = 50, cursors: Cursors | None = None
    ) -> SearchResults:
        """Messages and contacts matching ``query`` that ``actor`` may see, newest first,
        continuing from ``cursors`` (see :class:`Cursors`); audited with the counts only."""
        limit = clamp_limit(limit, MAX_LIMIT)
        match = match_expression(query)
        if match is None:
            return SearchResults()
        where, phone = cursors or Cursors(), phone_query(query)
        found = await self._store.read(
            lambda tx: self._find(tx, actor, Wanted(match, phone, limit), where)
        )
        # Results leave only once their audit row is committed (a failed audit fails the search).
        await self._store.transaction(lambda tx: self._audit(tx, actor, found))
        return found

    def _find(self, tx: Tx, actor: Actor, wanted: Wanted, cursors: Cursors) -> SearchResults:
        """Both queries, on one read transaction (one snapshot)."""
        scope, repo = scope_for(tx, actor), self._repo(tx)
        want_messages, want_contacts = cursors.wants()
        msgs: Page[MessageHit] = Page([])
        people: Page[ContactHit] = Page([])
        if want_messages:
            msgs = repo.messages(wanted.match, scope, wanted.limit, cursors.messages, SCAN_WINDOW)
        if want_contacts:
            people = self._contacts(repo, scope, wanted, cursors.contacts)
        return SearchResults(msgs.hits, people.hits, msgs.next_before, people.next_before)

    @staticmethod
    def _contacts(
        repo: SearchRepo, scope: TicketScope, wanted: Wanted, before: int | None
    ) -> Page[ContactHit]:
        """Contacts by phone number for a phone query, else by name."""
        if wanted.phone is not None:
            return repo.contacts_by_phone(wanted.phone, scope, wanted.limit, before)
        return repo.contacts(wanted.match, scope, wanted.limit, before, SCAN_WINDOW)

    def _audit(self, tx: Tx, actor: Actor, found: SearchResults) -> None:
        """One ``search`` audit row with the page's counts (never the query)."""
        counts = {"messages": len(found.messages), "contacts": len(found.contacts)}
        self._auditor.record(tx, actor, "search", AuditTarget(), **counts)
