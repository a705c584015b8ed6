"""Erasing a patient (LGPD; app.services.patient_erase) on a real encrypted store: every row of
theirs goes, the reports' counts stay, another patient is untouched, the attachment file is
deleted, and a scan of every decrypted page of the database finds none of their text."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.domain.errors import AccessDeniedError, ClinicDeskError, NotFoundError
from app.domain.roles import Role
from app.services.reminders import ReminderRequest
from tests.helpers.messaging import Desk, make_media_desk, patient, png
from tests.helpers.pages import decrypted_pages
from tests.integration.conftest import FakeClock, Installation

CANARY = "Canarioprontuario4471"  # one word: the full-text index keeps it as one token
NAME = "Zulmira Erasmo"
OTHER = "Texto-de-outra-pessoa-9902"


@pytest.fixture
async def desk(fresh: Installation) -> Desk:
    return await make_media_desk(fresh, FakeClock())


async def _history(desk: Desk) -> tuple[int, int, str]:
    """Patient 1 (to erase) and patient 2 (to keep): texts, a photo, a note, a reminder,
    SAIR, and a quarantined event naming patient 1. Their contact ids and the photo's sha."""
    photo = base64.b64encode(png((200, 10, 10))).decode("ascii")
    for text in (f"Meu exame: {CANARY}", "SAIR"):
        await desk.ingest(desk.event(chat=patient(1), text=text, push_name=NAME))
    await desk.ingest(desk.event(chat=patient(1), text=None, kind="image", media_b64=photo))
    await desk.ingest(desk.event(chat=patient(1), kind="bogus", text=CANARY))  # quarantined
    await desk.ingest(desk.event(chat=patient(2), text=OTHER, push_name="Outra Pessoa"))
    one, two = [await _contact(desk, n) for n in (1, 2)]
    [ticket] = await desk.rows("tickets", contact_id=one)
    admin = desk.inst.super_admin
    await desk.inst.core.tickets.add_note(admin, ticket.id, f"Nota sobre {NAME}")
    request = ReminderRequest(desk.channel_id, (one,), f"Olá {CANARY}", desk.clock.now())
    await desk.inst.core.reminders.create(admin, request)
    [image] = [m for m in await desk.rows("messages", contact_id=one) if m.media_sha256]
    return one, two, str(image.media_sha256)


async def _contact(desk: Desk, n: int) -> int:
    [row] = await desk.rows("contact_identities", kind="jid", value=patient(n))
    return int(row.contact_id)


async def _admin(desk: Desk) -> Any:
    return await desk.inst.add_staff(Role.ADMIN, "Centro")


async def test_every_row_of_the_patient_goes_and_the_counts_stay(desk: Desk) -> None:
    one, two, sha = await _history(desk)
    assert await desk.count("inbound_quarantine") == 1
    tickets_before = await desk.count("tickets")
    done = await desk.inst.core.erasures.erase(await _admin(desk), one)
    assert (done.contact_id, done.attachments, done.reminders) == (one, 1, 1)
    assert done.messages >= 4  # three from the patient, the reply to SAIR
    for table in ("contact_identities", "reminders", "opt_outs"):
        assert await desk.count(table, contact_id=one) == 0, table
    assert await desk.count("messages", contact_id=one) == 0
    [ticket] = await desk.rows("tickets", contact_id=one)
    assert await desk.count("messages", ticket_id=ticket.id) == 0
    assert await desk.count("notes", ticket_id=ticket.id) == 0
    assert await desk.count("inbound_quarantine") == 0
    assert ticket.status == "closed" and await desk.count("tickets") == tickets_before
    [emptied] = await desk.rows("contacts", id=one)
    assert (emptied.display_name, emptied.phone_e164, emptied.wa_lid) == (None, None, None)
    assert emptied.erased_at is not None
    with pytest.raises(ClinicDeskError):
        desk.inst.core.media.blobs.get(sha)  # the file is gone
    assert await desk.count("media_blobs") == 0  # its row and its thumbnail's too
    assert await desk.count("messages", contact_id=two) == 1  # the other patient stays
    found = await desk.inst.core.search.search(desk.inst.super_admin, CANARY, 20)
    assert found.messages == [] and found.contacts == []
    [ledger] = await desk.rows("erasures")
    assert ledger.contact_id == one and NAME not in ledger.counts
    [audit] = await desk.rows("audit_log", action="contact.erase")
    assert json.loads(audit.details)["messages"] == done.messages


async def test_no_page_of_the_database_holds_the_erased_text(desk: Desk) -> None:
    one, _, _ = await _history(desk)
    await desk.inst.core.erasures.erase(await _admin(desk), one)
    inst = desk.inst
    inst.core.close()  # the last connection checkpoints the WAL into the file
    plain = decrypted_pages(inst.root, inst.key_dir)
    assert OTHER.encode() in plain  # the scan reads real content
    for gone in (CANARY, CANARY.lower(), NAME, "zulmira", patient(1).split("@")[0]):
        assert gone.encode() not in plain, gone  # lower case: as the index stores words


async def test_who_may_erase_and_that_it_happens_once(desk: Desk) -> None:
    one, _, _ = await _history(desk)
    erasures, inst = desk.inst.core.erasures, desk.inst
    with pytest.raises(AccessDeniedError):  # supervisors export, only admins erase
        await erasures.erase(await inst.add_staff(Role.SUPERVISOR, "Centro"), one)
    with pytest.raises(NotFoundError):
        await erasures.erase(await inst.add_staff(Role.ADMIN, "Sul"), one)
    assert await desk.count("messages", contact_id=one) > 0  # refused: nothing changed
    admin = await _admin(desk)
    await erasures.erase(admin, one)
    with pytest.raises(ClinicDeskError) as again:
        await erasures.erase(admin, one)
    assert again.value.params == {"field": "contact", "reason": "erased"}
    await desk.ingest(desk.event(chat=patient(1), text="Oi de novo"))
    assert await _contact(desk, 1) != one  # the same number is a new, unrelated patient


async def test_the_api_asks_for_confirmation(desk: Desk) -> None:
    one, _, _ = await _history(desk)
    inst = desk.inst
    token = inst.core.tokens.issue((await _admin(desk)).user_id)
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=create_app(inst.core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        unconfirmed = await api.post(f"/contacts/{one}/erase", json={}, headers=headers)
        assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.text
        assert await desk.count("messages", contact_id=one) > 0
        done = await api.post(f"/contacts/{one}/erase", json={"confirm": True}, headers=headers)
    assert done.status_code == 200 and done.json()["attachments"] == 1
    assert await desk.count("messages", contact_id=one) == 0
