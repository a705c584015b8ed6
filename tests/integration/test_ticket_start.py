"""Starting a conversation from the desk ("Nova conversa", ``POST /tickets``) on a real store:
the patient is found by number as an inbound message would find them, a reply lands in the
same ticket, a patient never gets a second active ticket, and queues still scope who sees what.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor, Role
from app.services.audit import Auditor
from app.services.outbound import OutboundService
from app.services.queues import QueueService
from app.services.ticket_start import StartRequest
from tests.helpers.messaging import PATIENT, PATIENT_NO_NINE, Desk, make_desk, patient
from tests.integration.conftest import FakeClock, build_installation

PHONE = "(11) 98765-4321"  # PATIENT, as a receptionist types it
E164 = "+5511987654321"


@dataclass
class World:
    desk: Desk
    rec_a: Actor  # member of queue A
    rec_b: Actor  # member of queue B
    queue_a: int
    queue_b: int

    @property
    def tickets(self):
        return self.desk.inst.core.tickets

    def start(self, actor: Actor, phone: str = PHONE, queue: int | None = None, **kw: object):
        request = StartRequest(self.desk.channel_id, phone, queue, **kw)  # type: ignore[arg-type]
        return self.tickets.start(actor, request)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    inst = await build_installation(tmp_path / "data", tmp_path / "keys", staff=False)
    clock = FakeClock()
    desk = await make_desk(inst, clock)
    queues = QueueService(inst.core.store, clock, Auditor(clock))
    root, centro = inst.super_admin, inst.branch_ids["Centro"]
    qa = await queues.create(root, centro, "A", menu_order=1)
    qb = await queues.create(root, centro, "B", menu_order=2)
    rec_a = await inst.add_staff(Role.RECEPTIONIST, "Centro", "rec.a")
    rec_b = await inst.add_staff(Role.RECEPTIONIST, "Centro", "rec.b")
    for actor, queue in ((rec_a, qa), (rec_b, qb)):
        assert actor.user_id is not None
        await queues.add_member(root, queue.id, actor.user_id)
    yield World(desk, rec_a, rec_b, qa.id, qb.id)
    inst.core.close()


async def test_a_new_patient_gets_an_open_ticket_assigned_to_whoever_started_it(
    world: World,
) -> None:
    view, created = await world.start(world.rec_a, queue=world.queue_a, name="Maria  Souza")
    assert created
    assert (view.status, view.assignee_id, view.queue_id) == (
        "open", world.rec_a.user_id, world.queue_a,
    )  # fmt: skip
    (contact,) = await world.desk.rows("contacts")
    assert (contact.phone_e164, contact.display_name) == (E164, "Maria Souza")
    (ticket,) = await world.desk.rows("tickets")
    assert ticket.started_by_id == world.rec_a.user_id
    audit = (await world.desk.rows("audit_log"))[-1]
    assert (audit.action, audit.object_id) == ("ticket.start", str(view.id))
    assert json.loads(audit.details) == {
        "new_ticket": True, "new_contact": True, "merged_contacts": [],
    }  # fmt: skip
    assert "98765" not in audit.details


async def test_the_patients_reply_lands_in_the_same_ticket_without_a_menu(world: World) -> None:
    view, _ = await world.start(world.rec_a, queue=world.queue_a)
    await world.desk.ingest(world.desk.event(PATIENT, "Oi, pode ser amanhã", push_name="Maria"))
    (ticket,) = await world.desk.rows("tickets")
    assert (ticket.id, ticket.status, ticket.assignee_id) == (view.id, "open", world.rec_a.user_id)
    (contact,) = await world.desk.rows("contacts")
    assert contact.display_name == "Maria"  # the name WhatsApp gave fills the empty one
    outbound = await world.desk.rows("messages", direction="out")
    assert outbound == []  # no greeting, no menu: a person already has the conversation


async def test_a_patient_who_wrote_before_is_found_by_number_in_any_form(world: World) -> None:
    await world.desk.ingest(world.desk.event(PATIENT_NO_NINE, "Olá"))  # old 8-digit mobile
    (ticket,) = await world.desk.rows("tickets")
    await world.tickets.accept(world.desk.inst.super_admin, ticket.id)
    await world.tickets.transfer(world.desk.inst.super_admin, ticket.id, world.queue_a, None)
    for typed in (PHONE, "11 8765-4321", "+55 11 98765 4321", "011987654321"):
        view, created = await world.start(world.rec_a, typed, world.queue_a)
        assert (view.id, created) == (ticket.id, False)  # never a second active ticket
    assert await world.desk.count("contacts") == 1
    assert await world.desk.count("tickets") == 1


async def test_an_active_ticket_in_a_queue_the_user_cannot_see_is_refused(world: World) -> None:
    await world.start(world.rec_a, queue=world.queue_a)
    with pytest.raises(ClinicDeskError) as caught:
        await world.start(world.rec_b, queue=world.queue_b)
    assert caught.value.code is ErrorCode.ALREADY_EXISTS
    assert await world.desk.count("tickets") == 1


async def test_a_queue_the_user_cannot_see_is_refused_and_nothing_is_written(
    world: World,
) -> None:
    with pytest.raises(ClinicDeskError) as caught:
        await world.start(world.rec_a, queue=world.queue_b)  # not one of theirs
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert await world.desk.count("tickets") == 0
    assert await world.desk.count("contacts") == 0  # the whole transaction rolled back


async def test_without_a_queue_the_ticket_is_seen_by_whoever_started_it_only(
    world: World,
) -> None:
    view, created = await world.start(world.rec_a)
    assert created and view.queue_id is None
    seen = await world.tickets.get(world.rec_a, view.id)
    assert seen.ticket.id == view.id
    with pytest.raises(ClinicDeskError) as caught:
        await world.tickets.get(world.rec_b, view.id)
    assert caught.value.code is ErrorCode.ACCESS_DENIED


@pytest.mark.parametrize("typed", ["12345", "98765-4321", "Maria", "(00) 98765-4321", ""])
async def test_a_number_that_is_not_whole_is_invalid(world: World, typed: str) -> None:
    with pytest.raises(ClinicDeskError) as caught:
        await world.start(world.rec_a, typed, world.queue_a)
    assert (caught.value.code, caught.value.params) == (ErrorCode.PHONE_INVALID, {"field": "phone"})


async def test_another_branchs_channel_is_not_found(world: World) -> None:
    sul = await make_desk(world.desk.inst, world.desk.clock, "Sul")
    request = StartRequest(sul.channel_id, PHONE, None)
    with pytest.raises(ClinicDeskError) as caught:
        await world.tickets.start(world.rec_a, request)
    assert (caught.value.code, caught.value.params) == (ErrorCode.NOT_FOUND, {"entity": "channel"})


async def test_a_started_conversation_gets_no_first_response_time(world: World) -> None:
    core, clock = world.desk.inst.core, world.desk.clock
    outbound = OutboundService(core.store, clock, Auditor(clock), core.bus)
    view, _ = await world.start(world.rec_a, queue=world.queue_a)
    await outbound.send_text(world.rec_a, view.id, "Olá! Aqui é da clínica.", "k1")
    await world.desk.ingest(world.desk.event(patient(2), "Bom dia"))  # one the patient started
    theirs = max(await world.desk.rows("tickets"), key=lambda t: t.id)
    await outbound.send_text(world.desk.inst.super_admin, theirs.id, "Bom dia!", "k2")
    firsts = {t.id: t.first_response_at for t in await world.desk.rows("tickets")}
    assert firsts[view.id] is None  # nobody waited for the clinic
    assert firsts[theirs.id] is not None


async def test_the_endpoint_answers_201_then_200_with_the_same_ticket(world: World) -> None:
    core = world.desk.inst.core
    token = core.tokens.issue(world.rec_a.user_id)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"channel_id": world.desk.channel_id, "phone": PHONE, "queue_id": world.queue_a}
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        first = await api.post("/tickets", json=body, headers=headers)
        again = await api.post("/tickets", json=body, headers=headers)
        bad = await api.post("/tickets", json=body | {"phone": "123"}, headers=headers)
        anonymous = await api.post("/tickets", json=body)
        centro = world.desk.branch_id
        listed = (await api.get("/queues", params={"branch_id": centro}, headers=headers)).json()
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["assignee_id"] == world.rec_a.user_id
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "phone.invalid"
    assert anonymous.status_code == 401
    mine = {q["id"]: q["member"] for q in listed}  # the desk offers a receptionist their own
    assert mine == {world.queue_a: True, world.queue_b: False}
