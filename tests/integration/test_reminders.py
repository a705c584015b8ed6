"""Reminders on a real encrypted store: create/list/cancel with roles and audit, firing exactly
once into the ticket history, opt-out keywords through the real inbound pipeline, and the
APScheduler scheduler driven by a clock that runs ahead (recurrence, restart, pacing)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.domain.errors import AccessDeniedError, ClinicDeskError, NotFoundError
from app.domain.reminders import Pacing
from app.domain.roles import Actor, Role
from app.services.audit import Auditor
from app.services.reminder_scheduler import ReminderScheduler, SchedulerSettings
from app.services.reminders import (
    ReminderChanged,
    ReminderFilters,
    ReminderRequest,
    ReminderService,
)
from tests.helpers.messaging import Desk, make_desk, patient
from tests.integration.conftest import FakeClock, Installation

NO_GAPS = SchedulerSettings(Pacing(min_gap_s=0, max_gap_s=0))


class Waker:
    def __init__(self) -> None:
        self.woken: list[int] = []

    def wake(self, channel_id: int) -> None:
        self.woken.append(channel_id)


@pytest.fixture
async def desk(fresh: Installation) -> Desk:
    return await make_desk(fresh, FakeClock())


async def _contact(desk: Desk, n: int, text: str = "Olá") -> int:
    """The contact of patient ``n`` after they wrote ``text``."""
    await desk.ingest(desk.event(chat=patient(n), text=text))
    rows = await desk.rows("contact_identities", kind="jid", value=patient(n))
    return int(rows[0].contact_id)


def _request(desk: Desk, contacts: list[int], **kw: Any) -> ReminderRequest:
    fields: dict[str, Any] = {"text": "Olá {primeiro_nome}, sua consulta na {clinica} é amanhã."}
    fields["start_at"] = desk.clock.now()
    fields.update(kw)
    return ReminderRequest(desk.channel_id, tuple(contacts), **fields)


def _service(desk: Desk) -> ReminderService:
    """The reminder service of the desk's store, on the test's clock."""
    core = desk.inst.core
    return ReminderService(core.store, desk.clock, Auditor(desk.clock), core.bus)


async def test_a_fired_reminder_is_queued_once_in_the_ticket_history(desk: Desk) -> None:
    service, waker = _service(desk), Waker()
    service.sender = waker
    contact = await _contact(desk, 1)
    [rem] = await service.create(desk.inst.super_admin, _request(desk, [contact]))
    assert rem.status == "scheduled" and rem.campaign is None
    first = await service.fire(rem.id, rem.next_run_at)
    again = await service.fire(rem.id, rem.next_run_at)  # a duplicate job: nothing more
    assert (first.outcome, again.outcome) == ("sent", "stale")
    [message] = await desk.rows("messages", reminder_id=rem.id)
    tickets = await desk.rows("tickets", contact_id=contact)
    assert message.ticket_id == tickets[0].id and message.direction == "out"
    assert message.body == "Olá Maria, sua consulta na Centro é amanhã."
    assert message.automatic
    assert await desk.count("outbox", message_id=message.id) == 1
    assert waker.woken == [desk.channel_id]
    stored = await service.get(desk.inst.super_admin, rem.id)
    assert (stored.status, stored.next_run_at) == ("done", None)
    actions = [r.action for r in await desk.rows("audit_log") if r.object_type == "reminder"]
    assert actions == ["reminder.create", "reminder.fired"]


async def test_a_contact_without_an_open_ticket_gets_a_closed_one_in_their_last_queue(
    desk: Desk,
) -> None:
    service = _service(desk)
    contact = await _contact(desk, 2)
    for ticket in await desk.rows("tickets", contact_id=contact):
        await desk.inst.core.store.transaction(
            lambda tx, t=ticket: tx.messaging.update_ticket(t.id, status="closed")
        )
    queue = await desk.add_queue("Agenda", order=1)
    for ticket in await desk.rows("tickets", contact_id=contact):
        await desk.inst.core.store.transaction(
            lambda tx, t=ticket: tx.messaging.update_ticket(t.id, queue_id=queue)
        )
    [rem] = await service.create(desk.inst.super_admin, _request(desk, [contact]))
    await service.fire(rem.id, rem.next_run_at)
    [message] = await desk.rows("messages", reminder_id=rem.id)
    ticket = (await desk.rows("tickets", id=message.ticket_id))[0]
    assert ticket.status == "closed" and ticket.contact_id == contact
    assert ticket.queue_id == queue  # the last conversation's queue: its people can open it
    assert message.chat_jid == patient(2)


async def test_an_opted_out_patient_is_skipped_and_confirmed_once(desk: Desk) -> None:
    service = _service(desk)
    contact = await _contact(desk, 3)
    [rem] = await service.create(desk.inst.super_admin, _request(desk, [contact]))
    outbox_before = await desk.count("outbox")
    await desk.ingest(desk.event(chat=patient(3), text="  Sáir "))
    [opt] = await desk.rows("opt_outs", contact_id=contact)
    [inbound] = [m for m in await desk.rows("messages", contact_id=contact) if m.body == "  Sáir "]
    assert (opt.keyword, opt.message_id) == ("SAIR", inbound.id)  # stored and ticketed as usual
    assert inbound.ticket_id is not None
    assert (await desk.rows("contacts", id=contact))[0].opted_out_at is not None
    replies = [m for m in await desk.rows("messages", contact_id=contact) if m.id > inbound.id]
    assert len(replies) == 1 and "VOLTAR" in replies[0].body
    assert await desk.count("outbox") == outbox_before + 1
    fired = await service.fire(rem.id, rem.next_run_at)
    assert fired.outcome == "skipped_opt_out"
    assert await desk.count("messages", reminder_id=rem.id) == 0
    stored = await service.get(desk.inst.super_admin, rem.id)
    assert stored.status == "skipped_opt_out"
    audit = [r.action for r in await desk.rows("audit_log")]
    assert "contact.opt_out" in audit and "reminder.skipped_opt_out" in audit


async def test_voltar_opts_back_in_and_is_otherwise_an_ordinary_message(desk: Desk) -> None:
    contact = await _contact(desk, 4, text="VOLTAR")  # never opted out: nothing special
    assert await desk.count("opt_outs") == 0
    await desk.ingest(desk.event(chat=patient(4), text="PARAR"))
    await desk.ingest(desk.event(chat=patient(4), text="voltar"))
    rows = await desk.rows("opt_outs", contact_id=contact)
    assert [r.keyword for r in rows] == ["PARAR", "VOLTAR"]
    assert (await desk.rows("contacts", id=contact))[0].opted_out_at is None


async def test_a_campaign_shares_an_id_and_cancels_together(desk: Desk) -> None:
    service = _service(desk)
    contacts = [await _contact(desk, n) for n in (5, 6, 7)]
    made = await service.create(desk.inst.super_admin, _request(desk, contacts, every_days=7))
    assert len({r.campaign for r in made}) == 1 and made[0].campaign is not None
    await service.cancel(desk.inst.super_admin, made[0].id)
    cancelled = await service.cancel_campaign(desk.inst.super_admin, str(made[0].campaign))
    assert {r.id for r in cancelled} == {r.id for r in made[1:]}
    page = await service.list(desk.inst.super_admin, ReminderFilters(status="cancelled", limit=2))
    assert len(page.items) == 2 and page.next_cursor is not None
    rest = await service.list(
        desk.inst.super_admin, ReminderFilters(status="cancelled", cursor=page.next_cursor)
    )
    assert {r.id for r in page.items + rest.items} == {r.id for r in made}
    changed = [e for e in desk.events if isinstance(e, ReminderChanged)]
    assert [e.status for e in changed].count("cancelled") == 3


async def test_roles_bad_input_and_other_branches(desk: Desk) -> None:
    service, inst = _service(desk), desk.inst
    contact = await _contact(desk, 8)
    receptionist = await inst.add_staff(Role.RECEPTIONIST, "Centro")
    supervisor = await inst.add_staff(Role.SUPERVISOR, "Centro")
    other = await inst.add_staff(Role.SUPERVISOR, "Sul")
    second = await _contact(desk, 9)
    with pytest.raises(AccessDeniedError):  # a campaign is the supervisors' to send
        await service.create(receptionist, _request(desk, [contact, second]))
    with pytest.raises(NotFoundError):
        await service.create(other, _request(desk, [contact]))
    [rem] = await service.create(supervisor, _request(desk, [contact]))
    with pytest.raises(NotFoundError):
        await service.cancel(other, rem.id)
    assert (await service.list(other, ReminderFilters())).items == []
    bad = [
        _request(desk, [contact], cron="* * * * *"),
        _request(desk, [contact], every_days=1, cron="0 9 * * *"),
        _request(desk, [contact], start_at=desk.clock.now() - timedelta(hours=1)),
        _request(desk, [contact], text="   "),
        _request(desk, []),
    ]
    for request in bad:
        with pytest.raises(ClinicDeskError):
            await service.create(supervisor, request)


async def _wait(check: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_scheduler_fires_recurrences_and_a_restart_does_not_resend(desk: Desk) -> None:
    service = _service(desk)
    contact = await _contact(desk, 9)
    scheduler = ReminderScheduler(service, desk.clock, random.Random(1), NO_GAPS)
    await scheduler.start()
    try:
        [rem] = await service.create(desk.inst.super_admin, _request(desk, [contact], every_days=1))

        async def sent(n: int) -> bool:
            """``n`` sends stored, and the next occurrence planned (after the commit)."""
            stored = await desk.count("messages", reminder_id=rem.id) >= n
            return stored and rem.id in scheduler.planned()

        await _wait(lambda: sent(1), "the first occurrence")
        next_run = scheduler.planned()[rem.id]
        # The clock jumps to just before the next occurrence: its job runs about a second later.
        desk.clock.advance(timedelta(days=1) - timedelta(seconds=1))
        scheduler.plan(rem.id, (await service.get(desk.inst.super_admin, rem.id)).next_run_at)
        assert scheduler.planned()[rem.id] < next_run
        await _wait(lambda: sent(2), "the second occurrence")
    finally:
        await scheduler.stop()
    keys = {r.idempotency_key for r in await desk.rows("outbox")}
    assert len(keys) == await desk.count("outbox")
    # A restart plans the reminder again for its next occurrence; nothing is sent twice.
    again = ReminderScheduler(service, desk.clock, random.Random(2), NO_GAPS)
    await again.start()
    try:
        assert rem.id in again.planned()
        await asyncio.sleep(0.3)
    finally:
        await again.stop()
    assert await desk.count("messages", reminder_id=rem.id) == 2


async def test_a_missed_reminder_runs_at_start_and_a_campaign_is_paced(desk: Desk) -> None:
    service = _service(desk)
    contacts = [await _contact(desk, n) for n in (10, 11, 12)]
    made = await service.create(desk.inst.super_admin, _request(desk, contacts))
    desk.clock.advance(timedelta(hours=5))  # the PC was off when they were due
    paced = SchedulerSettings(Pacing(min_gap_s=3600, max_gap_s=3600, daily_cap=200))
    scheduler = ReminderScheduler(service, desk.clock, random.Random(3), paced)
    await scheduler.start()
    try:

        async def first_sent() -> bool:
            return await desk.count("outbox") > 0 and len(scheduler.planned()) == 2

        await _wait(first_sent, "the first send and two paced jobs")
        sent = [r for r in made if await desk.count("messages", reminder_id=r.id)]
        assert len(sent) == 1
        later = sorted(scheduler.planned().values())
        assert later[1] - later[0] >= timedelta(seconds=3599)  # an hour apart, not dropped
        await service.cancel_campaign(desk.inst.super_admin, str(made[0].campaign))
        assert scheduler.planned() == {}
    finally:
        await scheduler.stop()


async def test_a_system_actor_cannot_list_without_the_permission(desk: Desk) -> None:
    nobody = Actor(user_id=None, username="nobody")
    with pytest.raises(AccessDeniedError):
        await _service(desk).list(nobody, ReminderFilters())


async def test_the_api_schedules_lists_and_cancels_by_role(desk: Desk) -> None:
    inst = desk.inst
    contact = await _contact(desk, 13)
    tokens = {}
    for role, branch in ((Role.SUPERVISOR, "Centro"), (Role.RECEPTIONIST, "Centro")):
        actor = await inst.add_staff(role, branch)
        tokens[role.value] = inst.core.tokens.issue(actor.user_id)
    tokens["other"] = inst.core.tokens.issue((await inst.add_staff(Role.ADMIN, "Sul")).user_id)
    body = {
        "channel_id": desk.channel_id, "contact_ids": [contact], "text": "Lembrete {nome}",
        "start_at": (desk.clock.now() + timedelta(days=1)).isoformat(), "cron": "0 9 * * 1-5",
    }  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(inst.core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:

        async def call(method: str, path: str, who: str, **kw: Any) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            return await api.request(method, path, headers=headers, **kw)

        campaign = body | {"contact_ids": [contact, await _contact(desk, 14)]}
        refused = await call("POST", "/reminders", "receptionist", json=campaign)
        assert refused.status_code == 403
        assert (await call("POST", "/reminders", "other", json=body)).status_code == 404
        naive = body | {"start_at": desk.clock.now().replace(tzinfo=None).isoformat()}
        assert (await call("POST", "/reminders", "supervisor", json=naive)).status_code == 400
        made = await call("POST", "/reminders", "supervisor", json=body)
        assert made.status_code == 201, made.text
        [rem] = made.json()["items"]
        assert rem["cron"] == "0 9 * * 1-5" and rem["status"] == "scheduled"
        assert (await call("GET", "/reminders", "receptionist")).json()["items"] == []  # own
        assert (await call("GET", "/reminders", "other")).json()["items"] == []
        listed = (await call("GET", f"/reminders?contact_id={contact}", "supervisor")).json()
        assert [r["id"] for r in listed["items"]] == [rem["id"]]
        gone = await call("POST", f"/reminders/{rem['id']}/cancel", "other")
        assert gone.status_code == 404
        done = await call("POST", f"/reminders/{rem['id']}/cancel", "supervisor")
        assert done.json()["status"] == "cancelled"


async def test_a_receptionist_reminds_a_patient_they_see_and_sees_only_their_own(
    desk: Desk,
) -> None:
    service, inst, core = _service(desk), desk.inst, desk.inst.core
    mine, theirs = await desk.add_queue("Agenda", order=1), await desk.add_queue("Exames", order=2)
    receptionist = await inst.add_staff(Role.RECEPTIONIST, "Centro")
    supervisor = await inst.add_staff(Role.SUPERVISOR, "Centro")
    assert receptionist.user_id is not None
    await core.queues.add_member(core.local_actor(), mine, receptionist.user_id)
    seen, unseen = await _contact(desk, 20), await _contact(desk, 21)
    for contact, queue in ((seen, mine), (unseen, theirs)):
        for ticket in await desk.rows("tickets", contact_id=contact):
            await desk.store.transaction(
                lambda tx, t=ticket, q=queue: tx.messaging.update_ticket(t.id, queue_id=q)
            )
    [own] = await service.create(receptionist, _request(desk, [seen]))
    assert own.created_by == receptionist.user_id
    with pytest.raises(NotFoundError):  # a patient of another queue: not even named
        await service.create(receptionist, _request(desk, [unseen]))
    [boss] = await service.create(supervisor, _request(desk, [seen]))
    listed = await service.list(receptionist, ReminderFilters())
    assert [r.id for r in listed.items] == [own.id]
    everyone = await service.list(supervisor, ReminderFilters())
    assert {r.id for r in everyone.items} == {own.id, boss.id}
    for call in (service.get, service.cancel):
        with pytest.raises(NotFoundError):
            await call(receptionist, boss.id)
    assert (await service.cancel(receptionist, own.id)).status == "cancelled"
    created = [r for r in await desk.rows("audit_log") if r.action == "reminder.create"]
    assert {r.actor_user_id for r in created} == {receptionist.user_id, supervisor.user_id}
