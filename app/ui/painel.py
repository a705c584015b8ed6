"""Painel: today's figures for the user's branch, the same per queue, and a messages-per-hour
bar chart.

The figures come from ``GET /stats/dashboard`` (counts only). The page reloads on bridge
events, at most once every DEBOUNCE_MS (a busy clinic produces many events a minute and the
figures need not be that fresh), and every REFRESH_MS, but only while it is on screen: the
main window reloads it whenever it is shown again, so a hidden page never asks the engine.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_types import Dashboard, QueueFigures
from app.ui.qtutil import named, row_table
from app.ui.tasks import TaskSet

log = logging.getLogger(__name__)
DEBOUNCE_MS = 5_000
REFRESH_MS = 60_000
IN_COLOUR, OUT_COLOUR = QColor("#0B7A6F"), QColor("#8BC34A")
BACKGROUND = QColor("#FFFFFF")
QUEUE_TABLE_HEIGHT = 170  # about five rows; the chart takes the rest


def duration_text(seconds: float | None) -> str:
    """ "4 min", "1 h 05 min", or "—" when there is nothing to average."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return QCoreApplication.translate("Painel", "%1 min").replace("%1", str(minutes))
    text = QCoreApplication.translate("Painel", "%1 h %2 min")
    return text.replace("%1", str(minutes // 60)).replace("%2", f"{minutes % 60:02d}")


class HourlyChart(QWidget):
    """24 pairs of bars (received, sent) for today's hours, painted with QPainter."""

    MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 32.0, 22.0, 8.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hourly_in: tuple[int, ...] = (0,) * 24
        self.hourly_out: tuple[int, ...] = (0,) * 24
        self.setMinimumHeight(220)

    def sizeHint(self) -> QSize:
        return QSize(640, 240)

    def set_counts(self, hourly_in: tuple[int, ...], hourly_out: tuple[int, ...]) -> None:
        self.hourly_in, self.hourly_out = tuple(hourly_in), tuple(hourly_out)
        self.update()

    def bar_rect(self, hour: int, outbound: bool) -> QRectF:
        """Where the bar of ``hour`` is drawn (full height of the plot area, for tests)."""
        plot = self._plot()
        slot = plot.width() / 24
        width = max(1.0, slot * 0.38)
        x = plot.left() + hour * slot + slot * 0.1 + (width if outbound else 0.0)
        value = (self.hourly_out if outbound else self.hourly_in)[hour]
        height = plot.height() * value / self._top()
        return QRectF(x, plot.bottom() - height, width, height)

    def _plot(self) -> QRectF:
        return QRectF(self.rect()).adjusted(
            self.MARGIN_LEFT, self.MARGIN_TOP, -8.0, -self.MARGIN_BOTTOM
        )

    def _top(self) -> int:
        return max(1, *self.hourly_in, *self.hourly_out)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        self._axes(painter)
        for hour in range(24):
            painter.fillRect(self.bar_rect(hour, False), IN_COLOUR)
            painter.fillRect(self.bar_rect(hour, True), OUT_COLOUR)
        painter.end()

    def _axes(self, painter: QPainter) -> None:
        plot = self._plot()
        painter.setPen(QColor("#ECEFF1"))
        for quarter in (1, 2, 3, 4):  # light guides at 25 %, 50 %, 75 %, 100 % of the top
            y = plot.bottom() - plot.height() * quarter / 4
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(QColor("#B0BEC5"))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.setPen(QColor("#546E7A"))
        slot = plot.width() / 24
        for hour in range(0, 24, 3):
            where = QRectF(plot.left() + hour * slot, plot.bottom() + 2, slot * 2, 18)
            painter.drawText(where, Qt.AlignmentFlag.AlignLeft, f"{hour:02d}h")
        top = QRectF(0, plot.top() - 6, self.MARGIN_LEFT - 4, 16)
        painter.drawText(top, Qt.AlignmentFlag.AlignRight, str(self._top()))


class Figure(QFrame):
    """A card: a big number and its caption."""

    def __init__(self, name: str, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setStyleSheet(
            f"QFrame#{name} {{ background: white; border: 1px solid #DADCE0; border-radius: 8px; }}"
        )
        layout = QVBoxLayout(self)
        self.value = named(QLabel("—"), f"{name}Value")
        self.value.setStyleSheet("font-size: 26px; font-weight: bold; color: #0B3D3A;")
        self.caption = QLabel(caption)
        self.caption.setStyleSheet("color: #5F6368;")
        layout.addWidget(self.value)
        layout.addWidget(self.caption)


class PainelPage(QWidget):
    """The dashboard page; :meth:`refresh` loads the figures (never waits on the network)."""

    def __init__(
        self, client: DeskClient, bridge: EventBridge, branch_id: int | None = None,
        branch_name: str = "", parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.branch_id, self.branch_name = client, branch_id, branch_name
        self.figures: Dashboard | None = None
        self._tasks = TaskSet()
        self._build()
        self.debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.debounce.timeout.connect(self._due)
        self.periodic = QTimer(self, interval=REFRESH_MS)
        self.periodic.timeout.connect(self._due)
        self.periodic.start()
        for signal in (bridge.ticketChanged, bridge.inboundReceived, bridge.outboxChanged):
            signal.connect(self.schedule)
        bridge.channelStateChanged.connect(self.schedule)
        bridge.resynced.connect(self.schedule)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        title = self.tr("Painel de hoje")
        head = named(
            QLabel(f"{title} · {self.branch_name}" if self.branch_name else title), "painelTitle"
        )
        head.setStyleSheet("font-size: 18px; font-weight: bold;")
        layout.addWidget(head)
        grid = QGridLayout()
        self.cards = {
            "channels": Figure("figChannels", self.tr("Números conectados")),
            "in": Figure("figIn", self.tr("Mensagens recebidas hoje")),
            "out": Figure("figOut", self.tr("Mensagens enviadas hoje")),
            "waiting": Figure("figWaiting", self.tr("Aguardando atendimento")),
            "first": Figure("figFirst", self.tr("Tempo médio da 1ª resposta")),
            "resolution": Figure("figResolution", self.tr("Tempo médio de resolução")),
            "confirmed": Figure("figConfirmed", self.tr("Confirmaram (lembretes de hoje)")),
            "declined": Figure("figDeclined", self.tr("Pediram para remarcar")),
        }
        for i, card in enumerate(self.cards.values()):
            grid.addWidget(card, i // 4, i % 4)
        layout.addLayout(grid)
        self.queues_caption = QLabel(self.tr("Por fila (hoje)"))
        layout.addWidget(self.queues_caption)
        headers = [self.tr("Fila"), self.tr("Aguardando"), self.tr("1ª resposta (média)"),
                   self.tr("Resolvidos"), self.tr("Resolução (média)")]  # fmt: skip
        self.queue_table = row_table("painelQueues", headers, stretch=0)
        self.queue_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        layout.addWidget(self.queue_table)
        layout.addWidget(QLabel(self.tr("Mensagens por hora (hoje)")))
        self.chart = named(HourlyChart(), "hourlyChart")
        layout.addWidget(self.chart, 1)
        layout.addLayout(self._legend())

    def _legend(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for colour, text in ((IN_COLOUR, self.tr("Recebidas")), (OUT_COLOUR, self.tr("Enviadas"))):
            swatch = QLabel("■")
            swatch.setStyleSheet(f"color: {colour.name()}; font-size: 16px;")
            row.addWidget(swatch)
            row.addWidget(QLabel(text))
        row.addStretch(1)
        return row

    # ---- data ---------------------------------------------------------------------------------

    def schedule(self, *_args: object) -> None:
        """An engine event: reload once the debounce interval has passed (not per event)."""
        if not self.debounce.isActive():
            self.debounce.start()

    def _due(self) -> None:
        """A timer's reload: only while the page is on screen (showing it reloads it)."""
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Load the figures in the background."""
        self._tasks.spawn(self._load())

    async def _load(self) -> None:
        try:
            figures = await self.client.dashboard(self.branch_id)
        except ClinicDeskError as exc:
            log.info("dashboard failed", extra={"code": exc.code.value})
            return
        self.show_figures(figures)

    def show_figures(self, d: Dashboard) -> None:
        self.figures = d
        of = self.tr("%1 de %2").replace("%1", str(d.channels_connected))
        self.cards["channels"].value.setText(of.replace("%2", str(d.channels_total)))
        self.cards["in"].value.setText(str(d.messages_in))
        self.cards["out"].value.setText(str(d.messages_out))
        self.cards["waiting"].value.setText(str(d.waiting))
        self.cards["first"].value.setText(duration_text(d.avg_first_response_s))
        self.cards["resolution"].value.setText(duration_text(d.avg_resolution_s))
        asked = self.tr("%1 de %2").replace("%1", str(d.reminders_confirmed))
        self.cards["confirmed"].value.setText(asked.replace("%2", str(d.reminders_asked)))
        self.cards["declined"].value.setText(str(d.reminders_declined))
        self.chart.set_counts(d.hourly_in, d.hourly_out)
        self.show_queues(d.queues)

    def show_queues(self, queues: tuple[QueueFigures, ...]) -> None:
        """One row per queue (and "Sem fila"); the table hides when the branch has none."""
        self.queue_table.setRowCount(len(queues))
        for row, q in enumerate(queues):
            cells = (q.name or self.tr("Sem fila"), str(q.waiting),
                     duration_text(q.avg_first_response_s), str(q.resolved),
                     duration_text(q.avg_resolution_s))  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.queue_table.setItem(row, column, item)
        for widget in (self.queues_caption, self.queue_table):
            widget.setVisible(bool(queues))
        table = self.queue_table
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        fit = table.horizontalHeader().height() + rows + 2 * table.frameWidth()
        table.setFixedHeight(min(fit, QUEUE_TABLE_HEIGHT))  # no empty band under few queues

    async def settle(self) -> None:
        await self._tasks.settle()
