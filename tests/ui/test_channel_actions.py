"""The Canais page's actions and the contact side panel (a fake client records the calls)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from PySide6.QtWidgets import QMessageBox

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.bridge import EventBridge
from app.ui.channels_page import ChannelsPage
from app.ui.client_contact import ContactProfile, ContactTicket, StateChange
from app.ui.client_types import BranchRole, Channel, Me
from app.ui.contact_panel import TICKET_ROLE, ContactPanel
from app.ui.texts import phone_text, with_phone
from tests.helpers.desk import make_ticket
from tests.helpers.fake_desk import T0, FakeDesk

ADMIN = Me(1, "adm", "Admin", False, (BranchRole(1, "Centro", "admin"),))
RECEPTION = Me(2, "ana", "Ana", False, (BranchRole(1, "Centro", "receptionist"),))


def _channel(state: str = "CONNECTED", reason: str | None = None) -> Channel:
    return Channel(7, 1, "recepcao", "Recepção", "whatsapp", "+5511999990001", True, state,
                   reason, 0)  # fmt: skip


def _page(qtbot: Any, fake: FakeDesk, me: Me = ADMIN, state: str = "CONNECTED") -> ChannelsPage:
    page = ChannelsPage(fake, EventBridge("ws://127.0.0.1:9/events"), me=me)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.set_channels([_channel(state)])
    page.show()
    return page


def _click(page: ChannelsPage, key: str) -> None:
    button = page.cards[7].action_buttons[key]
    assert button.isVisible(), key
    button.click()


async def test_only_channel_managers_see_the_actions(qtbot: Any) -> None:
    assert _page(qtbot, FakeDesk(0), RECEPTION).cards[7].action_buttons == {}
    page = _page(qtbot, FakeDesk(0))
    shown = {k for k, b in page.cards[7].action_buttons.items() if b.isVisible()}
    assert shown == {"suspend", "history", "logout"}


async def test_pause_resume_and_reconnect_call_the_engine(qtbot: Any) -> None:
    fake = FakeDesk(0)
    page = _page(qtbot, fake)
    _click(page, "suspend")
    await page.settle()
    page.set_channels([_channel("SUSPENDED")])
    _click(page, "resume")
    await page.settle()
    page.set_channels([_channel("ERROR")])
    _click(page, "resume_reconnect")
    await page.settle()
    assert fake.called("channel_action") == [(7, "suspend"), (7, "resume"), (7, "resume")]


async def test_a_refusal_is_shown_in_portuguese(qtbot: Any) -> None:
    fake = FakeDesk(0)
    fake.refuse = ClinicDeskError(ErrorCode.ACCESS_DENIED, permission="manage_channels")
    page = _page(qtbot, fake)
    _click(page, "suspend")
    await page.settle()
    assert "administradores" in page.cards[7].notice.text()


async def test_logout_asks_first_and_cancel_calls_nothing(qtbot: Any) -> None:
    fake = FakeDesk(0)
    page = _page(qtbot, fake)
    for role, expected in ((QMessageBox.ButtonRole.RejectRole, []), (
        QMessageBox.ButtonRole.DestructiveRole, [(7, "logout")]
    )):  # fmt: skip
        _click(page, "logout")
        box = page.logout_box
        assert isinstance(box, QMessageBox) and "QR" in box.informativeText()
        next(b for b in box.buttons() if box.buttonRole(b) is role).click()
        await page.settle()
        assert fake.called("channel_action") == expected


async def test_pairing_by_code_shows_the_code_big(qtbot: Any) -> None:
    fake = FakeDesk(0)
    page = _page(qtbot, fake, state="QR_REQUIRED")
    _click(page, "code")
    dialog = page.code_dialog
    assert dialog is not None
    dialog.phone.setText("(11) 99999-0001")
    dialog.ask.click()
    await page.settle()
    assert fake.called("pair") == [(7, "(11) 99999-0001")]
    assert dialog.code.text() == "ABCD-1234"


async def test_history_lists_translated_states(qtbot: Any) -> None:
    fake = FakeDesk(0)
    fake.history = [
        StateChange(T0 + timedelta(minutes=5), "CONNECTING", "CONNECTED", "connected"),
        StateChange(T0, "CONNECTED", "CONNECTING", "connection_lost"),
    ]
    page = _page(qtbot, fake)
    _click(page, "history")
    await page.settle()
    dialog = page.history_dialog
    assert dialog is not None
    rows = [dialog.rows.item(i).text() for i in range(dialog.rows.count())]
    assert rows[0].endswith("Conectado")
    assert "Conectando…" in rows[1] and "Reconectando automaticamente" in rows[1]


def test_phone_is_formatted_for_brazil() -> None:
    assert phone_text("+5511987654321") == "(11) 98765-4321"
    assert phone_text("+351912345678").startswith("+351")
    assert phone_text(None) == ""
    assert with_phone("Maria", "+5511987654321") == "Maria · (11) 98765-4321"
    assert with_phone("Maria", None) == "Maria"  # known only by a WhatsApp id


async def test_side_panel_shows_phone_opt_out_and_earlier_tickets(qtbot: Any) -> None:
    fake = FakeDesk(0)
    ticket = replace(make_ticket(5), contact_id=40)
    earlier = (
        ContactTicket(5, "pending", 1, T0, None, True),
        ContactTicket(3, "closed", 1, T0 - timedelta(days=9), T0, True),
        ContactTicket(2, "closed", 2, T0 - timedelta(days=30), T0, False),
    )
    fake.profiles[40] = ContactProfile(40, "Maria", "+5511987654321", ("phone",), T0, earlier)
    panel = ContactPanel(fake)  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    panel.show()
    requested: list[int] = []
    panel.ticketRequested.connect(requested.append)
    panel.show_ticket(ticket)
    await panel.settle()
    assert panel.phone.text() == "(11) 98765-4321"
    assert panel.opted_out.isVisible() and panel.opted_out.text() == "Não quer receber lembretes"
    items = [panel.history.item(i) for i in range(panel.history.count())]
    assert [i.text().split(" ·")[0] for i in items] == ["#3", "#2"]  # the open one is left out
    for item in items:
        panel.history.itemClicked.emit(item)
    assert requested == [3]  # #2 is in a queue the user cannot see
    assert items[1].data(TICKET_ROLE) is None
    assert not panel.no_history.isVisible()


async def test_side_panel_says_when_this_is_the_patients_first_ticket(qtbot: Any) -> None:
    fake = FakeDesk(0)
    ticket = replace(make_ticket(5), contact_id=40)
    only = (ContactTicket(5, "pending", 1, T0, None, True),)
    fake.profiles[40] = ContactProfile(40, "Maria", "+5511987654321", ("phone",), T0, only)
    panel = ContactPanel(fake)  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    panel.show()
    panel.show_ticket(ticket)
    assert not panel.no_history.isVisible()  # not before the profile arrived
    await panel.settle()
    assert panel.no_history.isVisible() and not panel.history.isVisible()
    assert panel.no_history.text() == "Primeiro atendimento deste paciente."


def test_cards_are_built_when_the_page_is_first_shown(qtbot: Any) -> None:
    # Building cards was ~80 ms of the inbox's first paint; a hidden page keeps the newest list.
    page = ChannelsPage(FakeDesk(0), EventBridge("ws://127.0.0.1:9/events"), me=ADMIN)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.set_channels([_channel("CONNECTING")])
    page.set_channels([_channel("DISCONNECTED", "logged_out")])
    assert page.cards == {}
    page.show()
    assert list(page.cards) == [7] and page.cards[7].channel.state == "DISCONNECTED"
    page.set_channels([_channel("CONNECTED")])  # visible: at once
    assert page.cards[7].channel.state == "CONNECTED"
