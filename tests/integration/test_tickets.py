"""The ticket desk on a real store: the visibility matrix, ticket actions, tags, notes, quick
replies, keyset pages and contact merges. Tickets are made by the real inbound pipeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from app.domain.errors import AccessDeniedError, ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Role
from app.services.audit import Auditor
from app.services.contacts_merge import ContactMergeService
from app.services.queues import QueueChange, QueueService
from app.services.ticket_events import TicketChanged
from app.services.tickets import TicketFilters, TicketService
from tests.helpers.messaging import Desk, make_desk, patient
from tests.integration.conftest import FakeClock, Installation, build_installation


@dataclass
class World:
    """Centro: queues A and B (1, 2 in the menu), receptionists rec.a (A) and rec.b (B), a
    supervisor; Sul: one queue and its receptionist. Tickets: one in A, one in B, one still
    waiting for the menu in Centro, one in Sul."""

    inst: Installation
    centro: Desk
    sul: Desk
    tickets: TicketService
    queues: QueueService
    merge: ContactMergeService
    actors: dict[str, Actor]
    queue_ids: dict[str, int]
    ticket_ids: dict[str, int]


async def _ticket_of(desk: Desk, chat: str) -> int:
    rows = list(await desk.rows("tickets", channel_id=desk.channel_id))
    contact = (await desk.rows("messages", chat_jid=chat, direction="in"))[0].contact_id
    return int(next(t.id for t in rows if t.contact_id == contact))


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
    core, auditor = inst.core, Auditor(clock)
    queues = QueueService(core.store, clock, auditor)
    centro, sul = await make_desk(inst, clock), await make_desk(inst, clock, "Sul")
    root_actor, ids = inst.super_admin, inst.branch_ids
    qa = await queues.create(root_actor, ids["Centro"], "A", greeting="Olá {nome}", menu_order=1)
    qb = await queues.create(root_actor, ids["Centro"], "B", menu_order=2)
    qs = await queues.create(root_actor, ids["Sul"], "S")
    for name, queue in (("rec.a", qa), ("rec.b", qb), ("rec.sul", qs)):
        await queues.add_member(root_actor, queue.id, _uid(actors[name]))
    for n, choice in ((1, "1"), (2, "2"), (3, None)):
        await centro.ingest(centro.event(patient(n), "Oi"))
        if choice:
            await centro.ingest(centro.event(patient(n), choice))
    await sul.ingest(sul.event(patient(4), "Oi"))
    ticket_ids = {
        "A": await _ticket_of(centro, patient(1)),
        "B": await _ticket_of(centro, patient(2)),
        "unqueued": await _ticket_of(centro, patient(3)),
        "sul": await _ticket_of(sul, patient(4)),
    }
    service = TicketService(core.store, clock, auditor, core.bus)
    merge = ContactMergeService(core.store, clock, auditor)
    queue_ids = {"A": qa.id, "B": qb.id, "S": qs.id}
    return World(inst, centro, sul, service, queues, merge, actors, queue_ids, ticket_ids)


def _uid(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Read-only tests share one world (reads write audit rows, nothing else)."""
    world = asyncio.run(build_world(tmp_path_factory.mktemp("tickets")))
    yield world
    world.inst.core.close()


@pytest.fixture
async def world(tmp_path: Path, key_dir: Path) -> AsyncIterator[World]:
    built = await build_world(tmp_path / "w")
    yield built
    built.inst.core.close()


async def visible_ids(world: World, who: str, **filters: object) -> set[int]:
    page = await world.tickets.list(world.actors[who], TicketFilters(**filters))  # type: ignore[arg-type]
    return {t.id for t in page.items}


# ---- visibility matrix --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("rec.a", {"A", "unqueued"}),
        ("rec.b", {"B", "unqueued"}),
        ("sup", {"A", "B", "unqueued"}),
        ("rec.sul", {"sul"}),
        ("root", {"A", "B", "unqueued", "sul"}),
    ],
)
async def test_listing_shows_only_what_the_actor_may_see(
    shared: World, who: str, expected: set[str]
) -> None:
    assert await visible_ids(shared, who) == {shared.ticket_ids[k] for k in expected}


@pytest.mark.parametrize(
    ("who", "ticket", "error"),
    [
        ("rec.a", "B", AccessDeniedError),  # same branch, another queue
        ("rec.b", "A", AccessDeniedError),
        ("rec.a", "sul", NotFoundError),  # another branch: not even revealed
        ("sup", "sul", NotFoundError),
        ("rec.sul", "A", NotFoundError),
    ],
)
async def test_cross_queue_and_cross_branch_reads_are_refused(
    shared: World, who: str, ticket: str, error: type[Exception]
) -> None:
    actor, ticket_id = shared.actors[who], shared.ticket_ids[ticket]
    with pytest.raises(error):
        await shared.tickets.get(actor, ticket_id)
    with pytest.raises(error):
        await shared.tickets.messages(actor, ticket_id)
    with pytest.raises(error):
        await shared.tickets.add_note(actor, ticket_id, "x")


async def test_reading_a_conversation_is_audited(shared: World) -> None:
    page = await shared.tickets.messages(shared.actors["rec.a"], shared.ticket_ids["A"])
    assert [m.body for m in page.items if m.direction == "in"] == ["1", "Oi"]
    reads = await shared.centro.rows("audit_log", action="ticket.read")
    assert reads[-1].actor_name == "rec.a"
    assert reads[-1].object_id == str(shared.ticket_ids["A"])


async def test_receptionists_can_be_denied_unqueued_tickets(world: World) -> None:
    await world.centro.set_setting(
        "unqueued_visible_to_receptionists", "false", world.centro.clock.now()
    )
    assert await visible_ids(world, "rec.a") == {world.ticket_ids["A"]}
    assert world.ticket_ids["unqueued"] in await visible_ids(world, "sup")


# ---- actions -----------------------------------------------------------------------------


async def test_accepting_ends_a_pending_menu_and_the_bot_stays_quiet(world: World) -> None:
    sup, ticket_id, centro = world.actors["sup"], world.ticket_ids["unqueued"], world.centro
    view = await world.tickets.accept(sup, ticket_id)
    assert (view.status, view.queue_id) == ("open", None)
    replies = await centro.count("messages", direction="out")
    centro.clock.advance(timedelta(minutes=10))
    await centro.ingest(centro.event(patient(3), "2"))  # an answer to the person, not a menu
    (ticket,) = [t for t in await centro.rows("tickets") if t.id == ticket_id]
    assert (ticket.awaiting_menu, ticket.queue_id, ticket.status) == (False, None, "open")
    assert await centro.count("messages", direction="out") == replies


async def test_accept_resolve_reopen(world: World) -> None:
    rec, ticket_id = world.actors["rec.a"], world.ticket_ids["A"]
    view = await world.tickets.accept(rec, ticket_id)
    assert (view.status, view.assignee_id) == ("open", rec.user_id)
    assert view.accepted_at is not None
    with pytest.raises(ClinicDeskError):
        await world.tickets.accept(rec, ticket_id)
    assert (await world.tickets.resolve(rec, ticket_id)).status == "closed"
    assert (await world.tickets.reopen(rec, ticket_id)).status == "open"
    changes = [e.action for e in world.centro.events if isinstance(e, TicketChanged)]
    assert changes == ["ticket.accept", "ticket.resolve", "ticket.reopen"]
    actions = [r.action for r in await world.centro.rows("audit_log", object_type="ticket")]
    assert actions[-3:] == ["ticket.accept", "ticket.resolve", "ticket.reopen"]


async def test_transfer_to_another_queue_moves_visibility(world: World) -> None:
    rec_a, rec_b, ticket_id = world.actors["rec.a"], world.actors["rec.b"], world.ticket_ids["A"]
    await world.tickets.accept(rec_a, ticket_id)
    view = await world.tickets.transfer(rec_a, ticket_id, world.queue_ids["B"], None)
    assert (view.status, view.queue_id, view.assignee_id) == ("pending", world.queue_ids["B"], None)
    with pytest.raises(AccessDeniedError):
        await world.tickets.get(rec_a, ticket_id)
    assert (await world.tickets.get(rec_b, ticket_id)).ticket.id == ticket_id


async def test_transfer_to_a_person_checks_branch_and_queue(world: World) -> None:
    sup, ticket_id = world.actors["sup"], world.ticket_ids["A"]
    with pytest.raises(ClinicDeskError):  # rec.b is not in queue A
        await world.tickets.transfer(sup, ticket_id, None, _uid(world.actors["rec.b"]))
    with pytest.raises(NotFoundError):  # rec.sul is not in this branch
        await world.tickets.transfer(sup, ticket_id, None, _uid(world.actors["rec.sul"]))
    with pytest.raises(NotFoundError):  # a queue of another branch
        await world.tickets.transfer(sup, ticket_id, world.queue_ids["S"], None)
    view = await world.tickets.transfer(
        sup, ticket_id, world.queue_ids["B"], _uid(world.actors["rec.b"])
    )
    assert (view.queue_id, view.assignee_id) == (
        world.queue_ids["B"],
        world.actors["rec.b"].user_id,
    )


async def test_reopen_is_refused_while_another_ticket_is_active(world: World) -> None:
    sup, ticket_id = world.actors["sup"], world.ticket_ids["unqueued"]
    await world.tickets.resolve(sup, ticket_id)
    world.centro.clock.advance(timedelta(hours=3))
    await world.centro.ingest(world.centro.event(patient(3), "Oi de novo"))
    with pytest.raises(ClinicDeskError):
        await world.tickets.reopen(sup, ticket_id)


async def test_tags_and_the_tag_filter(world: World) -> None:
    rec, ticket_id = world.actors["rec.a"], world.ticket_ids["A"]
    assert await world.tickets.add_tag(rec, ticket_id, "Retorno") == ["retorno"]
    assert await world.tickets.add_tag(rec, ticket_id, "urgente") == ["retorno", "urgente"]
    assert await visible_ids(world, "sup", tag="urgente") == {ticket_id}
    assert await world.tickets.remove_tag(rec, ticket_id, "urgente") == ["retorno"]
    assert await visible_ids(world, "sup", tag="urgente") == set()


async def test_notes_are_internal(world: World) -> None:
    rec, ticket_id = world.actors["rec.a"], world.ticket_ids["A"]
    outbox_before = await world.centro.count("outbox")
    await world.tickets.add_note(rec, ticket_id, "Paciente prefere ligação à tarde")
    detail = await world.tickets.get(world.actors["sup"], ticket_id)
    assert [n.body for n in detail.notes] == ["Paciente prefere ligação à tarde"]
    assert await world.centro.count("outbox") == outbox_before
    assert await world.centro.count("messages", body="Paciente prefere ligação à tarde") == 0


async def test_quick_replies_with_placeholders(world: World) -> None:
    sup, rec, centro = world.actors["sup"], world.actors["rec.a"], world.inst.branch_ids["Centro"]
    body = "Olá {primeiro_nome}, aqui é da {clinica}. Sou {atendente}. {desconhecido}"
    await world.tickets.add_quick_reply(sup, centro, "/Retorno", body)
    with pytest.raises(AccessDeniedError):
        await world.tickets.add_quick_reply(rec, centro, "/outra", "x")
    assert [q.shortcut for q in await world.tickets.quick_replies(rec, centro)] == ["retorno"]
    text = await world.tickets.render_quick_reply(rec, world.ticket_ids["A"], "/retorno")
    assert text == "Olá Maria, aqui é da Centro. Sou Rec.A. {desconhecido}"


async def test_a_quick_reply_is_changed_and_removed_by_its_branch_only(world: World) -> None:
    sup, rec, centro = world.actors["sup"], world.actors["rec.a"], world.inst.branch_ids["Centro"]
    made = await world.tickets.add_quick_reply(sup, centro, "/retorno", "Até breve, {nome}")
    other = await world.tickets.add_quick_reply(sup, centro, "/endereco", "Rua A, 10")
    changed = await world.tickets.change_quick_reply(sup, made.id, "/Volta", "Até logo, {nome}")
    assert (changed.shortcut, changed.body) == ("volta", "Até logo, {nome}")
    listed = await world.tickets.quick_replies(rec, centro)
    assert [(q.shortcut, q.body) for q in listed] == [
        ("endereco", "Rua A, 10"), ("volta", "Até logo, {nome}"),
    ]  # fmt: skip
    with pytest.raises(ClinicDeskError) as clash:
        await world.tickets.change_quick_reply(sup, made.id, "endereco", "x")
    assert clash.value.code is ErrorCode.ALREADY_EXISTS
    with pytest.raises(AccessDeniedError):  # receptionists use replies, they do not edit them
        await world.tickets.change_quick_reply(rec, made.id, "volta", "x")
    with pytest.raises(NotFoundError):  # another branch's reply is not even revealed
        await world.tickets.remove_quick_reply(world.actors["rec.sul"], other.id)
    await world.tickets.remove_quick_reply(sup, other.id)
    assert [q.shortcut for q in await world.tickets.quick_replies(rec, centro)] == ["volta"]
    with pytest.raises(NotFoundError):
        await world.tickets.remove_quick_reply(sup, other.id)


async def test_quick_reply_changes_are_audited_without_their_text(world: World) -> None:
    sup, centro = world.actors["sup"], world.inst.branch_ids["Centro"]
    made = await world.tickets.add_quick_reply(sup, centro, "/retorno", "Texto antigo")
    await world.tickets.change_quick_reply(sup, made.id, "retorno", "Texto novo")
    await world.tickets.remove_quick_reply(sup, made.id)
    rows = await world.centro.rows("audit_log", object_type="quick_reply")
    assert [(r.action, json.loads(r.details)) for r in rows] == [
        ("quick_reply.add", {}),
        ("quick_reply.change", {"fields": ["body"]}),
        ("quick_reply.remove", {}),
    ]
    assert not any("Texto" in r.details for r in rows)


async def test_a_queue_is_changed_and_its_members_listed_by_admins_only(world: World) -> None:
    root, qa, qb = world.actors["root"], world.queue_ids["A"], world.queue_ids["B"]
    change = QueueChange(name="Agendamento", greeting="", menu_order=3, color="#10B981")
    changed = await world.queues.change(root, qa, change)
    assert (changed.name, changed.greeting, changed.menu_order, changed.color) == (
        "Agendamento", None, 3, "#10B981",
    )  # fmt: skip
    centro = world.inst.branch_ids["Centro"]
    assert [q.name for q in await world.queues.list(root, centro)] == ["B", "Agendamento"]
    with pytest.raises(ClinicDeskError) as clash:
        await world.queues.change(root, qb, QueueChange(name="agendamento"))
    assert clash.value.code is ErrorCode.ALREADY_EXISTS
    with pytest.raises(ClinicDeskError) as bad:
        await world.queues.change(root, qb, QueueChange(color="azul"))
    assert bad.value.params["field"] == "color"
    with pytest.raises(AccessDeniedError):
        await world.queues.change(world.actors["sup"], qa, QueueChange(name="X"))
    with pytest.raises(NotFoundError):
        await world.queues.members(world.actors["rec.sul"], qa)
    assert await world.queues.members(root, qa) == [_uid(world.actors["rec.a"])]
    rows = await world.centro.rows("audit_log", action="queue.change")
    assert [json.loads(r.details) for r in rows] == [
        {"fields": ["color", "greeting", "menu_order", "name"]},
    ]  # fmt: skip


async def test_mine_filter(world: World) -> None:
    rec = world.actors["rec.a"]
    await world.tickets.accept(rec, world.ticket_ids["A"])
    assert await visible_ids(world, "rec.a", mine=True) == {world.ticket_ids["A"]}


# ---- keyset pagination -------------------------------------------------------------------


async def test_pages_return_every_ticket_exactly_once(world: World) -> None:
    desk = world.sul
    for n in range(10, 33):
        if n % 5 == 0:
            desk.clock.advance(timedelta(seconds=1))  # ties and steps
        await desk.ingest(desk.event(patient(n), "Oi"))
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = await world.tickets.list(
            world.actors["rec.sul"], TicketFilters(cursor=cursor, limit=4)
        )
        seen.extend(t.id for t in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 24  # 23 new patients and patient 4
    stamps = [
        (t.last_activity_at, t.id)
        for t in (await world.tickets.list(world.actors["root"], TicketFilters(limit=200))).items
    ]
    assert stamps == sorted(stamps, reverse=True)


async def test_a_tampered_cursor_is_refused(shared: World) -> None:
    with pytest.raises(ClinicDeskError):
        await shared.tickets.list(shared.actors["sup"], TicketFilters(cursor="!!!"))


# ---- merging contacts ----------------------------------------------------------------------


async def test_merge_moves_tickets_and_is_audited(world: World) -> None:
    a = (await world.centro.rows("messages", chat_jid=patient(1), direction="in"))[0].contact_id
    b = (await world.centro.rows("messages", chat_jid=patient(2), direction="in"))[0].contact_id
    with pytest.raises(AccessDeniedError):
        await world.merge.merge(world.actors["rec.a"], a, b)
    sul_contact = (await world.sul.rows("contacts", branch_id=world.sul.branch_id))[0].id
    with pytest.raises(ClinicDeskError):
        await world.merge.merge(world.actors["root"], a, sul_contact)
    await world.merge.merge(world.actors["sup"], a, b)
    tickets = await world.centro.rows("tickets", contact_id=a)
    assert {t.id for t in tickets} >= {world.ticket_ids["A"]}
    assert await world.centro.count("tickets", contact_id=b) == 0
    (dropped,) = await world.centro.rows("contacts", id=b)
    assert dropped.merged_into_id == a
    assert await world.centro.count("audit_log", action="contact.merged") == 1
    result = await world.inst.core.audit.verify(world.actors["root"])
    assert result.ok
