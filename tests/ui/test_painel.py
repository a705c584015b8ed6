"""The Painel: figures from the client, the hand-painted hourly chart, refresh on events."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from app.ui.bridge import EventBridge
from app.ui.client_types import Dashboard, QueueFigures
from app.ui.painel import BACKGROUND, IN_COLOUR, OUT_COLOUR, HourlyChart, PainelPage


def figures(**changes: Any) -> Dashboard:
    hourly_in = tuple(5 if h == 9 else 0 for h in range(24))
    hourly_out = tuple(3 if h == 14 else 0 for h in range(24))
    base: dict[str, Any] = {
        "channels_connected": 2, "channels_total": 3, "messages_in": 5, "messages_out": 3,
        "waiting": 4, "avg_first_response_s": 420.0, "avg_resolution_s": 3900.0,
        "hourly_in": hourly_in, "hourly_out": hourly_out, "reminders_asked": 40,
        "reminders_confirmed": 25, "reminders_declined": 3,
    }  # fmt: skip
    return Dashboard(**(base | changes))


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[int | None] = []

    async def dashboard(self, branch_id: int | None = None) -> Dashboard:
        self.calls.append(branch_id)
        return figures()


def _page(qtbot: Any, client: FakeClient) -> PainelPage:
    bridge = EventBridge("ws://127.0.0.1:9/events")
    page = PainelPage(client, bridge, branch_id=7)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show()
    return page


async def test_the_painel_shows_the_figures_of_its_branch(qtbot: Any) -> None:
    client = FakeClient()
    page = _page(qtbot, client)
    page.refresh()
    await page.settle()
    assert client.calls == [7]
    shown = {name: card.value.text() for name, card in page.cards.items()}
    assert shown == {
        "channels": "2 de 3", "in": "5", "out": "3", "waiting": "4",
        "first": "7 min", "resolution": "1 h 05 min", "confirmed": "25 de 40", "declined": "3",
    }  # fmt: skip
    assert page.chart.hourly_in[9] == 5


async def test_events_are_debounced_into_one_pending_refresh(qtbot: Any) -> None:
    client = FakeClient()
    page = _page(qtbot, client)
    for n in range(20):
        page.schedule(n, 1)
    assert page.debounce.isActive()
    page.debounce.timeout.emit()  # the interval has passed: one reload, not twenty
    await page.settle()
    assert client.calls == [7]


async def test_a_hidden_painel_does_not_reload_on_its_timers(qtbot: Any) -> None:
    client = FakeClient()
    page = _page(qtbot, client)
    page.hide()  # another page is on screen, or the window is closed
    page.schedule(1, 1)
    page.debounce.timeout.emit()
    page.periodic.timeout.emit()
    await page.settle()
    assert client.calls == []
    page.show()
    page.periodic.timeout.emit()  # on screen again: the minute's reload happens
    await page.settle()
    assert client.calls == [7]


def _colour(image: Any, point: Any) -> QColor:
    return QColor(image.pixel(round(point.x()), round(point.y())))


async def test_the_chart_paints_bars_where_the_counts_are(qtbot: Any) -> None:
    chart = HourlyChart()
    chart.resize(600, 240)
    qtbot.addWidget(chart)
    chart.show()
    data = figures()
    chart.set_counts(data.hourly_in, data.hourly_out)
    image = chart.grab().toImage()
    assert _colour(image, chart.bar_rect(9, False).center()) == IN_COLOUR
    assert _colour(image, chart.bar_rect(14, True).center()) == OUT_COLOUR
    empty_hour = QPointF(chart.bar_rect(3, False).center().x(), chart.height() / 2)
    assert _colour(image, empty_hour) == BACKGROUND  # no count: nothing painted there
    tallest = chart.bar_rect(9, False)
    assert tallest.height() > chart.bar_rect(14, True).height() > 0


def test_figures_per_queue_show_in_a_table_that_hides_without_queues(qtbot: Any) -> None:
    page = _page(qtbot, FakeClient())
    queues = (
        QueueFigures("Consultas", 3, 300.0, 2, 4000.0),
        QueueFigures(None, 1, None, 0, None),
    )
    page.show_figures(figures(queues=queues))
    table = page.queue_table
    cells = [[table.item(r, c).text() for c in range(5)] for r in range(table.rowCount())]
    assert cells == [
        ["Consultas", "3", "5 min", "2", "1 h 07 min"],
        ["Sem fila", "1", "—", "0", "—"],
    ]
    assert table.isVisibleTo(page)
    page.show_figures(figures())
    assert not table.isVisibleTo(page) and not page.queues_caption.isVisibleTo(page)
