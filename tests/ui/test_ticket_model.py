"""The inbox model: ids only, pages fetched as the view needs them, only changed rows repainted."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from PySide6.QtWidgets import QTableView

from app.ui.client_types import Message
from app.ui.messages_view import MessageModel
from app.ui.qtutil import none_leaks_per_call
from app.ui.ticket_model import ID_ROLE, UNREAD_ROLE, TicketTableModel
from tests.helpers.desk import FakeTickets, make_ticket, until


def _view(qtbot: Any, model: TicketTableModel, height: int = 400) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.resize(500, height)
    qtbot.addWidget(view)
    view.show()
    return view


async def test_a_view_over_10000_tickets_asks_only_for_the_pages_it_shows(qtbot: Any) -> None:
    source = FakeTickets(10_000)
    model = TicketTableModel(source, "pending", page_size=50)
    view = _view(qtbot, model)
    await until(lambda: model.rowCount() == 50, "the first page")
    await model.settle()
    assert source.page_calls == [None]  # one page of 50, not 200 pages
    view.scrollToBottom()  # the view asks for the next page at the end of what it has
    await until(lambda: model.rowCount() == 100, "the second page")
    await model.settle()
    assert source.page_calls == [None, "50"]
    assert source.row_calls == []  # rows came with their pages


async def test_rows_evicted_from_the_cache_are_fetched_again_only_when_shown(qtbot: Any) -> None:
    source = FakeTickets(300)
    model = TicketTableModel(source, "pending", page_size=100, cache_size=100)
    view = _view(qtbot, model, height=300)
    for rows in (100, 200, 300):
        view.scrollToBottom()
        await until(lambda rows=rows: model.rowCount() == rows, f"{rows} rows")
        await model.settle()
    view.scrollToTop()  # the first rows were evicted by the later pages
    await until(lambda: model.cached(1) is not None, "row 1 again")
    await model.settle()
    # Only rows that were on screen (the top ones now, the bottom of each page while the next
    # one came in), never the 200 evicted ones in bulk: the middle of each page stays unasked.
    assert 0 < len(source.row_calls) < 50
    assert 1 in source.row_calls
    assert not set(source.row_calls) & {*range(40, 85), *range(110, 185)}


async def test_only_a_changed_ticket_emits_data_changed_for_its_row(qtbot: Any) -> None:
    source = FakeTickets(20)
    model = TicketTableModel(source, "pending", page_size=50)
    model.fetchMore()
    await model.settle()
    source.rows[4] = replace(source.rows[4], unread_count=9)
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.ticket_touched(4)
        await model.settle()
    top_left, bottom_right = changed.args[0], changed.args[1]
    assert (top_left.row(), bottom_right.row()) == (model.row_of(4), model.row_of(4))
    assert model.index(model.row_of(4) or 0, 0).data(UNREAD_ROLE) == 9
    with qtbot.assertNotEmitted(model.dataChanged), qtbot.assertNotEmitted(model.layoutChanged):
        model.ticket_touched(5)  # unchanged on the engine: nothing to repaint
        await model.settle()


async def test_tickets_leave_enter_and_rise_as_events_report_them(qtbot: Any) -> None:
    source = FakeTickets(10)
    model = TicketTableModel(source, "pending")
    model.fetchMore()
    await model.settle()
    source.rows[3] = replace(source.rows[3], status="open")  # accepted elsewhere
    with qtbot.waitSignal(model.rowsRemoved):
        model.ticket_touched(3)
        await model.settle()
    assert model.row_of(3) is None and model.rowCount() == 9
    source.rows[99] = make_ticket(99, last_activity_at=make_ticket(0).last_activity_at)
    with qtbot.waitSignal(model.rowsInserted):
        model.ticket_touched(99)  # a new patient wrote in
        await model.settle()
    assert model.index(0, 0).data(ID_ROLE) == 99
    newest = source.rows[99].last_activity_at
    source.rows[10] = replace(source.rows[10], last_activity_at=newest.replace(year=2027))
    with qtbot.waitSignal(model.rowsMoved):
        model.ticket_touched(10)
        await model.settle()
    assert model.index(0, 0).data(ID_ROLE) == 10


async def test_the_model_passes_qtmodeltester(qtbot: Any, qtmodeltester: Any) -> None:
    source = FakeTickets(120)
    model = TicketTableModel(source, "pending", page_size=50)
    model.fetchMore()
    await model.settle()
    qtmodeltester.check(model)  # Qt's C++ QAbstractItemModelTester
    await model.settle()


def test_this_pyside_does_not_lose_references_to_none(qtbot: Any) -> None:
    """PySide6 6.12.0 loses a reference to None per None-returning data() call from C++, and
    per qasync timer event; on Python 3.11 a long desk session would abort. The pin (<6.12)
    keeps a release without the bug (app/ui/qtutil.py)."""
    assert none_leaks_per_call() == 0
    before = sys.getrefcount(None)
    for _ in range(500):
        qtbot.wait(0)  # timer events through Qt's loop
    assert sys.getrefcount(None) >= before - 50  # no steady loss (other code may drop a few)


def test_a_reaction_reads_as_one_in_the_conversation(qtbot: Any) -> None:
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    model = MessageModel()
    model.merge([
        Message(1, "in", "text", "Bom dia", "read", at, False),
        Message(2, "in", "reaction", "👍", "read", at, False),
    ])  # fmt: skip
    assert [model.index(r, 0).data() for r in range(2)] == ["Bom dia", "Reagiu com 👍"]
