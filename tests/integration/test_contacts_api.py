"""``GET /contacts/{id}``: the desk's contact panel, scoped like the tickets it lists."""

from __future__ import annotations

import json

import httpx

from app.services.ports import Tx
from app.ui.client_contact import contact_of
from tests.integration.test_tickets import World
from tests.integration.test_tickets_api import api, api_world, auth

__all__ = ["api", "api_world"]  # the fixtures, shared with the ticket API tests


async def _contact_of(world: World, ticket: str) -> int:
    rows = await world.centro.rows("tickets", id=world.ticket_ids[ticket])
    return int(rows[0].contact_id)


async def test_profile_for_a_receptionist_of_the_queue(
    api: httpx.AsyncClient, api_world: World
) -> None:
    contact_id = await _contact_of(api_world, "A")
    response = await api.get(f"/contacts/{contact_id}", headers=auth(api_world, "rec.a"))
    assert response.status_code == 200
    body = response.json()
    assert body["phone_e164"].startswith("+55")
    assert "phone" in body["identity_kinds"]
    assert not any("@" in kind for kind in body["identity_kinds"])
    assert body["opted_out_at"] is None
    assert [(t["id"], t["visible"]) for t in body["tickets"]] == [(api_world.ticket_ids["A"], True)]
    assert body["tickets"][0]["status"] == "pending"
    parsed = contact_of(body)  # the desk's client reads this very answer
    assert parsed.phone_e164 == body["phone_e164"] and parsed.tickets[0].visible


async def test_callers_who_see_none_of_its_tickets_get_not_found(
    api: httpx.AsyncClient, api_world: World
) -> None:
    contact_id = await _contact_of(api_world, "A")
    for who in ("rec.b", "rec.sul"):
        response = await api.get(f"/contacts/{contact_id}", headers=auth(api_world, who))
        assert response.status_code == 404, who
    assert (await api.get("/contacts/999999", headers=auth(api_world, "sup"))).status_code == 404
    assert (await api.get(f"/contacts/{contact_id}")).status_code == 401


async def test_supervisor_sees_opt_out_and_the_read_is_audited(
    api: httpx.AsyncClient, api_world: World
) -> None:
    contact_id = await _contact_of(api_world, "B")
    store, now = api_world.inst.core.store, api_world.inst.core.clock.now()

    def opt_out(tx: Tx) -> None:
        tx.reminders.set_opted_out(contact_id, now)

    await store.transaction(opt_out)
    body = (await api.get(f"/contacts/{contact_id}", headers=auth(api_world, "sup"))).json()
    assert body["opted_out_at"] is not None
    assert [t["id"] for t in body["tickets"]] == [api_world.ticket_ids["B"]]
    reads = await api_world.centro.rows("audit_log", action="contact.read")
    mine = [r for r in reads if r.object_id == str(contact_id)]
    assert mine and json.loads(mine[-1].details) == {"tickets": 1}
