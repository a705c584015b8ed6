"""Clínica: the weekly hours grid, and the page on a real engine (settings saved with only
what changed, quick replies added, changed and deleted, supervisors read-only)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt, QTime

from app.domain.hours_text import hours_json, hours_text
from app.ui.client import DeskClient
from app.ui.client_clinic import QueueRow, StaffRow
from app.ui.client_types import BranchRole, Me
from app.ui.clinic_hours import HoursGrid
from app.ui.clinic_page import ClinicPage, SettingsForm
from app.ui.clinic_queues import MembersDialog
from tests.helpers.cli import PASSWORD, EngineProcess, init_installation
from tests.helpers.desk import until

WEEK = "seg-sex 08:00-12:00 13:00-18:00; sab 08:00-12:00"


def _grid(qtbot: Any, typed: str | None) -> HoursGrid:
    grid = HoursGrid()
    qtbot.addWidget(grid)
    grid.set_hours(hours_json(typed) if typed else None)
    return grid


# ---- the hours grid -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", [WEEK, "seg,qua 07:30-11:00; sab-dom 09:00-13:00", "dom 10:00-14:00"]
)
def test_stored_hours_come_back_from_the_grid_unchanged(qtbot: Any, typed: str) -> None:
    grid = _grid(qtbot, typed)
    assert grid.typed() == hours_text(hours_json(typed)) and grid.problem() is None
    assert not grid.note.isVisibleTo(grid)


def test_always_open_offers_a_usual_week_when_unticked(qtbot: Any) -> None:
    grid = _grid(qtbot, None)
    assert grid.always.isChecked() and grid.typed() == "sempre"
    assert not any(row.open.isEnabled() for row in grid.rows)  # frozen while always open
    grid.always.setChecked(False)
    assert grid.typed() == "seg-sex 08:00-12:00 13:00-18:00"
    saturday = grid.rows[5]
    assert not saturday.times[0].isEnabled()
    saturday.open.setChecked(True)
    assert saturday.times[0].isEnabled() and not saturday.times[2].isEnabled()


def test_impossible_hours_are_explained(qtbot: Any) -> None:
    grid = _grid(qtbot, WEEK)
    grid.rows[0].times[1].setTime(QTime(7, 0))  # Monday: 08:00 to 07:00
    assert grid.problem() == "Em cada período, o fim deve ser depois do início."
    for row in grid.rows:
        row.open.setChecked(False)
    assert grid.problem() == 'Marque ao menos um dia aberto, ou "Sempre aberto".'


def test_a_day_with_more_than_two_periods_is_flagged(qtbot: Any) -> None:
    grid = _grid(qtbot, "seg 08:00-10:00 11:00-12:00 14:00-18:00")
    assert grid.note.isVisibleTo(grid)
    assert grid.typed() == "seg 08:00-10:00 11:00-12:00"


def test_the_page_is_for_admins_and_supervisors() -> None:
    def me(role: str, super_admin: bool = False) -> Me:
        return Me(1, "u", "U", super_admin, (BranchRole(1, "Centro", role),))

    assert [ClinicPage.shown_to(me(r)) for r in ("admin", "supervisor", "receptionist")] == [
        True, True, False,
    ]  # fmt: skip
    assert ClinicPage.shown_to(Me(1, "root", "Root", True, ()))


class SlowFirst:
    """Answers GET /branches/{id}/settings; branch 1's answer waits until branch 2's is out."""

    def __init__(self) -> None:
        self.second_done = asyncio.Event()

    async def call(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        branch_id = int(path.split("/")[2])
        if branch_id == 1:
            await self.second_done.wait()
        else:
            self.second_done.set()
        return {"branch_id": branch_id, "name": f"B{branch_id}", "timezone": "America/Manaus",
                "clinic_name": f"Clínica {branch_id}"}  # fmt: skip


async def test_a_late_answer_for_the_previous_branch_is_not_shown(qtbot: Any) -> None:
    form = SettingsForm(SlowFirst())  # type: ignore[arg-type]
    qtbot.addWidget(form)
    form.show_branch(1, editable=True)
    form.show_branch(2, editable=True)
    await form.settle()
    assert (form.branch_id, form.clinic_name.text()) == (2, "Clínica 2")


class Recorder:
    """Records the engine calls a dialog makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def call(self, method: str, path: str, **_: Any) -> None:
        self.calls.append((method, path))


async def test_members_not_listed_are_left_in_the_queue(qtbot: Any) -> None:
    staff = [StaffRow(1, "ana", "Ana"), StaffRow(2, "bia", "Bia")]
    client = Recorder()
    queue = QueueRow(9, "Exames", "#10B981", None, 1)
    dialog = MembersDialog(client, queue, staff, {1, 7}, None)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.people.item(0).setCheckState(Qt.CheckState.Unchecked)  # Ana out
    dialog.people.item(1).setCheckState(Qt.CheckState.Checked)  # Bia in
    dialog.submit()
    await dialog.settle()
    # 7 (say, a disabled account, not listed) is neither removed nor touched
    assert client.calls == [("DELETE", "/queues/9/members/1"), ("POST", "/queues/9/members")]
    assert dialog.members == {2, 7}


class TwoBranches:
    """Answers the Clínica page's reads for branches 1 and 2 (no queues, no replies)."""

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        if path.startswith("/branches/"):
            branch_id = int(path.split("/")[2])
            name = f"Clínica {branch_id}"
            return {"branch_id": branch_id, "name": f"B{branch_id}",
                    "timezone": "America/Sao_Paulo", "clinic_name": name}  # fmt: skip
        return []


async def test_unsaved_changes_are_kept_unless_the_admin_discards_them(qtbot: Any) -> None:
    me = Me(1, "adm", "Adm", False, (BranchRole(1, "B1", "admin"), BranchRole(2, "B2", "admin")))
    page = ClinicPage(TwoBranches(), me)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show_branches([(1, "B1"), (2, "B2")])
    await page.settle()
    page.form.clinic_name.setText("Clínica Um, com nome novo")
    answers = [False, True]
    page.confirm_discard = lambda: answers.pop(0)  # type: ignore[method-assign]
    page.branch.setCurrentIndex(1)
    await page.settle()
    assert (page.branch.currentIndex(), page.form.branch_id) == (0, 1)  # stayed
    assert page.form.clinic_name.text() == "Clínica Um, com nome novo"
    page.branch.setCurrentIndex(1)
    await page.settle()
    assert (page.form.branch_id, page.form.clinic_name.text()) == (2, "Clínica 2")
    assert answers == []


async def test_a_branch_added_meanwhile_is_offered_and_the_one_on_screen_stays(
    qtbot: Any,
) -> None:
    me = Me(1, "root", "Root", True, ())
    page = ClinicPage(TwoBranches(), me)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show_branches([(1, "B1")])
    await page.settle()
    page.form.clinic_name.setText("sendo editado")
    page.show_branches([(1, "B1"), (2, "B2")])  # what showing the page again found
    await page.settle()
    assert [page.branch.itemText(i) for i in range(page.branch.count())] == ["B1", "B2"]
    assert page.branch.isVisibleTo(page) and page.branch.currentIndex() == 0
    assert (page.form.branch_id, page.form.clinic_name.text()) == (1, "sendo editado")


# ---- the page on a real engine ----------------------------------------------------------------

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="engine process: POSIX here")


class Engine:
    """A real engine with the branches Centro and Sul, and a supervisor of Centro."""

    def __init__(self, process: EngineProcess) -> None:
        info = process.wait_ready()
        self.process, self.url = process, str(info["url"])
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {info['token']}"}, trust_env=False
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp("clinic")
    data_dir = tmp / "data"
    init_installation(tmp, data_dir)
    found = Engine(EngineProcess(data_dir))
    branch = found.call("POST", "/branches", json={"name": "Centro"})
    found.call("POST", "/branches", json={"name": "Sul"})
    user = {"username": "sup", "display_name": "Sup", "password": PASSWORD, "branch": "Centro"}
    found.call("POST", "/users", json=user | {"role": "supervisor"})
    found.branch_id = branch["id"]  # type: ignore[attr-defined]
    yield found
    found.http.close()
    found.process.stop()


@contextlib.asynccontextmanager
async def page_of(qtbot: Any, engine: Engine, username: str) -> AsyncIterator[ClinicPage]:
    """The Clínica page of ``username``, shown, once its form is loaded."""
    client = DeskClient(engine.url)
    me = await client.login(username, PASSWORD)
    page = ClinicPage(client, me)
    qtbot.addWidget(page)
    page.show()
    await until(lambda: page.form.baseline, "the settings loaded")
    try:
        yield page
    finally:
        await page.settle()
        await client.close()


def _settings(engine: Engine) -> dict[str, Any]:
    return dict(engine.call("GET", f"/branches/{engine.branch_id}/settings"))  # type: ignore[attr-defined]


async def test_an_admin_sets_the_hours_and_only_the_changes_are_sent(
    qtbot: Any, engine: Engine
) -> None:
    async with page_of(qtbot, engine, "root") as page:
        form = page.form
        assert page.branch.count() == 2 and page.branch.isVisibleTo(page)  # root: every branch
        page.branch.setCurrentIndex(page.branch.findData(engine.branch_id))  # type: ignore[attr-defined]
        await until(lambda: form.branch_id == engine.branch_id and form.baseline, "Centro")  # type: ignore[attr-defined]
        await form.settle()
        assert form.grid.always.isChecked() and form.reopen.value() == 120
        form.grid.always.setChecked(False)
        saturday = form.grid.rows[5]
        saturday.open.setChecked(True)
        saturday.second.setChecked(False)
        saturday.times[1].setTime(QTime(12, 0))
        form.out_of_hours.setPlainText("Estamos fechados. Respondemos amanhã cedo.")
        form.clinic_name.setText("Clínica Centro")
        assert set(form.changes()) == {"hours", "out_of_hours_message", "clinic_name"}
        form.save()
        await form.settle()
        assert form.result.text().startswith("Salvo.")
        assert form.changes() == {}
    stored = _settings(engine)
    assert stored["hours"] == WEEK
    assert stored["out_of_hours_message"] == "Estamos fechados. Respondemos amanhã cedo."
    assert (stored["clinic_name"], stored["reopen_window_minutes"]) == ("Clínica Centro", None)


async def test_the_automatic_texts_show_their_defaults_and_save_the_clinics_words(
    qtbot: Any, engine: Engine
) -> None:
    async with page_of(qtbot, engine, "root") as page:
        form = page.form
        page.branch.setCurrentIndex(page.branch.findData(engine.branch_id))  # type: ignore[attr-defined]
        await until(lambda: form.branch_id == engine.branch_id and form.baseline, "Centro")  # type: ignore[attr-defined]
        await form.settle()
        confirmed = form.texts["confirmed_reply"]
        assert confirmed.text() == ""  # blank: the default is sent, and shown greyed
        assert confirmed.placeholderText() == "Obrigado! Sua presença está confirmada."
        confirmed.setText("Confirmado! Até amanhã.")
        assert form.changes() == {"confirmed_reply": "Confirmado! Até amanhã."}
        form.save()
        await form.settle()
        assert form.result.text().startswith("Salvo.")
        form.texts["opt_in_reply"].setText("x" * 1001)
        form.save()
        await form.settle()
        assert "mensagens automáticas" in form.result.text()
    stored = _settings(engine)
    assert stored["confirmed_reply"] == "Confirmado! Até amanhã."
    assert stored["opt_in_reply"] is None


async def test_impossible_hours_are_not_sent(qtbot: Any, engine: Engine) -> None:
    before = _settings(engine)
    async with page_of(qtbot, engine, "sup") as page:  # Centro only: no branch chooser
        assert not page.branch.isVisibleTo(page)
    async with page_of(qtbot, engine, "root") as page:
        page.branch.setCurrentIndex(page.branch.findData(engine.branch_id))  # type: ignore[attr-defined]
        await page.form.settle()
        page.form.grid.always.setChecked(False)
        page.form.grid.rows[0].times[1].setTime(QTime(7, 0))
        page.form.save()
        await page.form.settle()
        assert page.form.result.text() == "Em cada período, o fim deve ser depois do início."
    assert _settings(engine) == before


async def test_a_supervisor_sees_the_settings_but_cannot_change_them(
    qtbot: Any, engine: Engine
) -> None:
    async with page_of(qtbot, engine, "sup") as page:
        assert not page.form.save_button.isVisibleTo(page.form)
        assert not page.form.clinic_name.isEnabled() and not page.form.grid.isEnabled()
        assert page.replies.add_button.isEnabled()  # quick replies are theirs to keep


async def test_quick_replies_are_added_changed_and_deleted(qtbot: Any, engine: Engine) -> None:
    async with page_of(qtbot, engine, "sup") as page:
        tab = page.replies
        await tab.settle()
        for shortcut, text in (("endereco", "Rua das Flores, 100"), ("retorno", "Até breve!")):
            dialog = tab.open_dialog(None)
            dialog.shortcut.setText("/" + shortcut)
            dialog.text.setPlainText(text)
            dialog.submit()
            await tab.settle()
        assert [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())] == [
            "/endereco", "/retorno",
        ]  # fmt: skip
        tab.table.selectRow(1)
        dialog = tab.open_dialog(tab.selected())
        dialog.shortcut.setText("endereco")
        dialog.submit()
        await tab.settle()
        assert dialog.message.text() == "Já existe uma resposta com este atalho."
        dialog.shortcut.setText("volta")
        dialog.text.setPlainText("Até logo, {primeiro_nome}!")
        dialog.submit()
        await tab.settle()
        assert not dialog.isVisible()
        tab.table.selectRow(0)
        tab.confirm_removal = lambda reply: True  # type: ignore[method-assign]
        tab.remove_selected()
        await tab.settle()
        assert tab.status.text() == "Resposta /endereco excluída."
    replies = engine.call("GET", "/quick-replies", params={"branch_id": engine.branch_id})  # type: ignore[attr-defined]
    assert [(r["shortcut"], r["body"]) for r in replies] == [
        ("volta", "Até logo, {primeiro_nome}!")
    ]


async def test_an_admin_sets_up_the_queues_and_who_answers_them(qtbot: Any, engine: Engine) -> None:
    async with page_of(qtbot, engine, "root") as page:
        page.branch.setCurrentIndex(page.branch.findData(engine.branch_id))  # type: ignore[attr-defined]
        tab = page.queues
        await page.settle()
        assert page.tabs.isTabEnabled(page.tabs.indexOf(tab))
        for name, greeting in (("Consultas", "Vamos agendar?"), ("Exames", "")):
            dialog = tab.open_queue(None)
            dialog.name.setText(name)
            dialog.greeting.setPlainText(greeting)
            dialog.submit()
            await tab.settle()
        rows = lambda: [  # noqa: E731
            (tab.table.item(r, 0).text(), tab.table.item(r, 1).text())
            for r in range(tab.table.rowCount())
        ]
        assert rows() == [("1", "Consultas"), ("2", "Exames")]
        tab.table.selectRow(1)
        dialog = tab.open_queue(tab.selected())
        dialog.name.setText("consultas")
        dialog.submit()
        await tab.settle()
        assert dialog.message.text() == "Já existe uma fila com este nome."
        dialog.name.setText("Exames de sangue")
        dialog.order.setValue(0)
        dialog.submit()
        await tab.settle()
        assert rows() == [("0", "Exames de sangue"), ("1", "Consultas")]
        tab.table.selectRow(1)
        members = await tab.open_members(tab.selected())  # type: ignore[arg-type]
        assert members is not None
        people = [members.people.item(i) for i in range(members.people.count())]
        assert [p.text() for p in people] == ["Sup (sup)"]
        people[0].setCheckState(Qt.CheckState.Checked)
        members.submit()
        await tab.settle()
    queues = engine.call("GET", "/queues", params={"branch_id": engine.branch_id})  # type: ignore[attr-defined]
    consultas = next(q for q in queues if q["name"] == "Consultas")
    assert consultas["greeting"] == "Vamos agendar?"
    sup_id = next(u["id"] for u in engine.call("GET", "/users") if u["username"] == "sup")
    assert engine.call("GET", f"/queues/{consultas['id']}/members") == [sup_id]


async def test_a_supervisor_has_no_queues_tab(qtbot: Any, engine: Engine) -> None:
    async with page_of(qtbot, engine, "sup") as page:
        assert not page.tabs.isTabEnabled(page.tabs.indexOf(page.queues))
