"""A branch's settings (``BranchService.settings/configure``, ``GET|PATCH
/branches/{id}/settings``) on a real store: what admins set is what routing uses, a wrong part
refuses the whole change, receptionists may read but not change, and the audit row names the
fields, never their values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from app.api.app import create_app
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Role
from app.services.branches import SettingsChange
from tests.helpers.messaging import make_desk
from tests.integration.conftest import FakeClock, Installation

SUNDAY = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # 12:00 in São Paulo
MONDAY_MORNING = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 09:00 in São Paulo
CLOSED = "Estamos fechados. Atendemos de segunda a sexta, das 8h às 18h."


async def test_what_an_admin_sets_is_what_routing_uses(fresh: Installation) -> None:
    desk = await make_desk(fresh, FakeClock(SUNDAY))
    branches = fresh.core.branches
    change = SettingsChange(hours="seg-sex 08:00-18:00", out_of_hours_message=CLOSED)
    done = await branches.configure(fresh.super_admin, desk.branch_id, change)
    assert json.loads(str(done.business_hours)) == {
        day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
    }
    await desk.ingest(desk.event(text="Oi, vocês abrem hoje?"))  # Sunday noon: closed
    (notice,) = await desk.rows("messages", direction="out")
    assert notice.body == CLOSED
    desk.clock.current = MONDAY_MORNING
    await desk.ingest(desk.event("5511912345678@s.whatsapp.net", text="Bom dia"))
    bodies = [m.body for m in await desk.rows("messages", direction="out")]
    assert bodies.count(CLOSED) == 1  # open on Monday morning: no notice
    (configured,) = [a for a in await desk.rows("audit_log") if a.action == "branch.configure"]
    assert json.loads(configured.details) == {"fields": ["hours", "out_of_hours_message"]}
    assert "fechados" not in configured.details


async def test_a_wrong_part_refuses_the_whole_change(fresh: Installation) -> None:
    centro = fresh.branch_ids["Centro"]
    branches = fresh.core.branches
    before = await branches.settings(fresh.super_admin, centro)
    for change, field in (
        (SettingsChange(hours="seg-sex 08:00-18:00", timezone="Mars/Olympus"), "timezone"),
        (SettingsChange(clinic_name="Sorriso", hours="seg 18:00-08:00"), "hours"),
        (SettingsChange(menu_header="Olá", reopen_window_minutes=-1), "reopen_window_minutes"),
        (SettingsChange(clinic_name="Y", out_of_hours_message="x" * 1001), "out_of_hours_message"),
    ):
        with pytest.raises(ClinicDeskError) as caught:
            await branches.configure(fresh.super_admin, centro, change)
        assert (caught.value.code, caught.value.params["field"]) == (
            ErrorCode.INVALID_INPUT, field,
        )  # fmt: skip
    assert await branches.settings(fresh.super_admin, centro) == before


async def test_clearing_returns_to_the_defaults(fresh: Installation) -> None:
    centro, branches = fresh.branch_ids["Centro"], fresh.core.branches
    set_ = SettingsChange(hours="sab 08:00-12:00", menu_header="Oi!", out_of_hours_message="x")
    await branches.configure(fresh.super_admin, centro, set_)
    clear = SettingsChange(hours="sempre", menu_header="", out_of_hours_message="  ")
    done = await branches.configure(fresh.super_admin, centro, clear)
    assert (done.business_hours, done.menu_header, done.out_of_hours_message) == (None, None, None)


async def test_receptionists_read_but_do_not_change_over_the_api(fresh: Installation) -> None:
    centro = fresh.branch_ids["Centro"]
    rec = await fresh.add_staff(Role.RECEPTIONIST, "Centro", "rec.centro")
    admin = await fresh.add_staff(Role.ADMIN, "Centro", "admin.centro")
    core = fresh.core
    headers = {
        who.username: {"Authorization": f"Bearer {core.tokens.issue(who.user_id)}"}
        for who in (rec, admin)
    }
    path = f"/branches/{centro}/settings"
    body = {"hours": "seg-sex 08:00-12:00 13:00-18:00", "clinic_name": "Clínica Sorriso"}
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        refused = await api.patch(path, json=body, headers=headers["rec.centro"])
        changed = await api.patch(path, json=body, headers=headers["admin.centro"])
        read = await api.get(path, headers=headers["rec.centro"])
        sul = await api.get(
            f"/branches/{fresh.branch_ids['Sul']}/settings", headers=headers["admin.centro"]
        )
        bad = await api.patch(path, json={"hours": "toda hora"}, headers=headers["admin.centro"])
    assert refused.status_code == 403
    assert changed.status_code == 200
    assert changed.json()["hours"] == "seg-sex 08:00-12:00 13:00-18:00"
    assert read.json()["clinic_name"] == "Clínica Sorriso"
    assert sul.status_code == 403
    assert bad.status_code == 400 and bad.json()["error"]["params"]["field"] == "hours"


async def test_the_automatic_texts_are_the_clinics_own_words(fresh: Installation) -> None:
    desk = await make_desk(fresh, FakeClock(MONDAY_MORNING))
    branches, admin = fresh.core.branches, fresh.super_admin
    before = await branches.settings(admin, desk.branch_id)
    assert before.opt_out_reply is None and before.confirmed_reply is None  # defaults apply
    change = SettingsChange(
        opt_out_reply="Tudo certo, não enviaremos mais mensagens.",
        confirmation_prompt="Responda 1 para confirmar ou 2 para cancelar.",
    )
    done = await branches.configure(admin, desk.branch_id, change)
    assert done.confirmation_prompt == "Responda 1 para confirmar ou 2 para cancelar."
    await desk.ingest(desk.event(text="SAIR"))
    bodies = [m.body for m in await desk.rows("messages", direction="out")]
    assert bodies == ["Tudo certo, não enviaremos mais mensagens."]
    cleared = await branches.configure(admin, desk.branch_id, SettingsChange(opt_out_reply=""))
    assert cleared.opt_out_reply is None  # back to the default
    with pytest.raises(ClinicDeskError) as caught:
        await branches.configure(admin, desk.branch_id, SettingsChange(declined_reply="x" * 1001))
    assert caught.value.params["field"] == "declined_reply"
    [audit, *_] = [a for a in await desk.rows("audit_log") if a.action == "branch.configure"]
    assert "Tudo certo" not in audit.details  # names, never values
    transport = httpx.ASGITransport(app=create_app(fresh.core))
    token = fresh.core.tokens.issue((await fresh.add_staff(Role.ADMIN, "Centro")).user_id)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:
        read = await api.get(
            f"/branches/{desk.branch_id}/settings", headers={"Authorization": f"Bearer {token}"}
        )
    body = read.json()
    assert body["defaults"]["confirmed_reply"] == "Obrigado! Sua presença está confirmada."
    assert body["confirmation_prompt"] == "Responda 1 para confirmar ou 2 para cancelar."
