"""The inbound pipeline on a real SQLCipher store: exactly-once storage, one patient one
contact, ticket routing and automatic replies, quarantine of anything malformed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.events import InboundReceived
from app.services.transport import EventKind, InboundMessage, TransportEvent
from tests.helpers.messaging import (
    PATIENT,
    PATIENT_LID,
    PATIENT_NO_NINE,
    Desk,
    make_desk,
)
from tests.integration.conftest import FakeClock, Installation, build_installation

SUNDAY = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # 12:00 in São Paulo


@pytest.fixture
async def desk(fresh: Installation) -> Desk:
    return await make_desk(fresh, FakeClock(SUNDAY))


def received(desk: Desk) -> list[InboundReceived]:
    return [e for e in desk.events if isinstance(e, InboundReceived)]


async def test_a_new_patient_gets_contact_ticket_message_and_menu(desk: Desk) -> None:
    await desk.add_queue("Recepção", order=1)
    await desk.add_queue("Exames", order=2)
    await desk.ingest(desk.event(text="Bom dia"))
    counts = await desk.counts()
    assert counts["contacts"] == counts["tickets"] == counts["outbox"] == 1
    assert counts["messages"] == 2  # the patient's and the automatic menu
    (ticket,) = await desk.rows("tickets")
    assert (ticket.status, ticket.queue_id, ticket.awaiting_menu) == ("pending", None, True)
    (menu,) = await desk.rows("messages", direction="out")
    assert menu.automatic and menu.ticket_id == ticket.id
    assert menu.body.endswith("1 - Recepção\n2 - Exames")
    (queued,) = await desk.rows("outbox")
    assert (queued.message_id, queued.status) == (menu.id, "queued")
    (event,) = received(desk)
    assert (event.ticket_id, event.branch_id) == (ticket.id, desk.branch_id)


async def test_the_menu_choice_routes_to_the_queue_and_greets(desk: Desk) -> None:
    await desk.add_queue("Recepção", order=1)
    exams = await desk.add_queue("Exames", "Olá! Setor de exames.", order=2)
    await desk.ingest(desk.event(text="Oi"))
    await desk.ingest(desk.event(text="2"))
    (ticket,) = await desk.rows("tickets")
    assert (ticket.queue_id, ticket.awaiting_menu) == (exams, False)
    replies = [m.body for m in await desk.rows("messages", direction="out")]
    assert replies[-1] == "Olá! Setor de exames."


async def menus(desk: Desk) -> list[str]:
    """The automatic menus sent so far (the menu's text ends with its numbered options)."""
    out = await desk.rows("messages", direction="out")
    return [m.body for m in out if m.automatic and m.body.endswith("2 - Exames")]


async def test_a_burst_written_before_the_menu_was_read_gets_one_menu(desk: Desk) -> None:
    await desk.add_queue("Recepção", order=1)
    await desk.add_queue("Exames", order=2)
    for text in ("Oi", "Bom dia", "Queria marcar uma consulta"):
        await desk.ingest(desk.event(text=text))
        desk.clock.advance(timedelta(seconds=5))
    assert len(await menus(desk)) == 1
    (ticket,) = await desk.rows("tickets")
    assert (ticket.awaiting_menu, ticket.menu_prompts) == (True, 1)


async def test_after_a_pause_the_menu_comes_once_more_then_waits_for_a_person(
    desk: Desk,
) -> None:
    await desk.add_queue("Recepção", order=1)
    exams = await desk.add_queue("Exames", "Olá! Setor de exames.", order=2)
    for text in ("Oi", "Queria marcar", "Alô?", "Tem alguém aí?"):
        await desk.ingest(desk.event(text=text))
        desk.clock.advance(timedelta(minutes=3))
    assert len(await menus(desk)) == 2  # the first, and one repeat after a pause
    (ticket,) = await desk.rows("tickets")
    assert (ticket.status, ticket.queue_id, ticket.awaiting_menu) == ("pending", None, True)
    await desk.ingest(desk.event(text="2"))  # the patient may still choose later
    (ticket,) = await desk.rows("tickets")
    assert (ticket.queue_id, ticket.awaiting_menu) == (exams, False)
    replies = [m.body for m in await desk.rows("messages", direction="out")]
    assert replies[-1] == "Olá! Setor de exames." and len(await menus(desk)) == 2


async def test_a_ticket_a_person_has_gets_no_menu_even_if_one_was_pending(desk: Desk) -> None:
    await desk.add_queue("Recepção", order=1)
    await desk.add_queue("Exames", order=2)
    await desk.ingest(desk.event(text="Oi"))
    (ticket,) = await desk.rows("tickets")
    person = desk.inst.super_admin.user_id
    # As tickets accepted before accepting ended the menu may still be: assigned AND waiting.
    await desk.inst.core.store.transaction(
        lambda tx: tx.messaging.update_ticket(ticket.id, assignee_id=person, status="open")
    )
    desk.clock.advance(timedelta(minutes=10))
    for text in ("Tudo bem?", "2"):
        await desk.ingest(desk.event(text=text))
    (ticket,) = await desk.rows("tickets")
    assert (ticket.queue_id, ticket.awaiting_menu, ticket.assignee_id) == (None, True, person)
    assert await desk.count("messages", direction="out") == 1  # the first menu only


async def test_a_single_queue_takes_every_new_ticket(desk: Desk) -> None:
    queue = await desk.add_queue("Recepção", "Olá, {nome}")
    await desk.ingest(desk.event())
    (ticket,) = await desk.rows("tickets")
    assert (ticket.queue_id, ticket.awaiting_menu) == (queue, False)
    assert await desk.count("outbox") == 1


async def test_a_redelivered_event_changes_nothing(desk: Desk) -> None:
    await desk.add_queue("A", order=1)
    await desk.add_queue("B", order=2)
    event = desk.event()
    await desk.ingest(event)
    before, audit_before = await desk.counts(), await desk.count("audit_log")
    for _ in range(3):
        await desk.ingest(event)
    assert await desk.counts() == before
    assert await desk.count("audit_log") == audit_before
    assert len(received(desk)) == 1


async def test_reordered_and_repeated_events_store_each_message_once(desk: Desk) -> None:
    now = desk.clock.now().timestamp()
    first = desk.event(text="primeira", timestamp=now - 60)
    second = desk.event(text="segunda", timestamp=now - 30)
    for event in (second, first, second, first):
        await desk.ingest(event)
    assert await desk.count("messages", direction="in") == 2
    assert await desk.count("tickets") == 1
    rows = sorted(await desk.rows("messages", direction="in"), key=lambda r: r.sent_at)
    assert [r.body for r in rows] == ["primeira", "segunda"]


async def test_lid_then_phone_jid_of_one_patient_is_one_contact(desk: Desk) -> None:
    await desk.ingest(desk.event(PATIENT_LID, extra={"phone_jid": PATIENT}))
    await desk.ingest(desk.event(PATIENT))
    await desk.ingest(desk.event(PATIENT_LID))
    assert await desk.count("contacts") == 1
    assert await desk.count("tickets") == 1
    (contact,) = await desk.rows("contacts")
    assert (contact.phone_e164, contact.wa_lid) == ("+5511987654321", "204812345678901")


async def test_separate_lid_and_phone_contacts_merge_when_linked(desk: Desk) -> None:
    await desk.ingest(desk.event(PATIENT_LID, text="pelo lid"))
    await desk.ingest(desk.event(PATIENT, text="pelo telefone"))
    assert await desk.count("contacts") == 2  # nothing links them yet: two provisional ones
    await desk.ingest(desk.event(PATIENT_LID, text="ligação", extra={"phone_jid": PATIENT}))
    live = [c for c in await desk.rows("contacts") if c.merged_into_id is None]
    assert len(live) == 1
    open_tickets = [t for t in await desk.rows("tickets") if t.status != "closed"]
    assert len(open_tickets) == 1  # the split conversation is folded into one ticket
    inbound = await desk.rows("messages", direction="in")
    assert {m.ticket_id for m in inbound} == {open_tickets[0].id}
    assert {m.contact_id for m in inbound} == {live[0].id}
    audit = await desk.rows("audit_log", action="message.received")
    assert json.loads(audit[-1].details)["merged"]


async def test_ninth_digit_variants_are_one_contact(desk: Desk) -> None:
    for chat in (PATIENT_NO_NINE, PATIENT, "5511987654321@c.us"):
        await desk.ingest(desk.event(chat))
    assert await desk.count("contacts") == 1
    assert await desk.count("tickets") == 1


async def _close_ticket(desk: Desk) -> int:
    (ticket,) = [t for t in await desk.rows("tickets") if t.status != "closed"]

    def work(tx: Any) -> None:
        tx.messaging.update_ticket(ticket.id, status="closed", closed_at=desk.clock.now())

    await desk.store.transaction(work)
    return int(ticket.id)


async def test_a_closed_ticket_reopens_within_the_window(desk: Desk) -> None:
    await desk.ingest(desk.event())
    closed = await _close_ticket(desk)
    desk.clock.advance(timedelta(minutes=90))
    await desk.ingest(desk.event(text="esqueci de perguntar"))
    (ticket,) = await desk.rows("tickets")
    assert (ticket.id, ticket.status, ticket.closed_at) == (closed, "pending", None)


async def test_after_the_window_a_new_ticket_starts(desk: Desk) -> None:
    await desk.ingest(desk.event())
    closed = await _close_ticket(desk)
    desk.clock.advance(timedelta(hours=3))
    await desk.ingest(desk.event(text="nova consulta"))
    tickets = await desk.rows("tickets")
    assert [t.status for t in tickets] == ["closed", "pending"]
    assert tickets[0].id == closed


async def test_the_reopen_window_is_a_branch_setting(desk: Desk) -> None:
    await desk.set_setting("reopen_window_minutes", "10", desk.clock.now())
    await desk.ingest(desk.event())
    await _close_ticket(desk)
    desk.clock.advance(timedelta(minutes=30))
    await desk.ingest(desk.event())
    assert await desk.count("tickets") == 2


async def test_out_of_hours_sends_the_branch_notice_once_per_burst(desk: Desk) -> None:
    notice = "Estamos fechados. Atendemos de segunda a sexta, das 8h às 18h."
    hours = '{"mon": [["08:00", "18:00"]]}'  # and the clock says Sunday
    await desk.set_branch(business_hours=hours, out_of_hours_message=notice)
    await desk.ingest(desk.event())
    await desk.ingest(desk.event(text="alguém aí?"))
    bodies = [m.body for m in await desk.rows("messages", direction="out")]
    assert bodies == [notice]
    assert await desk.count("outbox") == 1
    desk.clock.advance(timedelta(hours=5))
    await desk.ingest(desk.event(text="bom dia?"))
    assert await desk.count("outbox", status="queued") == 2


async def test_groups_and_broadcasts_are_quarantined(desk: Desk) -> None:
    await desk.ingest(desk.event("120363012345678901@g.us"))
    await desk.ingest(desk.event("status@broadcast"))
    reasons = [q.reason for q in await desk.rows("inbound_quarantine")]
    assert reasons == ["not_a_person", "not_a_person"]
    assert await desk.count("messages") == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"wa_id": ""}, "wa_id_invalid"),
        ({"wa_id": "a b"}, "wa_id_invalid"),
        ({"chat_jid": "not a jid"}, "jid_invalid"),
        ({"chat_jid": "abc@lid", "sender_jid": ""}, "not_a_person"),
        ({"kind": "hologram"}, "kind_unknown"),
        ({"text": "x" * 70_000}, "text_too_long"),
        ({"text": "\ud800 oi"}, "text_encoding"),
        ({"text": None}, "text_empty"),
        ({"timestamp": "ontem"}, None),  # an unusable timestamp: kept, arrival time used
        ({"text": "linha\x00 com\x07 controle"}, None),  # controls dropped, message kept
    ],
)
async def test_malformed_fields(desk: Desk, fields: dict[str, Any], reason: str | None) -> None:
    await desk.ingest(desk.event(**fields))
    quarantined = [q.reason for q in await desk.rows("inbound_quarantine")]
    assert quarantined == ([reason] if reason else [])
    assert await desk.count("messages", direction="in") == (0 if reason else 1)


async def test_a_bad_event_delivered_again_under_a_new_reference_is_kept_once(
    desk: Desk,
) -> None:
    bad = desk.event(kind="hologram")
    await desk.ingest(bad)
    await desk.ingest(dataclasses.replace(bad, ack_ref="another-delivery"))
    assert [q.reason for q in await desk.rows("inbound_quarantine")] == ["kind_unknown"]


async def test_control_characters_are_removed_from_the_text(desk: Desk) -> None:
    await desk.ingest(desk.event(text="linha\x00 um\nlinha dois\x1b"))
    (message,) = await desk.rows("messages", direction="in")
    assert message.body == "linha um\nlinha dois"


async def test_non_message_events_are_quarantined_and_the_chain_verifies(desk: Desk) -> None:
    await desk.ingest(TransportEvent(EventKind.INBOUND, "canal", ack_ref="1"))
    await desk.ingest(TransportEvent(EventKind.RECEIPT, "canal", wa_id="x"))
    assert [q.reason for q in await desk.rows("inbound_quarantine")] == [
        "no_message",
        "not_inbound",
    ]
    result = await desk.inst.core.audit.verify(desk.inst.super_admin)
    assert result.ok


async def test_media_without_a_media_store_keeps_the_message_not_the_declared_type(
    desk: Desk,
) -> None:
    # This pipeline has no media store: the file is refused ("not_stored"), the message kept.
    # The declared MIME type is never stored (docs/MEDIA.md; tests/integration/test_media_*).
    event = desk.event(
        kind="image", text=None, media_b64="aGVsbG8=", media_mime="image/png", media_name="x.png"
    )
    await desk.ingest(event)
    (message,) = await desk.rows("messages", direction="in")
    assert (message.kind, message.media_mime, message.media_size) == ("image", None, 5)
    assert (message.media_name, message.media_sha256) == ("x.png", None)


# ---- property: garbage never escapes ingest ------------------------------------------------

JIDS = st.sampled_from([PATIENT, PATIENT_LID, PATIENT_NO_NINE, "1203@g.us", "x@y", "", "@lid"])
TEXTS = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.text(st.characters(codec=None, categories=["Cc", "Cs", "Co"]), max_size=50),
    st.just("á" * 70_000),
)
MESSAGES = st.builds(
    InboundMessage,
    wa_id=st.one_of(st.text(max_size=90), st.from_regex(r"\A[A-F0-9]{4,20}\Z")),
    chat_jid=st.one_of(JIDS, st.text(max_size=100)),
    sender_jid=st.one_of(JIDS, st.text(max_size=20)),
    timestamp=st.one_of(st.floats(), st.integers(min_value=-(10**20), max_value=10**20)),
    kind=st.one_of(st.sampled_from(["text", "image", "audio"]), st.text(max_size=12)),
    text=TEXTS,
    push_name=st.one_of(st.none(), st.text(max_size=300)),
    media_b64=st.one_of(st.none(), st.text(max_size=20)),
    media_mime=st.one_of(st.none(), st.text(max_size=20), st.just("image/jpeg")),
    media_name=st.one_of(st.none(), st.text(max_size=300)),
    extra=st.dictionaries(
        st.sampled_from(["phone_jid", "lid", "jid_alt", "other"]),
        st.one_of(st.text(max_size=30), st.integers(), JIDS),
        max_size=3,
    ),
)


@pytest.fixture(scope="module")
def garbage_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    base = tmp_path_factory.mktemp("garbage")
    inst = asyncio.run(build_installation(base / "data", base / "keys", staff=False))
    desk = asyncio.run(make_desk(inst, FakeClock()))
    yield desk
    inst.core.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=MESSAGES)
def test_garbage_is_stored_or_quarantined_never_raised(
    garbage_desk: Desk, message: InboundMessage
) -> None:
    desk = garbage_desk
    event = TransportEvent(EventKind.INBOUND, "canal", message=message, ack_ref="r")
    before = asyncio.run(desk.counts())
    asyncio.run(desk.ingest(event))  # must not raise, whatever the fields hold
    after = asyncio.run(desk.counts())
    stored = after["messages"] - before["messages"]
    kept = after["inbound_quarantine"] - before["inbound_quarantine"]
    assert kept in (0, 1)
    assert not (stored and kept)


def test_the_audit_chain_verifies_after_the_garbage(garbage_desk: Desk) -> None:
    inst = garbage_desk.inst
    result = asyncio.run(inst.core.audit.verify(inst.super_admin))
    assert result.ok


async def test_logs_hold_no_text_or_numbers(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    await desk.ingest(desk.event(text="segredo clínico"))
    await desk.ingest(desk.event(text="x" * 70_000))
    await desk.ingest(desk.event("120363012345678901@g.us", text="segredo do grupo"))
    assert caplog.records  # the quarantines were logged…
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in ("segredo", "5511987654321", "987654321", "Maria", "xxxxxxxx"):
        assert secret not in logged  # …by code and id only
