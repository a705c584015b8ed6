"""Full-text search on a real SQLCipher store: accent-insensitive both ways, prefix search,
operator injection that never raises nor widens results, the visibility matrix, and an audit
row that carries counts but never the query. Messages arrive through the inbound pipeline."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from app.api.app import create_app
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor, Role
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Tx
from app.services.queues import QueueService
from app.services.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    Cursors,
    MessageHit,
    Page,
    SearchRepo,
    SearchResults,
    SearchService,
    match_expression,
)
from app.services.ticket_access import scope_for
from app.store.repos_search import SearchSql, search_repo
from app.store.repositories import SqlTx
from tests.helpers.messaging import Desk, make_desk, patient
from tests.integration.conftest import FakeClock, Installation, build_installation

# patient number, desk, menu choice (None: single queue), push name, text
CONVERSATIONS = (
    (1, "centro", "1", "João Conceição", "Quero marcar exame do coração"),
    (2, "centro", "2", "Maria Acao", "Sobre o exame da acao trabalhista"),
    (4, "sul", None, "Pedro Souza", "exame de sangue amanhã"),
)
# Two more Centro patients, in queue A (5) and queue B (6), alternating "retorno" messages: for
# the order and the paging tests (no other message or name contains "retorno").
RETORNO = ((5, "1", "Ana Retorno"), (6, "2", "Bia Retorno"))
RETORNO_MESSAGES = 8


@dataclass
class World:
    """Centro: queues A and B with receptionists rec.a and rec.b, and a supervisor; Sul: one
    queue and rec.sul. One patient per queue (A, B, sul), each with an "exame" message."""

    inst: Installation
    centro: Desk
    search: SearchService
    actors: dict[str, Actor]
    tickets: dict[str, int]
    contacts: dict[str, int]


async def _add_queues(inst: Installation, actors: dict[str, Actor], clock: FakeClock) -> None:
    queues = QueueService(inst.core.store, clock, Auditor(clock))
    root, ids = inst.super_admin, inst.branch_ids
    qa = await queues.create(root, ids["Centro"], "A", menu_order=1)
    qb = await queues.create(root, ids["Centro"], "B", menu_order=2)
    qs = await queues.create(root, ids["Sul"], "S")
    for name, queue in (("rec.a", qa), ("rec.b", qb), ("rec.sul", qs)):
        user_id = actors[name].user_id
        assert user_id is not None
        await queues.add_member(root, queue.id, user_id)


async def _converse(
    desk: Desk, n: int, choice: str | None, name: str, text: str
) -> tuple[int, int]:
    """Ingest ``text`` (and the menu choice); the (ticket id, contact id) it landed in."""
    await desk.ingest(desk.event(patient(n), text, push_name=name))
    if choice:
        await desk.ingest(desk.event(patient(n), choice, push_name=name))
    (first, *_) = await desk.rows("messages", chat_jid=patient(n), direction="in")
    return int(first.ticket_id), int(first.contact_id)


async def _add_retorno(desk: Desk) -> None:
    """RETORNO_MESSAGES messages alternating between the two RETORNO patients."""
    for k in range(RETORNO_MESSAGES):
        n, choice, name = RETORNO[k % 2]
        await desk.ingest(desk.event(patient(n), f"retorno numero {k}", push_name=name))
        if k < len(RETORNO):
            await desk.ingest(desk.event(patient(n), choice, push_name=name))


async def build_world(root: Path) -> World:
    inst = await build_installation(root / "data", root / "keys", staff=False)
    clock = FakeClock()
    actors = {
        "rec.a": await inst.add_staff(Role.RECEPTIONIST, "Centro", "rec.a"),
        "rec.b": await inst.add_staff(Role.RECEPTIONIST, "Centro", "rec.b"),
        "sup": await inst.add_staff(Role.SUPERVISOR, "Centro", "sup.centro"),
        "rec.sul": await inst.add_staff(Role.RECEPTIONIST, "Sul", "rec.sul"),
        "root": inst.super_admin,
    }
    await _add_queues(inst, actors, clock)
    desks = {"centro": await make_desk(inst, clock), "sul": await make_desk(inst, clock, "Sul")}
    tickets, contacts = {}, {}
    for key, (n, desk, choice, name, text) in zip(("A", "B", "sul"), CONVERSATIONS, strict=True):
        tickets[key], contacts[key] = await _converse(desks[desk], n, choice, name, text)
    await _add_retorno(desks["centro"])
    service = SearchService(inst.core.store, Auditor(clock), search_repo)
    return World(inst, desks["centro"], service, actors, tickets, contacts)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the module: searching only appends audit rows."""
    built = asyncio.run(build_world(tmp_path_factory.mktemp("search")))
    yield built
    built.inst.core.close()


async def find(
    world: World, who: str, query: str, limit: int = 50, cursors: Cursors | None = None
) -> SearchResults:
    return await world.search.search(world.actors[who], query, limit, cursors)


def tickets_of(found: SearchResults) -> set[int]:
    return {hit.ticket_id for hit in found.messages}


def contacts_of(found: SearchResults) -> set[int]:
    return {hit.contact_id for hit in found.contacts}


# ---- matching -----------------------------------------------------------------------------


def test_user_text_becomes_quoted_tokens_with_a_final_prefix() -> None:
    assert match_expression("joao conc") == '"joao" "conc"*'
    assert match_expression('a" OR b* NEAR(c) -d col:e') == '"a" "b" "c" "d" "col" "e"*'
    assert match_expression(" \"'*-:()") is None


@pytest.mark.parametrize(
    ("query", "ticket", "contact"),
    [
        ("conceicao", None, "A"),  # typed without accents, stored with them
        ("CONCEIÇÃO", None, "A"),
        ("ação", "B", "B"),  # typed with accents, stored without
        ("coracao", "A", None),
        ("joao conc", None, "A"),  # prefix on the last word
        ("exame sangu", "sul", None),
        ("exa sangue", None, None),  # only the last word is a prefix
    ],
)
async def test_accent_insensitive_and_prefix(
    world: World, query: str, ticket: str | None, contact: str | None
) -> None:
    found = await find(world, "root", query)
    assert tickets_of(found) == ({world.tickets[ticket]} if ticket else set())
    assert contacts_of(found) == ({world.contacts[contact]} if contact else set())


async def test_snippet_highlights_the_match(world: World) -> None:
    (hit,) = (await find(world, "root", "coracao")).messages
    assert f"{HIGHLIGHT_START}coração{HIGHLIGHT_END}" in hit.snippet
    assert hit.contact_id == world.contacts["A"]


@pytest.mark.parametrize("query", ["", "   ", "\"'*-:()", "OR AND NOT NEAR"])
async def test_an_empty_query_finds_nothing(world: World, query: str) -> None:
    assert await find(world, "root", query) == SearchResults()


@pytest.mark.parametrize("query", ["x" * 201, " ".join(["exame"] * 13)])
async def test_a_too_long_query_is_invalid_input(world: World, query: str) -> None:
    with pytest.raises(ClinicDeskError) as caught:
        await find(world, "root", query)
    assert (caught.value.code, caught.value.params) == (ErrorCode.INVALID_INPUT, {"field": "q"})


# ---- scoping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("rec.a", {"A"}),
        ("rec.b", {"B"}),
        ("sup", {"A", "B"}),
        ("rec.sul", {"sul"}),
        ("root", {"A", "B", "sul"}),
    ],
)
async def test_results_are_scoped_to_what_the_actor_may_see(
    world: World, who: str, expected: set[str]
) -> None:
    assert tickets_of(await find(world, who, "exame")) == {world.tickets[k] for k in expected}
    names = await find(world, who, "conceicao acao souza")  # no name has all three
    assert names.contacts == []
    for key, name in zip(("A", "B", "sul"), ("joão", "maria", "pedro"), strict=True):
        visible = contacts_of(await find(world, who, name)) == {world.contacts[key]}
        assert visible == (key in expected)


@pytest.mark.parametrize(
    "query",
    [
        'exame"',
        '"exame',
        "exame OR sangue",
        "exame OR acao",
        "NEAR(exame acao)",
        "exame*",
        "*",
        "-exame",
        "exame -coracao",
        "body:exame",
        "messages_fts:exame",
        "(exame",
        "exame) OR (acao",
        "exame AND NOT coracao",
        "^exame",
        "exame + acao",
        "{body}: exame",
    ],
)
async def test_operator_injection_never_raises_nor_widens(world: World, query: str) -> None:
    found = await find(world, "rec.a", query)
    assert tickets_of(found) <= {world.tickets["A"]}
    assert contacts_of(found) <= {world.contacts["A"]}


# ---- by phone number ----------------------------------------------------------------------

PHONE_A, PHONE_B = "+5511987000001", "+5511987000002"  # tests.helpers.messaging.patient(1), (2)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("(11) 98700-0001", {"A"}),  # as written on a form
        ("11 8700-0001", {"A"}),  # the old 8-digit mobile: the ninth digit is restored
        ("+55 11 98700-0001", {"A"}),
        ("011 98700 0001", {"A"}),  # with the long-distance trunk 0
        ("0001", {"A"}),  # the last four digits
        ("(21) 98700-0001", set()),  # same local number, another DDD: a different patient
    ],
)
async def test_contacts_are_found_by_phone_number(
    world: World, query: str, expected: set[str]
) -> None:
    found = await find(world, "root", query)
    assert contacts_of(found) == {world.contacts[k] for k in expected}


async def test_a_piece_of_a_number_matches_anywhere_in_it_newest_first(world: World) -> None:
    found = await find(world, "root", "8700000")  # every test patient's number holds it
    names = [hit.display_name for hit in found.contacts]
    assert names == ["Bia Retorno", "Ana Retorno", "Pedro Souza", "Maria Acao", "João Conceição"]
    assert found.contacts_next_before is None
    first = await find(world, "root", "8700000", limit=2)
    assert [hit.display_name for hit in first.contacts] == names[:2]
    cursor = first.contacts_next_before
    rest = await find(world, "root", "8700000", limit=10, cursors=Cursors(contacts=cursor))
    assert [hit.display_name for hit in rest.contacts] == names[2:]


async def test_a_phone_search_is_scoped_like_a_name_search(world: World) -> None:
    assert contacts_of(await find(world, "rec.a", "(11) 98700-0001")) == {world.contacts["A"]}
    assert contacts_of(await find(world, "rec.b", "(11) 98700-0001")) == set()
    assert contacts_of(await find(world, "rec.sul", "98700-000")) == {world.contacts["sul"]}


async def test_contact_hits_carry_the_number(world: World) -> None:
    (by_name,) = (await find(world, "root", "Conceição")).contacts
    (by_phone,) = (await find(world, "root", "11 98700-0001")).contacts
    assert by_name == by_phone
    assert (by_name.display_name, by_name.phone_e164) == ("João Conceição", PHONE_A)


# ---- audit --------------------------------------------------------------------------------


async def test_each_search_is_audited_with_counts_not_the_query(world: World) -> None:
    found = await find(world, "rec.a", "Conceição")
    assert (len(found.messages), len(found.contacts)) == (0, 1)
    last = (await world.centro.rows("audit_log"))[-1]
    assert (last.action, last.actor_name) == ("search", "rec.a")
    assert json.loads(last.details) == {"messages": 0, "contacts": 1}
    assert "concei" not in json.dumps([str(v) for v in last._mapping.values()]).lower()


# ---- API ----------------------------------------------------------------------------------


async def test_the_search_endpoint(world: World) -> None:
    app = create_app(world.inst.core)
    transport = httpx.ASGITransport(app=app)
    token = world.inst.core.tokens.issue(world.actors["rec.b"].user_id)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        found = (await api.get("/search", params={"q": "acao"}, headers=headers)).json()
        too_long = await api.get("/search", params={"q": "x" * 201}, headers=headers)
        anonymous = await api.get("/search", params={"q": "acao"})
    assert [m["ticket_id"] for m in found["messages"]] == [world.tickets["B"]]
    assert found["contacts"] == [
        {"contact_id": world.contacts["B"], "display_name": "Maria Acao", "phone_e164": PHONE_B}
    ]
    assert (too_long.status_code, anonymous.status_code) == (400, 401)


# ---- order and paging ---------------------------------------------------------------------


def message_ids(found: SearchResults) -> list[int]:
    return [hit.message_id for hit in found.messages]


async def all_pages(world: World, who: str, query: str, limit: int) -> list[SearchResults]:
    """Every page of the message list, following ``messages_next_before`` to the end."""
    pages = [await find(world, who, query, limit)]
    while (cursor := pages[-1].messages_next_before) is not None:
        pages.append(await find(world, who, query, limit, Cursors(messages=cursor)))
    return pages


async def test_messages_and_contacts_are_newest_first(world: World) -> None:
    found = await find(world, "root", "retorno")
    ids = message_ids(found)
    assert len(ids) == RETORNO_MESSAGES
    assert ids == sorted(ids, reverse=True)
    assert [hit.snippet.split()[-1] for hit in found.messages] == [
        str(k) for k in reversed(range(RETORNO_MESSAGES))
    ]
    names = [hit.display_name for hit in found.contacts]
    assert names == ["Bia Retorno", "Ana Retorno"]  # Bia wrote after Ana: the newer contact
    assert (found.messages_next_before, found.contacts_next_before) == (None, None)


async def test_keyset_pages_cover_every_message_once(world: World) -> None:
    whole = message_ids(await find(world, "root", "retorno"))
    pages = await all_pages(world, "root", "retorno", limit=3)
    assert [len(page.messages) for page in pages] == [3, 3, 2]
    assert [i for page in pages for i in message_ids(page)] == whole
    # continuing the message list leaves the contacts out (they came with the first page)
    assert [page.contacts for page in pages[1:]] == [[], []]


async def test_contacts_page_on_their_own_cursor(world: World) -> None:
    first = await find(world, "root", "retorno", limit=1)
    cursor = Cursors(contacts=first.contacts_next_before)
    second = await find(world, "root", "retorno", limit=1, cursors=cursor)
    names = [hit.display_name for page in (first, second) for hit in page.contacts]
    assert names == ["Bia Retorno", "Ana Retorno"]
    assert (second.messages, second.contacts_next_before) == ([], None)


def _narrow_pages(tx: Tx, actor: Actor, window: int) -> list[Page[MessageHit]]:
    """Every page of ``actor``'s "retorno" messages with a tiny scan window."""
    repo, scope = SearchSql(tx.conn), scope_for(tx, actor)
    match = match_expression("retorno")
    assert match is not None
    pages = [repo.messages(match, scope, 2, None, window)]
    while (cursor := pages[-1].next_before) is not None:
        pages.append(repo.messages(match, scope, 2, cursor, window))
    return pages


async def test_a_narrow_scope_continues_below_a_bounded_window(world: World) -> None:
    """rec.b sees every other "retorno" message; with a window of 2 matches a page holds one
    hit (short of the limit of 2) and a cursor to continue below the window."""
    visible = message_ids(await find(world, "rec.b", "retorno"))
    assert len(visible) == RETORNO_MESSAGES // 2
    actor = world.actors["rec.b"]
    pages = await world.inst.core.store.read(lambda tx: _narrow_pages(tx, actor, 2))
    assert [h.message_id for page in pages for h in page.hits] == visible
    # The fourth window is exactly full, so a fifth call is needed to learn that nothing is left.
    assert [len(page.hits) for page in pages] == [1, 1, 1, 1, 0]


def _plans(tx: Tx, actor: Actor) -> list[str]:
    """EXPLAIN QUERY PLAN of every statement one message and contact search runs."""
    assert isinstance(tx, SqlTx)
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        seen.append((args[2], args[3]))  # statement, parameters

    event.listen(tx.conn, "before_cursor_execute", capture)
    repo, scope = SearchSql(tx.conn), scope_for(tx, actor)
    repo.messages('"retorno"*', scope, 2, None, 4)
    repo.contacts('"retorno"*', scope, 2, None, 4)
    event.remove(tx.conn, "before_cursor_execute", capture)
    raw = tx.conn.connection.driver_connection
    assert raw is not None
    return [
        " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        for sql, params in seen
    ]


@pytest.mark.parametrize("who", ["rec.a", "root"])
async def test_searches_are_descending_fts_scans_without_a_sort(world: World, who: str) -> None:
    actor = world.actors[who]
    plans = await world.inst.core.store.read(lambda tx: _plans(tx, actor))
    fts_scans = [p for p in plans if "_fts VIRTUAL TABLE" in p]
    assert len(fts_scans) == 4  # window + page, for messages and for contacts
    assert not [p for p in plans if "TEMP B-TREE" in p]  # ORDER BY served by the FTS scan
    # every FTS scan carries a rowid bound: without one FTS5 reverses a whole prefix doclist
    assert all(":M1<" in p for p in fts_scans)


# ---- the writer stays free ----------------------------------------------------------------


class HeldRepo:
    """A search repo that waits inside the message query until the test lets it go."""

    def __init__(
        self, inner: SearchRepo, held: tuple[threading.Event, threading.Event], order: list[str]
    ) -> None:
        self._inner, (self._entered, self._go), self._order = inner, held, order

    def messages(self, *args: Any) -> Page[MessageHit]:
        self._entered.set()
        self._go.wait(timeout=30)  # a safety net only: the test sets it
        self._order.append("search released")
        return self._inner.messages(*args)

    def contacts(self, *args: Any) -> Any:
        return self._inner.contacts(*args)

    def contacts_by_phone(self, *args: Any) -> Any:
        return self._inner.contacts_by_phone(*args)


def _write(tx: Tx, actor: Actor, order: list[str]) -> None:
    Auditor(FakeClock()).record(tx, actor, "test.write", AuditTarget())
    order.append("write")


async def test_a_running_search_does_not_hold_the_writer(world: World) -> None:
    """A write commits while a search is held inside its query: the search runs on a reader.
    (Were it on the writer, the write would queue behind it and come second.)"""
    entered, go = threading.Event(), threading.Event()
    order: list[str] = []
    store = world.inst.core.store
    held = SearchService(
        store, Auditor(FakeClock()), lambda tx: HeldRepo(search_repo(tx), (entered, go), order)
    )
    search = asyncio.create_task(held.search(world.actors["root"], "retorno"))
    assert await asyncio.to_thread(entered.wait, 30)
    await store.transaction(lambda tx: _write(tx, world.actors["root"], order))
    go.set()
    found = await search
    assert order == ["write", "search released"]
    assert len(found.messages) == RETORNO_MESSAGES
    last = (await world.centro.rows("audit_log"))[-1]
    assert (last.action, json.loads(last.details)) == ("search", {"messages": 8, "contacts": 2})


async def test_the_search_endpoint_pages_with_cursors(world: World) -> None:
    app = create_app(world.inst.core)
    transport = httpx.ASGITransport(app=app)
    token = world.inst.core.tokens.issue(world.actors["root"].user_id)
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, Any] = {"q": "retorno", "limit": 5}
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        first = (await api.get("/search", params=params, headers=headers)).json()
        params["before"] = first["messages_next_before"]
        second = (await api.get("/search", params=params, headers=headers)).json()
        bad = await api.get("/search", params={"q": "retorno", "before": 0}, headers=headers)
    ids = [m["message_id"] for page in (first, second) for m in page["messages"]]
    assert ids == message_ids(await find(world, "root", "retorno"))
    assert (len(first["contacts"]), second["contacts"], second["messages_next_before"]) == (
        2,
        [],
        None,
    )
    assert bad.status_code == 400
