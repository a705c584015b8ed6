"""The ticket desk API in process (httpx ASGI transport) over a real core: pages, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.api.app import create_app
from tests.integration.test_tickets import World, build_world


@pytest.fixture(scope="module")
def api_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = asyncio.run(build_world(tmp_path_factory.mktemp("tickets-api")))
    yield world
    world.inst.core.close()


@pytest.fixture
async def api(api_world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_world.inst.core)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as client:
        yield client


def auth(world: World, who: str) -> dict[str, str]:
    token = world.inst.core.tokens.issue(world.actors[who].user_id)
    return {"Authorization": f"Bearer {token}"}


async def test_list_is_scoped_to_the_receptionist(api: httpx.AsyncClient, api_world: World) -> None:
    response = await api.get("/tickets", headers=auth(api_world, "rec.a"))
    assert response.status_code == 200
    ids = {t["id"] for t in response.json()["items"]}
    assert ids == {api_world.ticket_ids["A"], api_world.ticket_ids["unqueued"]}


async def test_pages_follow_the_cursor(api: httpx.AsyncClient, api_world: World) -> None:
    headers, seen, cursor = auth(api_world, "root"), [], None
    while True:
        params: dict[str, str | int] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        body = (await api.get("/tickets", params=params, headers=headers)).json()
        seen += [t["id"] for t in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert sorted(seen) == sorted(api_world.ticket_ids.values())


async def test_rows_by_id_are_only_those_the_caller_may_see(
    api: httpx.AsyncClient, api_world: World
) -> None:
    ids = api_world.ticket_ids
    asked = [ids["A"], ids["B"], ids["sul"], ids["unqueued"], 999_999]
    params = {"ids": asked, "limit": len(asked)}
    body = (await api.get("/tickets", params=params, headers=auth(api_world, "rec.a"))).json()
    assert {t["id"] for t in body["items"]} == {ids["A"], ids["unqueued"]}
    assert body["next_cursor"] is None
    everyone = (await api.get("/tickets", params=params, headers=auth(api_world, "root"))).json()
    assert {t["id"] for t in everyone["items"]} == set(asked[:4])
    too_many = {"ids": list(range(1, 202))}
    response = await api.get("/tickets", params=too_many, headers=auth(api_world, "root"))
    assert response.status_code == 400


async def test_refusals(api: httpx.AsyncClient, api_world: World) -> None:
    rec, ids = auth(api_world, "rec.a"), api_world.ticket_ids
    assert (await api.get(f"/tickets/{ids['B']}", headers=rec)).status_code == 403
    assert (await api.get(f"/tickets/{ids['sul']}/messages", headers=rec)).status_code == 404
    assert (await api.get(f"/tickets/{ids['A']}")).status_code == 401
    assert (await api.get("/tickets", params={"status": "x"}, headers=rec)).status_code == 400
    queue = {"branch_id": api_world.inst.branch_ids["Centro"], "name": "Nova"}
    assert (await api.post("/queues", json=queue, headers=rec)).status_code == 403


async def test_quick_replies_are_changed_and_removed_over_the_api(
    api: httpx.AsyncClient, api_world: World
) -> None:
    sup, rec = auth(api_world, "sup"), auth(api_world, "rec.a")
    body = {"branch_id": api_world.inst.branch_ids["Centro"], "shortcut": "api", "body": "Oi"}
    made = (await api.post("/quick-replies", json=body, headers=sup)).json()
    path, change = f"/quick-replies/{made['id']}", {"shortcut": "api2", "body": "Olá"}
    assert (await api.put(path, json=change, headers=rec)).status_code == 403
    changed = await api.put(path, json=change, headers=sup)
    assert (changed.status_code, changed.json()["shortcut"]) == (200, "api2")
    assert (
        await api.put(path, json={"shortcut": "a b", "body": "x"}, headers=sup)
    ).status_code == 400
    assert (await api.delete(path, headers=auth(api_world, "rec.sul"))).status_code == 404
    assert (await api.delete(path, headers=sup)).status_code == 204
    assert (await api.delete(path, headers=sup)).status_code == 404


async def test_queues_are_changed_and_members_listed_over_the_api(
    api: httpx.AsyncClient, api_world: World
) -> None:
    root, sup = auth(api_world, "root"), auth(api_world, "sup")
    path = f"/queues/{api_world.queue_ids['B']}"
    assert (await api.patch(path, json={"greeting": "Oi"}, headers=sup)).status_code == 403
    changed = await api.patch(path, json={"greeting": "Olá! Setor B."}, headers=root)
    assert (changed.status_code, changed.json()["greeting"]) == (200, "Olá! Setor B.")
    assert (await api.patch(path, json={"menu_order": 100}, headers=root)).status_code == 400
    members = await api.get(f"{path}/members", headers=root)
    assert members.json() == [api_world.actors["rec.b"].user_id]
    assert (await api.get(f"{path}/members", headers=sup)).status_code == 403


async def test_conversation_and_actions(api: httpx.AsyncClient, api_world: World) -> None:
    rec, ticket_id = auth(api_world, "rec.a"), api_world.ticket_ids["A"]
    messages = (await api.get(f"/tickets/{ticket_id}/messages", headers=rec)).json()
    assert [m["body"] for m in messages["items"] if m["direction"] == "in"] == ["1", "Oi"]
    tags = await api.post(f"/tickets/{ticket_id}/tags/vip", headers=rec)
    assert tags.json() == {"tags": ["vip"]}
    note = await api.post(f"/tickets/{ticket_id}/notes", json={"body": "ok"}, headers=rec)
    assert note.status_code == 201
    accepted = await api.post(f"/tickets/{ticket_id}/accept", headers=rec)
    assert accepted.json()["status"] == "open"
    assert (await api.post(f"/tickets/{ticket_id}/accept", headers=rec)).status_code == 400


async def test_the_routes_are_in_the_openapi_schema(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"/tickets", "/tickets/{ticket_id}/messages", "/queues", "/contacts/merge"} <= set(paths)


async def test_rows_preview_the_newest_message_and_reading_clears_unread(
    api: httpx.AsyncClient, api_world: World
) -> None:
    rec, ticket_id = auth(api_world, "rec.a"), api_world.ticket_ids["A"]
    newest = (await api.get(f"/tickets/{ticket_id}/messages", headers=rec)).json()["items"][0]
    rows = (await api.get("/tickets", headers=rec)).json()["items"]
    (row,) = [t for t in rows if t["id"] == ticket_id]
    preview = " ".join(newest["body"].split())[:100]
    assert (row["last_direction"], row["last_kind"]) == (newest["direction"], newest["kind"])
    assert row["last_automatic"] is newest["automatic"] is True  # queue A's greeting
    assert row["last_preview"] is not None and preview.startswith(row["last_preview"].rstrip("…"))
    read = await api.post(f"/tickets/{ticket_id}/read", headers=rec)
    assert read.status_code == 200 and read.json()["unread_count"] == 0
    other = auth(api_world, "rec.a")
    refused = await api.post(f"/tickets/{api_world.ticket_ids['sul']}/read", headers=other)
    assert refused.status_code in (403, 404)
