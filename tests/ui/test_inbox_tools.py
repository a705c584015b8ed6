"""The inbox's previews, filters and search (a fake client records what the desk asks)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt

from app.ui.bridge import EventBridge
from app.ui.client_contact import ContactProfile, ContactTicket
from app.ui.client_types import SearchPage
from app.ui.inbox import InboxPage
from app.ui.inbox_tools import HIT_ROLE
from app.ui.ticket_model import PREVIEW_ROLE, TicketTableModel
from tests.helpers.desk import until
from tests.helpers.fake_desk import FakeDesk, contact_hit, hit


def _inbox(qtbot: Any, fake: FakeDesk) -> InboxPage:
    page = InboxPage(fake, EventBridge("ws://127.0.0.1:9/events"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    return page


async def test_a_row_shows_the_last_message_or_its_kind(qtbot: Any) -> None:
    fake = FakeDesk(5)
    fake.rows[1] = replace(fake.rows[1], preview="Bom dia, posso remarcar?", last_kind="text")
    fake.rows[2] = replace(fake.rows[2], preview=None, last_kind="image", last_direction="in")
    fake.rows[3] = replace(fake.rows[3], preview="Confirmado!", last_direction="out")
    fake.rows[5] = replace(fake.rows[5], preview="Olá! Escolha:", last_direction="out",
                           last_automatic=True)  # fmt: skip
    model = TicketTableModel(fake, "pending")  # type: ignore[arg-type]
    model.set_channel_labels({1: "Recepção"})
    model.fetchMore()
    await model.settle()
    shown = {model.ticket_id(r): model.index(r, 0).data(PREVIEW_ROLE) for r in range(5)}
    assert shown[1] == "Bom dia, posso remarcar?"
    assert shown[2] == "📷 Foto"
    assert shown[3] == "Você: Confirmado!"
    assert shown[4] == "Recepção"  # no message yet: the number it came in on
    assert shown[5] == "Automática: Olá! Escolha:"  # the menu, not a person


async def test_filters_become_the_query_of_every_tab(qtbot: Any) -> None:
    fake = FakeDesk(2)
    page = _inbox(qtbot, fake)
    page.set_queues({7: ("Exames", "#00AA00"), 8: ("Consultas", "#0000AA")})
    page.set_channel_labels({3: "Unidade Centro"})
    await page.settle()
    fake.calls.clear()
    bar = page.filter_bar
    bar.queue.setCurrentIndex(bar.queue.findData(7))
    await page.settle()
    assert {s: f for s, _c, f in fake.called("tickets")} == {
        "pending": {"queue": 7},
        "open": {"queue": 7},
        "closed": {"queue": 7},
    }
    fake.calls.clear()
    bar.channel.setCurrentIndex(bar.channel.findData(3))
    bar.tag.setText("retorno")
    bar.tag.editingFinished.emit()
    bar.mine.setChecked(True)
    await page.settle()
    last = fake.called("tickets")[-1][2]
    assert last == {"queue": 7, "channel": 3, "tag": "retorno", "mine": True}


async def test_a_search_hit_opens_its_ticket_and_more_follows_the_cursor(qtbot: Any) -> None:
    fake = FakeDesk(3)
    fake.search_pages = [
        SearchPage((hit(50, 2),), (contact_hit(101, "Paciente 1"),), 50, None),
        SearchPage((hit(40, 3),), (), None, None),
    ]
    page = _inbox(qtbot, fake)
    await page.settle()
    page.search_box.setText("remarcar")
    page.search_box.returnPressed.emit()
    await page.settle()
    results = page.results
    assert page.stack.currentWidget() is results
    assert fake.called("search") == [("remarcar", None, None)]
    assert results.list.count() == 2 and "«remarcar»" in results.list.item(1).text()
    assert results.more.isVisible()
    results.more.click()
    await page.settle()
    assert fake.called("search")[-1] == ("remarcar", 50, None)
    assert results.list.count() == 3 and not results.more.isVisible()
    item = results.list.item(1)
    assert item.data(HIT_ROLE) == ("ticket", 2)
    rect = results.list.visualItemRect(item)
    qtbot.mouseClick(results.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    await until(lambda: page.conversation.ticket is not None, "the ticket opened")
    await page.settle()
    assert page.conversation.ticket is not None and page.conversation.ticket.id == 2
    page.search_box.clear()
    page.search_box.returnPressed.emit()
    assert page.stack.currentWidget() is page.tabs


async def test_a_contact_hit_not_in_the_lists_opens_their_newest_ticket_the_user_may_open(
    qtbot: Any,
) -> None:
    fake = FakeDesk(3)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    fake.profiles[900] = ContactProfile(900, "Maria", None, ("phone",), None, (
        ContactTicket(3, "open", 1, at, None, False),  # another queue's: not for this user
        ContactTicket(2, "closed", 1, at, at, True),
    ))  # fmt: skip
    fake.profiles[901] = ContactProfile(901, "Ana", None, ("phone",), None, (
        ContactTicket(3, "open", 1, at, None, False),
    ))  # fmt: skip
    page = _inbox(qtbot, fake)
    await page.settle()
    page.results.contactChosen.emit(900)
    await page.settle()
    assert page.conversation.ticket is not None and page.conversation.ticket.id == 2
    assert not page.search_notice.isVisible()
    page.results.contactChosen.emit(901)
    await page.settle()
    assert page.search_notice.isVisible()
    assert page.search_notice.text() == "Nenhum atendimento deste paciente que você possa abrir."


async def test_a_burst_of_events_rereads_the_changed_tickets_in_one_call(qtbot: Any) -> None:
    fake = FakeDesk(3)
    page = _inbox(qtbot, fake)
    fake.calls.clear()
    for _ in range(20):  # a patient sending many messages at once, and a second ticket
        page.bridge.inboundReceived.emit(1, 7)
        page.bridge.ticketChanged.emit(2, "open", "ticket.accept")
    await page.settle()
    rereads = [f["ids"] for _s, _c, f in fake.called("tickets") if "ids" in f]
    assert rereads == [[1, 2]] and fake.called("ticket") == []
