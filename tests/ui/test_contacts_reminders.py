"""Contatos and Lembretes against a real engine and simulator on loopback.

A simulated patient writes in; Contatos finds them by name (without accents), shows their
ticket and opens it in Atendimentos. Lembretes schedules a reminder for that patient through
the dialog, lists it as "Agendado" with the patient's name, and cancels it; the engine's own
list agrees. The reminders model passes qtmodeltester.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import unicodedata
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from PySide6.QtCore import QDateTime

from app.simulator.patients import patient_jid, patient_name
from app.ui.client_reminders import Reminder
from app.ui.main_window import MainWindow
from app.ui.reminders_page import (
    COL_ANSWER,
    COL_CHANNEL,
    COL_PATIENT,
    COL_REPEAT,
    COL_STATUS,
    RemindersModel,
    can_schedule,
)
from app.ui.texts import phone_text
from tests.helpers.desk import root_desk, until
from tests.helpers.e2e import LinkedRig as Rig
from tests.helpers.e2e import linked_rig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes: POSIX here")
PATIENT = 23


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with linked_rig(tmp_path_factory.mktemp("contacts"), "Clínica Contatos", "ct-1") as found:
        found.sim.post("/control/inbound", channel=found.account, text="Olá", patient=PATIENT)
        yield found


@contextlib.asynccontextmanager
async def opened(qtbot: Any, qapp: Any, rig: Rig) -> AsyncIterator[MainWindow]:
    """The main window of the super admin, once it lists the channels."""
    async with root_desk(qtbot, qapp, rig.engine.url) as main:
        await until(lambda: main.channels, "the channels listed")
        yield main


def _plain(text: str) -> str:
    """Without accents, lower case: what a hurried receptionist types."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


async def test_contatos_finds_the_patient_and_opens_their_ticket(
    qtbot: Any, qapp: Any, rig: Rig
) -> None:
    async with opened(qtbot, qapp, rig) as window:
        await _find_and_open(window)


async def _find_and_open(window: MainWindow) -> None:
    name = patient_name(PATIENT)
    phone = phone_text("+" + patient_jid(PATIENT).split("@")[0])
    label = f"{name} · {phone}"  # namesakes are told apart by their number
    page = window.contacts_page
    window.show_page(window.stack.indexOf(page))
    page.finder.setText(_plain(name.split()[0]).lower())
    page.search_now()
    names = lambda: [page.results.item(i).text() for i in range(page.results.count())]  # noqa: E731
    await until(lambda: label in names(), "the patient in the results")
    page.finder.setText(phone)  # as the patient says it: "(11) 9xxxx-xxxx"
    page.search_now()
    await until(lambda: names() == [label], "the patient found by phone number")
    page.results.setCurrentRow(0)
    await until(lambda: page.tickets.count() == 1, "the patient's ticket")
    assert page.name.text() == name
    assert re.fullmatch(r"\(\d\d\) 9\d{4}-\d{4}", page.phone.text())  # a Brazilian mobile
    assert not page.opted_out.isVisible()
    page.start.click()  # "Iniciar conversa": Atendimentos, with the number filled in
    dialog = window.inbox.start_dialog
    assert dialog is not None and dialog.isVisible() and dialog.phone.text() == phone
    assert window.stack.currentWidget() is window.inbox
    dialog.reject()
    window.show_page(window.stack.indexOf(page))
    page.tickets.itemClicked.emit(page.tickets.item(0))
    conversation = window.inbox.conversation
    await until(lambda: conversation.ticket is not None, "the ticket opened in Atendimentos")
    assert window.stack.currentWidget() is window.inbox
    assert conversation.ticket is not None and conversation.ticket.contact_name == name


async def test_contatos_saves_the_patients_data_with_a_password(
    qtbot: Any, qapp: Any, rig: Rig, tmp_path: Path
) -> None:
    async with opened(qtbot, qapp, rig) as window:
        page = window.contacts_page
        assert page.can_export  # root is a super admin
        await _find_and_open(window)
        window.show_page(window.stack.indexOf(page))
        assert page.export.isVisible()
        target = tmp_path / "dados.zip"
        page.export_to(target)
        await until(lambda: "Senha:" in page.export_notice.text(), "the password shown")
        password = page.export_notice.text().split("Senha: ")[1].split()[0]
        assert re.fullmatch(r"([A-Z2-9]{4}-){4}[A-Z2-9]{4}", password)
        with pyzipper.AESZipFile(target) as archive:
            archive.setpassword(password.encode("ascii"))
            data = json.loads(archive.read("dados.json"))
        assert data["paciente"]["nome"] == patient_name(PATIENT)
        assert [p.name for p in tmp_path.iterdir()] == ["dados.zip"]  # no partial left
        page.export_to(tmp_path / "missing-folder" / "x.zip")  # a folder that is not there
        await until(lambda: "salvar" in page.export_notice.text(), "the failure explained")
        assert page.export.isEnabled()


async def test_lembretes_schedules_lists_and_cancels(qtbot: Any, qapp: Any, rig: Rig) -> None:
    async with opened(qtbot, qapp, rig) as window:
        await _schedule_and_cancel(window, rig)


async def _schedule_and_cancel(window: MainWindow, rig: Rig) -> None:
    page = window.reminders_page
    window.show_page(window.stack.indexOf(page))
    assert can_schedule(window.login.me) and page.new_button.isVisible()
    page.open_new()
    dialog = page.dialog
    assert dialog is not None
    dialog.submit()  # nothing chosen: the dialog explains, the engine is not asked
    assert dialog.message.text() == "Escolha pelo menos um paciente." and dialog.isVisible()
    name = patient_name(PATIENT)
    dialog.finder.setText(name.split()[0])
    dialog.search_now()
    await until(lambda: dialog.found.count() > 0, "patients found in the dialog")
    dialog.found.item(0).setSelected(True)
    dialog.text.setPlainText("Olá {primeiro_nome}, sua consulta é amanhã.")
    dialog.repeat.setCurrentIndex(2)  # Toda semana
    assert not dialog.ask.isChecked()  # asking is a choice: a campaign may not want answers
    dialog.submit()
    await until(lambda: not dialog.isVisible(), "the dialog closed once scheduled")
    await until(lambda: page.model.rowCount() == 1, "the new reminder listed")
    assert page.model.index(0, COL_PATIENT).data() == name
    (listed,) = rig.engine.call("GET", "/reminders")["items"]
    number = window.channels[listed["channel_id"]].display_name  # one branch: no branch name
    assert page.model.index(0, COL_CHANNEL).data() == number
    assert page.model.index(0, COL_REPEAT).data() == "Toda semana"
    assert page.model.index(0, COL_STATUS).data() == "Agendado"
    assert page.notice.text() == "Lembrete agendado."
    page.table.selectRow(0)
    assert page.cancel_button.isEnabled()
    page.cancel_selected()
    await until(lambda: page.model.index(0, COL_STATUS).data() == "Cancelado", "cancelled")
    stored = rig.engine.call("GET", "/reminders")["items"]
    assert [(r["status"], r["every_days"]) for r in stored] == [("cancelled", 7)]
    assert not stored[0]["ask_confirmation"]
    assert not page.cancel_button.isEnabled()


FAST_LIMITS = {
    "min_gap_s": 1.0, "max_gap_s": 1.0, "per_chat_gap_s": 1.0, "per_minute": 60,
    "typing_s_per_char": 0.005,
}  # fmt: skip


async def test_lembretes_shows_a_2_and_opens_its_conversation(
    qtbot: Any, qapp: Any, rig: Rig
) -> None:
    rig.engine.call("PUT", "/channels/ct-1/limits", json={"send_limits": FAST_LIMITS})
    async with opened(qtbot, qapp, rig) as window:
        page = window.reminders_page
        window.show_page(window.stack.indexOf(page))
        page.filter.setCurrentIndex(page.filter.findText("Pediram para remarcar"))
        await _ask_now(page)
        sent = lambda: str(rig.sim.http.get(f"/control/outbox/{rig.account}").json())  # noqa: E731
        await until(lambda: "2 para remarcar" in sent(), "the question at the patient")
        page.table.clearSelection()
        assert page.model.rowCount() == 0
        rig.sim.post(
            "/control/inbound", channel=rig.account, text="Quero remarcar", patient=PATIENT
        )
        # nobody reloads: the engine's ReminderChanged event does, through the bridge
        await until(lambda: page.model.rowCount() == 1, "the answer listed live")
        assert page.model.index(0, COL_ANSWER).data() == "Pediu para remarcar"
        page.table.selectRow(0)
        page.refresh()  # a reload (another reminder's event) keeps the chosen row
        await page.settle()
        chosen = page.selected()
        assert chosen is not None and chosen.answer == "declined"
        assert page.open_button.isEnabled()
        page.open_button.click()
        conversation = window.inbox.conversation
        await until(lambda: conversation.ticket is not None, "the conversation opened")
        assert window.stack.currentWidget() is window.inbox
        assert conversation.ticket is not None
        assert conversation.ticket.id == page.model.rows[0].asked_ticket_id


async def _ask_now(page: Any) -> None:
    """Schedule, through the dialog, a reminder due now that asks the patient to confirm."""
    page.open_new()
    dialog = page.dialog
    dialog.finder.setText(patient_name(PATIENT).split()[0])
    dialog.search_now()
    await until(lambda: dialog.found.count() > 0, "patients found in the dialog")
    dialog.found.item(0).setSelected(True)
    dialog.text.setPlainText("Sua consulta é amanhã às 9h.")
    dialog.when.setDateTime(QDateTime.currentDateTime())
    dialog.ask.setChecked(True)
    dialog.submit()
    await until(lambda: not dialog.isVisible(), "the dialog closed once scheduled")


def _reminder(n: int, status: str = "scheduled", every: int | None = None) -> Reminder:
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC) + timedelta(days=n)
    return Reminder(n, 1, 1, 100 + n, f"texto {n}", at, every, None, status, None)


def test_the_reminders_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = RemindersModel(lambda channel_id: f"número {channel_id}")
    model.replace_rows([replace(_reminder(1), contact_name="Ana"), _reminder(2, "done", 1)])
    model.append_rows([_reminder(3, "skipped_opt_out", 30)])
    model.update_row(_reminder(1, "cancelled"))  # an action's answer: no name in it
    qtmodeltester.check(model)
    assert [model.index(r, COL_STATUS).data() for r in range(3)] == [
        "Cancelado",
        "Enviado",
        "Não enviado: o paciente pediu para não receber",
    ]
    repeats = [model.index(r, COL_REPEAT).data() for r in range(3)]
    assert repeats == ["Uma vez", "Todo dia", "A cada 30 dias"]
    assert [model.index(r, COL_PATIENT).data() for r in range(2)] == ["Ana", "Paciente nº 102"]
    assert model.index(0, COL_CHANNEL).data() == "número 1"
    changed: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(
        lambda a, b, *_: changed.append((a.row(), a.column(), b.row(), b.column()))
    )
    model.relabel()
    assert changed == [(0, COL_CHANNEL, 2, COL_CHANNEL)]


def test_the_answer_column_says_what_the_patient_replied() -> None:
    model = RemindersModel(lambda channel_id: f"número {channel_id}")
    states = ("confirmed", "declined", "waiting", "no_answer", "pending", None)
    model.replace_rows([replace(_reminder(n), answer_state=s) for n, s in enumerate(states)])
    answers = [model.index(r, COL_ANSWER).data() for r in range(len(states))]
    assert answers == [
        "Confirmou", "Pediu para remarcar", "Aguardando resposta", "Sem resposta",
        "Vai pedir confirmação", "",
    ]  # fmt: skip


async def test_an_admin_erases_a_patient_once_confirmed(qtbot: Any, qapp: Any, rig: Rig) -> None:
    erased = 31  # a patient of this test alone: the others keep theirs
    rig.sim.post("/control/inbound", channel=rig.account, text="Exame alterado", patient=erased)
    found = lambda: rig.engine.call("GET", "/search", params={"q": "alterado"})["messages"]  # noqa: E731
    await until(found, "the patient's message stored")
    async with opened(qtbot, qapp, rig) as window:
        page = window.contacts_page
        assert page.can_erase  # root is a super admin
        window.show_page(window.stack.indexOf(page))
        page.finder.setText(patient_name(erased))
        page.search_now()
        await until(lambda: page.results.count() == 1, "the patient found")
        page.results.setCurrentRow(0)
        await until(lambda: page.contact_id is not None, "the profile shown")
        assert page.erase.isVisible()
        page.erase_confirmed()
        await until(lambda: "apagados" in page.notice.text(), "the erasure confirmed")
        assert page.results.count() == 0 and page.contact_id is None
    assert found() == []  # the engine agrees: the text is gone
