""" "Agendar lembrete…" from a conversation: the contact panel offers it once the patient is
known, the dialog starts with that patient and number, and the main window wires the two
together, for receptionists too (one patient at a time: no campaign in their dialog)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtWidgets import QAbstractItemView

from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_contact import ContactProfile
from app.ui.client_types import BranchRole, Channel, Me, QuickReply
from app.ui.contact_panel import ContactPanel
from app.ui.login import LoginResult
from app.ui.main_window import MainWindow
from app.ui.reminder_dialog import NewReminderDialog
from tests.helpers.desk import make_ticket

PHONE = "+5511987654321"


def profile(opted_out: bool = False) -> ContactProfile:
    refused = datetime(2026, 11, 1, tzinfo=UTC) if opted_out else None
    return ContactProfile(107, "Paciente 7", PHONE, ("phone",), refused, ())


def channel(channel_id: int, name: str) -> Channel:
    return Channel(channel_id, 1, name, name, "simulator", None, True, "CONNECTED", None, 0)


def _panel(qtbot: Any, can_remind: bool) -> ContactPanel:
    panel = ContactPanel(DeskClient("http://127.0.0.1:9"))
    qtbot.addWidget(panel)
    panel.set_can_remind(can_remind)
    panel.ticket = make_ticket(7, channel_id=3)
    panel._show_profile(profile())  # what the profile's arrival does
    return panel


def test_schedulers_get_the_button_with_the_patient_and_number(qtbot: Any) -> None:
    panel = _panel(qtbot, can_remind=True)
    asked: list[tuple[int, str, int]] = []
    panel.reminderRequested.connect(lambda *a: asked.append(a))
    assert panel.remind_btn.isVisibleTo(panel) and panel.remind_btn.isEnabled()
    panel.remind_btn.click()
    assert asked == [(107, "Paciente 7 · (11) 98765-4321", 3)]


def test_no_button_without_the_right_and_none_enabled_after_an_opt_out(qtbot: Any) -> None:
    assert not _panel(qtbot, can_remind=False).remind_btn.isVisibleTo(None)
    panel = _panel(qtbot, can_remind=True)
    panel._show_profile(profile(opted_out=True))
    assert not panel.remind_btn.isEnabled()
    assert panel.remind_btn.toolTip() == "O paciente pediu para não receber lembretes."


async def test_the_dialog_starts_with_the_patient_and_the_conversations_number(
    qtbot: Any,
) -> None:
    client = DeskClient("http://127.0.0.1:9")
    channels = [channel(2, "Recepção"), channel(3, "Exames")]
    dialog = NewReminderDialog(client, None, channels)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.preset(107, "Paciente 7 · (11) 98765-4321", 3)
    dialog.text.setPlainText("Olá {primeiro_nome}, sua consulta é amanhã às 9h.")
    new = dialog.request()
    assert new is not None
    assert (new.channel_id, new.contact_ids) == (3, (107,))
    assert dialog.found.item(0).text() == "Paciente 7 · (11) 98765-4321"
    await dialog.settle()  # its quick-reply read (nothing answers there) has ended
    await client.close()


async def test_the_main_window_opens_the_dialog_for_every_role(qtbot: Any) -> None:
    for role, campaigns in (("supervisor", True), ("receptionist", False)):
        client = DeskClient("http://127.0.0.1:9")  # nothing answers; the pages show as built
        me = Me(1, "u", "U", False, (BranchRole(1, "Centro", role),))
        window = MainWindow(client, EventBridge(client.events_url), LoginResult(me, None))
        qtbot.addWidget(window)
        assert window.inbox.contact.can_remind
        assert window.contacts_page.can_export is campaigns  # LGPD export: supervisors up
        assert not window.contacts_page.can_erase  # erasure: admins only
        window.inbox.contact.reminderRequested.emit(107, "Paciente 7", 3)
        dialog = window.reminders_page.dialog
        assert dialog is not None and dialog.chosen_contacts() == [107]
        assert dialog.campaigns is campaigns
        multi = dialog.found.selectionMode() == QAbstractItemView.SelectionMode.MultiSelection
        assert multi is campaigns
        dialog.reject()
        await window.settle()
        await client.close()


class TemplateClient:
    """Answers the quick replies of branch 1 only."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def quick_replies(self, branch_id: int) -> list[QuickReply]:
        self.asked.append(branch_id)
        return [
            QuickReply("consulta", "Olá {primeiro_nome}, sua consulta na {clinica} é amanhã."),
            QuickReply("protocolo", "Seu protocolo é {protocolo}."),  # not for a reminder
        ]


async def test_quick_replies_are_offered_as_ready_texts(qtbot: Any) -> None:
    client = TemplateClient()
    dialog = NewReminderDialog(client, None, [channel(2, "Recepção")])  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    await dialog.settle()
    assert client.asked == [1]  # the sending number's branch
    offered = [dialog.template.itemText(i) for i in range(dialog.template.count())]
    assert offered == [
        "Escrever a mensagem",
        "/consulta · Olá {primeiro_nome}, sua consulta na {clinica} é …",  # shortened
    ]
    dialog.template.activated.emit(1)
    assert dialog.text.toPlainText() == "Olá {primeiro_nome}, sua consulta na {clinica} é amanhã."
