"""A reminder that asks "Responda 1 para confirmar ou 2 para remarcar", and the patient's answer
through the real inbound pipeline on a real encrypted store (app.services.reminder_answers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.api.app import create_app
from app.domain.roles import Role
from app.services.audit import Auditor
from app.services.branches import SettingsChange
from app.services.ports_reminders import ReminderRecord
from app.services.reminder_answers import (
    DEFAULT_CONFIRMED_REPLY,
    DEFAULT_DECLINED_REPLY,
    DEFAULT_PROMPT,
)
from app.services.reminders import (
    ReminderChanged,
    ReminderFilters,
    ReminderRequest,
    ReminderService,
)
from tests.helpers.messaging import Desk, make_desk, patient
from tests.integration.conftest import FakeClock, Installation


@pytest.fixture
async def desk(fresh: Installation) -> Desk:
    return await make_desk(fresh, FakeClock())


def _service(desk: Desk) -> ReminderService:
    core = desk.inst.core
    return ReminderService(core.store, desk.clock, Auditor(desk.clock), core.bus)


async def _closed_contact(desk: Desk, n: int) -> int:
    """Patient ``n`` after writing once; their ticket resolved since."""
    await desk.ingest(desk.event(chat=patient(n), text="Olá"))
    [row] = await desk.rows("contact_identities", kind="jid", value=patient(n))
    for ticket in await desk.rows("tickets", contact_id=row.contact_id):
        await desk.store.transaction(
            lambda tx, t=ticket: tx.messaging.update_ticket(
                t.id, status="closed", closed_at=t.created_at
            )
        )
    return int(row.contact_id)


async def _asked(desk: Desk, contact: int, **kw: Any) -> ReminderRecord:
    """A confirming reminder to ``contact``, fired now."""
    service = _service(desk)
    request = ReminderRequest(
        desk.channel_id, (contact,), "Sua consulta é amanhã às 9h.", desk.clock.now(),
        ask_confirmation=kw.pop("ask", True), **kw,
    )  # fmt: skip
    [rem] = await service.create(desk.inst.super_admin, request)
    assert rem.next_run_at is not None
    assert (await service.fire(rem.id, rem.next_run_at)).outcome == "sent"
    return await service.get(desk.inst.super_admin, rem.id)


async def _reminder(desk: Desk, reminder_id: int) -> ReminderRecord:
    return await _service(desk).get(desk.inst.super_admin, reminder_id)


async def _after(desk: Desk, contact: int, message_id: int) -> list[Any]:
    """The contact's messages stored after ``message_id``, oldest first."""
    rows = await desk.rows("messages", contact_id=contact)
    return sorted((m for m in rows if m.id > message_id), key=lambda m: m.id)


async def _answer(desk: Desk, n: int, words: str) -> Any:
    """Patient ``n`` writes ``words``; the stored inbound row."""
    await desk.ingest(desk.event(chat=patient(n), text=words))
    rows = [m for m in await desk.rows("messages", chat_jid=patient(n)) if m.direction == "in"]
    return max(rows, key=lambda m: m.id)


async def test_the_reminder_asks_and_a_1_confirms_without_filling_the_inbox(desk: Desk) -> None:
    contact = await _closed_contact(desk, 1)
    rem = await _asked(desk, contact)
    [sent] = await desk.rows("messages", reminder_id=rem.id)
    assert sent.body == f"Sua consulta é amanhã às 9h.\n\n{DEFAULT_PROMPT}"
    assert rem.asked_ticket_id == sent.ticket_id and rem.answer is None
    desk.clock.advance(timedelta(hours=5))  # past the 2 h reopen window: no matter
    desk.events.clear()
    tickets_before = await desk.count("tickets", contact_id=contact)
    inbound = await _answer(desk, 1, " Sim! ")
    assert inbound.ticket_id == sent.ticket_id
    [ticket] = await desk.rows("tickets", id=sent.ticket_id)
    assert ticket.status == "closed" and ticket.last_inbound_at == desk.clock.now()
    assert await desk.count("tickets", contact_id=contact) == tickets_before  # no new one
    [reply] = await _after(desk, contact, inbound.id)
    assert (reply.body, reply.automatic, reply.ticket_id) == (
        DEFAULT_CONFIRMED_REPLY, True, ticket.id,
    )  # fmt: skip
    assert await desk.count("outbox", message_id=reply.id) == 1
    stored = await _reminder(desk, rem.id)
    assert (stored.answer, stored.answered_at) == ("confirmed", desk.clock.now())
    [audit] = [r for r in await desk.rows("audit_log") if r.action == "reminder.answered"]
    assert audit.object_id == str(rem.id) and "Sim" not in str(audit.details)
    changed = [e for e in desk.events if isinstance(e, ReminderChanged)]
    assert [(e.reminder_id, e.status) for e in changed] == [(rem.id, "done")]


async def test_a_2_reopens_the_reminders_conversation_for_a_person(desk: Desk) -> None:
    contact = await _closed_contact(desk, 2)
    rem = await _asked(desk, contact)
    desk.clock.advance(timedelta(days=1))
    inbound = await _answer(desk, 2, "Não posso")
    [ticket] = await desk.rows("tickets", id=rem.asked_ticket_id)
    assert inbound.ticket_id == ticket.id
    assert (ticket.status, ticket.unread_count, ticket.closed_at) == ("pending", 1, None)
    [reply] = await _after(desk, contact, inbound.id)
    assert reply.body == DEFAULT_DECLINED_REPLY
    assert (await _reminder(desk, rem.id)).answer == "declined"


async def test_an_answer_counts_once_and_a_redelivery_changes_nothing(desk: Desk) -> None:
    contact = await _closed_contact(desk, 3)
    rem = await _asked(desk, contact)
    event = desk.event(chat=patient(3), text="1")
    await desk.ingest(event)
    before = await desk.counts()
    await desk.ingest(event)  # the worker delivers the same message again
    assert await desk.counts() == before
    second = await _answer(desk, 3, "2")  # a new message: no question is open any more
    assert (await _reminder(desk, rem.id)).answer == "confirmed"
    assert all(m.body != DEFAULT_DECLINED_REPLY for m in await _after(desk, contact, second.id))
    answered = [r for r in await desk.rows("audit_log") if r.action == "reminder.answered"]
    assert len(answered) == 1


@pytest.mark.parametrize("words", ["sim, estarei lá", "3", "Bom dia"])
async def test_anything_else_is_an_ordinary_message(desk: Desk, words: str) -> None:
    contact = await _closed_contact(desk, 4)
    rem = await _asked(desk, contact)
    desk.clock.advance(timedelta(hours=5))
    inbound = await _answer(desk, 4, words)
    assert (await _reminder(desk, rem.id)).answer is None
    assert inbound.ticket_id != rem.asked_ticket_id  # a new conversation, as before
    replies = await _after(desk, contact, inbound.id)
    assert DEFAULT_CONFIRMED_REPLY not in [m.body for m in replies]


async def test_no_question_or_an_old_one_is_not_answered(desk: Desk) -> None:
    contact = await _closed_contact(desk, 5)
    plain = await _asked(desk, contact, ask=False)
    [sent] = await desk.rows("messages", reminder_id=plain.id)
    assert DEFAULT_PROMPT not in sent.body
    await _answer(desk, 5, "1")
    assert (await _reminder(desk, plain.id)).answer is None
    asked = await _asked(desk, contact)
    desk.clock.advance(timedelta(days=3, minutes=1))  # beyond ANSWER_WINDOW
    await _answer(desk, 5, "1")
    assert (await _reminder(desk, asked.id)).answer is None


async def test_a_menu_sent_after_the_reminder_takes_the_1(desk: Desk) -> None:
    first = await desk.add_queue("Agendamento", order=1)
    await desk.add_queue("Exames", order=2)
    contact = await _closed_contact(desk, 6)
    rem = await _asked(desk, contact)
    desk.clock.advance(timedelta(hours=5))
    await _answer(desk, 6, "Boa tarde")  # a new conversation: the menu is the newer question
    inbound = await _answer(desk, 6, "1")
    [ticket] = await desk.rows("tickets", id=inbound.ticket_id)
    assert (ticket.queue_id, ticket.awaiting_menu) == (first, False)
    assert (await _reminder(desk, rem.id)).answer is None


async def test_each_occurrence_asks_again(desk: Desk) -> None:
    contact = await _closed_contact(desk, 7)
    service = _service(desk)
    rem = await _asked(desk, contact, every_days=7)
    await _answer(desk, 7, "👍🏽")
    assert (await _reminder(desk, rem.id)).answer == "confirmed"
    desk.clock.advance(timedelta(days=7))
    stored = await _reminder(desk, rem.id)
    assert stored.next_run_at is not None and stored.next_run_at <= desk.clock.now()
    await service.fire(rem.id, stored.next_run_at)
    again = await _reminder(desk, rem.id)
    assert (again.answer, again.answered_at, again.status) == (None, None, "scheduled")
    await _answer(desk, 7, "remarcar")
    assert (await _reminder(desk, rem.id)).answer == "declined"


async def test_the_list_filters_by_answer(desk: Desk) -> None:
    yes, no, silent = [await _closed_contact(desk, n) for n in (8, 9, 10)]
    ids = {c: (await _asked(desk, c)).id for c in (yes, no, silent)}
    await _answer(desk, 8, "1")
    await _answer(desk, 9, "2")
    service, admin = _service(desk), desk.inst.super_admin
    for answer, contact in (("confirmed", yes), ("declined", no), ("waiting", silent)):
        page = await service.list(admin, ReminderFilters(answer=answer))
        assert [r.id for r in page.items] == [ids[contact]], answer
    desk.clock.advance(timedelta(days=3, minutes=1))  # too late to answer: no longer waiting
    assert (await service.list(admin, ReminderFilters(answer="waiting"))).items == []


async def test_the_question_is_found_through_its_partial_index(desk: Desk) -> None:
    def plan(tx: Any) -> str:
        sql = (
            "EXPLAIN QUERY PLAN SELECT id FROM reminders WHERE contact_id = 1 AND channel_id = 1"
            " AND ask_confirmation = 1 AND answer IS NULL AND last_sent_at >= 0"
        )
        return " ".join(str(row[-1]) for row in tx.conn.execute(text(sql)))

    assert "ix_reminders_awaiting" in await desk.store.read(plan)


async def test_the_api_asks_and_reports_the_answer(desk: Desk) -> None:
    inst = desk.inst
    contact = await _closed_contact(desk, 11)
    supervisor = await inst.add_staff(Role.SUPERVISOR, "Centro")
    headers = {"Authorization": f"Bearer {inst.core.tokens.issue(supervisor.user_id)}"}
    body = {
        "channel_id": desk.channel_id, "contact_ids": [contact], "text": "Consulta amanhã",
        "start_at": (desk.clock.now() + timedelta(days=1)).isoformat(), "ask_confirmation": True,
    }  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(inst.core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        made = await api.post("/reminders", json=body, headers=headers)
        assert made.status_code == 201, made.text
        [rem] = made.json()["items"]
        assert (rem["ask_confirmation"], rem["answer"], rem["asked_ticket_id"]) == (
            True, None, None,
        )  # fmt: skip
        bad = await api.get("/reminders?answer=maybe", headers=headers)
        assert bad.status_code == 400 and "answer" in bad.text
        waiting = await api.get("/reminders?answer=waiting", headers=headers)
        assert waiting.json()["items"] == []  # not sent yet: nothing to wait for
        assert rem["answer_state"] == "pending"


async def test_the_clinics_own_words_ask_and_answer(desk: Desk) -> None:
    change = SettingsChange(
        confirmation_prompt="Digite 1 para confirmar ou 2 para cancelar.",
        declined_reply="Vamos ligar para você.",
    )
    await desk.inst.core.branches.configure(desk.inst.super_admin, desk.branch_id, change)
    contact = await _closed_contact(desk, 12)
    rem = await _asked(desk, contact)
    [sent] = await desk.rows("messages", reminder_id=rem.id)
    assert sent.body.endswith("\n\nDigite 1 para confirmar ou 2 para cancelar.")
    inbound = await _answer(desk, 12, "2")
    [reply] = await _after(desk, contact, inbound.id)
    assert reply.body == "Vamos ligar para você."


async def _sent_as(desk: Desk, rem: ReminderRecord, wa_id: str) -> None:
    """WhatsApp accepted the reminder's message under ``wa_id`` (what the sender records)."""
    [sent] = await desk.rows("messages", reminder_id=rem.id)
    await desk.store.transaction(
        lambda tx: tx.conn.execute(
            text("UPDATE messages SET wa_id = :w WHERE id = :i"), {"w": wa_id, "i": sent.id}
        )
    )


def _reaction(desk: Desk, n: int, emoji: str, on: str) -> Any:
    return desk.event(chat=patient(n), text=emoji, kind="reaction", extra={"reacted_to": on})


async def test_a_thumbs_up_on_the_reminder_confirms_it(desk: Desk) -> None:
    contact = await _closed_contact(desk, 13)
    rem = await _asked(desk, contact)
    await _sent_as(desk, rem, "3EB0QUESTION")
    await desk.ingest(_reaction(desk, 13, "👍🏼", on="3EB0QUESTION"))
    stored = await _reminder(desk, rem.id)
    assert stored.answer == "confirmed"
    [liked] = [m for m in await desk.rows("messages", contact_id=contact) if m.kind == "reaction"]
    assert liked.ticket_id == rem.asked_ticket_id and liked.body == "👍🏼"
    [ticket] = await desk.rows("tickets", id=rem.asked_ticket_id)
    assert ticket.status == "closed"


async def test_a_reaction_elsewhere_is_no_answer_and_reopens_nothing(desk: Desk) -> None:
    contact = await _closed_contact(desk, 14)
    rem = await _asked(desk, contact)
    await _sent_as(desk, rem, "3EB0QUESTION2")
    tickets_before = await desk.rows("tickets", contact_id=contact)
    outbound_before = await desk.count("messages", direction="out")
    desk.clock.advance(timedelta(minutes=5))
    await desk.ingest(_reaction(desk, 14, "👍", on="3EB0SOMETHINGELSE"))
    assert (await _reminder(desk, rem.id)).answer is None
    after = {t.id: t.status for t in await desk.rows("tickets", contact_id=contact)}
    assert after == {t.id: "closed" for t in tickets_before}  # no new or reopened ticket
    assert await desk.count("messages", direction="out") == outbound_before  # no reply at all


async def test_a_reaction_joins_the_open_conversation(desk: Desk) -> None:
    await desk.ingest(desk.event(chat=patient(15), text="Bom dia"))
    [ticket] = await desk.rows("tickets")
    await desk.ingest(_reaction(desk, 15, "❤️", on="3EB0ANY"))
    [after] = await desk.rows("tickets", id=ticket.id)
    assert (after.status, after.unread_count) == (ticket.status, ticket.unread_count + 1)
    assert await desk.count("tickets") == 1
