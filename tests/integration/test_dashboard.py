"""``GET /stats/dashboard`` over a real store with known tickets and messages: figures, the
branch's own "today", and scoping (super admin, admin, receptionist, another branch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.api.app import create_app
from app.domain.roles import Role
from app.services.dashboard import DashboardService
from app.store import schema
from app.store.repositories import SqlTx
from tests.integration.conftest import SUPER, FakeClock, Installation

# 12:30 in São Paulo (UTC-3): "today" there began at 03:00 UTC.
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def local(hour: int, minute: int = 0, day: int = 10) -> datetime:
    """A São Paulo wall-clock time on ``day`` of March 2026, as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) + timedelta(hours=3)


class Seeder:
    """Inserts channels, contacts, tickets and messages with chosen times."""

    def __init__(self, tx: SqlTx) -> None:
        self.c, self.n = tx.conn, 0

    def channel(self, branch_id: int, state: str) -> int:
        self.n += 1
        row = {"branch_id": branch_id, "name": f"c{self.n}", "display_name": f"C{self.n}"}
        row |= {"kind": "simulator", "state": state, "created_at": NOW}
        return int(self.c.execute(schema.channels.insert().values(**row)).inserted_primary_key[0])

    def ticket(self, branch_id: int, channel_id: int, created: datetime, **times: Any) -> int:
        self.n += 1
        person = {"branch_id": branch_id, "phone_e164": f"+55119{self.n:08d}"}
        person |= {"created_at": created, "updated_at": created}
        contact = self.c.execute(schema.contacts.insert().values(**person)).inserted_primary_key
        row = {"branch_id": branch_id, "contact_id": contact[0], "channel_id": channel_id}
        row |= {"last_activity_at": created, "created_at": created} | times
        return int(self.c.execute(schema.tickets.insert().values(**row)).inserted_primary_key[0])

    def message(self, ticket_id: int, channel_id: int, direction: str, at: datetime) -> None:
        self.n += 1
        row = {"ticket_id": ticket_id, "channel_id": channel_id, "chat_jid": f"x{self.n}"}
        row |= {"wa_id": f"w{self.n}", "direction": direction, "body": "segredo"}
        row |= {"sent_at": at, "stored_at": at}
        self.c.execute(schema.messages.insert().values(**row))

    def asked(self, branch_id: int, channel_id: int, sent: datetime, answer: str | None) -> None:
        """A reminder that asked for confirmation, last sent at ``sent``, answered so."""
        self.n += 1
        contact = self.c.execute(
            select(schema.tickets.c.contact_id).where(schema.tickets.c.channel_id == channel_id)
        ).scalar()
        row = {"branch_id": branch_id, "channel_id": channel_id, "contact_id": contact}
        row |= {"body": "lembrete", "status": "done", "created_at": sent, "last_sent_at": sent}
        row |= {"ask_confirmation": True, "answer": answer}
        self.c.execute(schema.reminders.insert().values(**row))

    def queue(self, branch_id: int, name: str, order: int) -> int:
        row = {"branch_id": branch_id, "name": name, "menu_order": order}
        return int(self.c.execute(schema.queues.insert().values(**row)).inserted_primary_key[0])


def seed(tx: SqlTx, centro: int, sul: int) -> None:
    s = Seeder(tx)
    ch = s.channel(centro, "CONNECTED")
    s.channel(centro, "DISCONNECTED")
    sul_ch = s.channel(sul, "CONNECTED")
    exames = s.queue(centro, "Exames", 2)  # made first, second in the menu
    consultas = s.queue(centro, "Consultas", 1)
    answered = s.ticket(
        centro, ch, local(9, 10), status="closed", queue_id=exames,
        first_response_at=local(9, 20), closed_at=local(10, 10),
    )  # fmt: skip
    s.message(answered, ch, "in", local(9, 10))
    s.message(answered, ch, "in", local(9, 40))
    s.message(answered, ch, "out", local(10, 5))
    old = s.ticket(centro, ch, local(23, 0, day=9), queue_id=consultas)  # pending since yesterday
    s.message(old, ch, "in", local(23, 0, day=9))  # 02:00 UTC today, yesterday locally
    s.ticket(centro, ch, local(11, 0))  # pending, unanswered
    other = s.ticket(sul, sul_ch, local(8, 0))
    s.message(other, sul_ch, "in", local(8, 0))
    for answer in ("confirmed", "confirmed", "declined", None):  # asked today
        s.asked(centro, ch, local(8, 0), answer)
    s.asked(centro, ch, local(8, 0, day=9), "confirmed")  # yesterday's: not today's figure


@pytest.fixture
async def api(fresh: Installation) -> Any:
    centro, sul = fresh.branch_ids["Centro"], fresh.branch_ids["Sul"]
    await fresh.core.store.transaction(lambda tx: seed(tx, centro, sul))
    fresh.core.dashboard = DashboardService(fresh.core.store, FakeClock(NOW))
    transport = httpx.ASGITransport(app=create_app(fresh.core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as client:
        yield client


async def _get(api: httpx.AsyncClient, inst: Installation, who: str, **params: Any) -> Any:
    user_id = inst.actors[who].user_id
    headers = {"Authorization": f"Bearer {inst.core.tokens.issue(user_id)}"}
    return await api.get("/stats/dashboard", params=params, headers=headers)


async def test_figures_of_one_branch_today(api: httpx.AsyncClient, fresh: Installation) -> None:
    centro = fresh.branch_ids["Centro"]
    body = (await _get(api, fresh, SUPER, branch_id=centro)).json()
    assert (body["channels_connected"], body["channels_total"]) == (1, 2)
    assert (body["messages_in"], body["messages_out"]) == (2, 1)  # yesterday's 23:00 excluded
    assert body["waiting"] == 2
    assert body["avg_first_response_s"] == 600.0
    assert body["avg_resolution_s"] == 3600.0
    assert body["hourly_in"][9] == 2 and body["hourly_out"][10] == 1
    assert sum(body["hourly_in"]) == 2 and len(body["hourly_in"]) == 24
    assert "segredo" not in str(body)
    confirmations = [body[f"reminders_{k}"] for k in ("asked", "confirmed", "declined")]
    assert confirmations == [4, 2, 1]


async def test_figures_per_queue_in_menu_order_then_no_queue(
    api: httpx.AsyncClient, fresh: Installation
) -> None:
    body = (await _get(api, fresh, SUPER, branch_id=fresh.branch_ids["Centro"])).json()
    rows = [
        (q["name"], q["waiting"], q["avg_first_response_s"], q["resolved"], q["avg_resolution_s"])
        for q in body["queues"]
    ]
    assert rows == [
        ("Consultas", 1, None, 0, None),
        ("Exames", 0, 600.0, 1, 3600.0),
        (None, 1, None, 0, None),  # the pending ticket of 11:00 is in no queue
    ]
    assert sum(q["waiting"] for q in body["queues"]) == body["waiting"]


async def test_super_admin_sees_every_branch(api: httpx.AsyncClient, fresh: Installation) -> None:
    body = (await _get(api, fresh, SUPER)).json()
    assert sorted(body["branch_ids"]) == sorted(fresh.branch_ids.values())
    assert (body["messages_in"], body["channels_connected"], body["waiting"]) == (3, 2, 3)
    assert body["hourly_in"][8] == 1


async def test_staff_see_only_their_branches(api: httpx.AsyncClient, fresh: Installation) -> None:
    rec = await fresh.add_staff(Role.RECEPTIONIST, "Sul", "rec.sul")
    await fresh.add_staff(Role.ADMIN, "Centro", "adm.centro")
    mine = (await _get(api, fresh, "rec.sul")).json()
    assert mine["branch_ids"] == list(rec.branch_ids)
    assert (mine["messages_in"], mine["waiting"], mine["avg_first_response_s"]) == (1, 1, None)
    centro = fresh.branch_ids["Centro"]
    refused = await _get(api, fresh, "rec.sul", branch_id=centro)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "entity.not_found"
    admin = (await _get(api, fresh, "adm.centro")).json()
    assert admin["branch_ids"] == [centro] and admin["messages_in"] == 2


async def test_requires_a_login(api: httpx.AsyncClient) -> None:
    assert (await api.get("/stats/dashboard")).status_code == 401
