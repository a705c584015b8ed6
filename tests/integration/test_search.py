"""Full-text search on a real SQLCipher store: accent-insensitive both ways, prefix search,
operator injection that never raises nor widens results, the visibility matrix, and an audit
row that carries counts but never the query. Messages arrive through the inbound pipeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor, Role
from app.services.audit import Auditor
from app.services.queues import QueueService
from app.services.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    SearchResults,
    SearchService,
    match_expression,
)
from app.store.repos_search import search_repo
from tests.helpers.messaging import Desk, make_desk, patient
from tests.integration.conftest import FakeClock, Installation, build_installation

# patient number, desk, menu choice (None: single queue), push name, text
CONVERSATIONS = (
    (1, "centro", "1", "João Conceição", "Quero marcar exame do coração"),
    (2, "centro", "2", "Maria Acao", "Sobre o exame da acao trabalhista"),
    (4, "sul", None, "Pedro Souza", "exame de sangue amanhã"),
)


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
    service = SearchService(inst.core.store, Auditor(clock), search_repo)
    return World(inst, desks["centro"], service, actors, tickets, contacts)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the module: searching only appends audit rows."""
    built = asyncio.run(build_world(tmp_path_factory.mktemp("search")))
    yield built
    built.inst.core.close()


async def find(world: World, who: str, query: str) -> SearchResults:
    return await world.search.search(world.actors[who], query)


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
    assert found["contacts"] == [{"contact_id": world.contacts["B"], "display_name": "Maria Acao"}]
    assert (too_long.status_code, anonymous.status_code) == (400, 401)
