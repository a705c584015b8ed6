"""Atendimentos: the three inbox tabs beside the conversation pane.

Each tab (Aguardando / Em atendimento / Resolvidos) has its own lazy :class:`TicketTableModel`
and view; the tab bar shows the count of loaded rows. Bridge events go to every tab's model:
a ticket that moves from Aguardando to Em atendimento leaves one and enters the other.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_types import Ticket
from app.ui.contact_panel import ContactPanel
from app.ui.conversation import ConversationPane
from app.ui.inbox_tools import FilterBar, SearchResults
from app.ui.qtutil import named
from app.ui.start_dialog import QueueChoice, StartConversationDialog, queue_choices
from app.ui.tasks import TaskSet
from app.ui.texts import error_text
from app.ui.ticket_model import (
    COL_CONTACT,
    COLOR_ROLE,
    ID_ROLE,
    PREVIEW_ROLE,
    UNREAD_ROLE,
    TicketTableModel,
)

AnyIndex = QModelIndex | QPersistentModelIndex
TABS = ("pending", "open", "closed")
ROW_HEIGHT = 56
SELECTED = "#E8F0FE"


TOUCH_GATHER_MS = 150  # how long ticket changes are gathered before they are re-read


class TicketDelegate(QStyledItemDelegate):
    """The contact cell: queue colour strip, name, last-message preview, unread badge."""

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(260, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        if index.column() != COL_CONTACT:
            super().paint(painter, option, index)
            return
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        r: QRect = option.rect
        painter.fillRect(r, QColor(SELECTED) if selected else QColor("#FFFFFF"))
        colour = index.data(COLOR_ROLE)
        painter.fillRect(QRect(r.left(), r.top() + 4, 4, r.height() - 8), colour or QColor("#DDD"))
        unread = int(index.data(UNREAD_ROLE) or 0)
        text_right = r.right() - (34 if unread else 8)
        name_rect = QRect(r.left() + 12, r.top() + 6, text_right - r.left() - 12, r.height() // 2)
        font = QFont(option.font)
        font.setBold(unread > 0)
        painter.setFont(font)
        painter.setPen(QColor("#111B21"))
        painter.drawText(name_rect, int(Qt.AlignmentFlag.AlignVCenter), str(index.data() or ""))
        preview = str(index.data(PREVIEW_ROLE) or "")
        if preview:
            painter.setFont(option.font)
            painter.setPen(QColor("#667781"))
            below = name_rect.translated(0, r.height() // 2 - 6)
            elided = painter.fontMetrics().elidedText(
                preview, Qt.TextElideMode.ElideRight, below.width()
            )
            painter.drawText(below, int(Qt.AlignmentFlag.AlignVCenter), elided)
        if unread:
            self._badge(painter, r, unread)
        painter.restore()

    @staticmethod
    def _badge(painter: QPainter, r: QRect, unread: int) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        badge = QRect(r.right() - 28, r.center().y() - 10, 22, 20)
        painter.setBrush(QColor("#25D366"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(badge, 10, 10)
        painter.setPen(QColor("#FFFFFF"))
        bold = QFont(painter.font())
        bold.setBold(True)
        painter.setFont(bold)
        label = str(unread) if unread < 100 else "99+"
        painter.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), label)


class InboxPage(QWidget):
    """Tabs of tickets on the left, the chosen conversation on the right."""

    def __init__(
        self, client: DeskClient, bridge: EventBridge, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client, self.bridge = client, bridge
        self.models: dict[str, TicketTableModel] = {}
        self._channel_labels: dict[int, str] = {}
        self.start_queues: list[QueueChoice] = []  # the queues "Nova conversa" offers
        self.start_dialog: StartConversationDialog | None = None
        self._tasks = TaskSet()
        # Tickets to re-read, gathered for a moment: a burst of messages on one ticket (or
        # 1,000 events a second) becomes one read per ticket, not one per event.
        self._dirty: set[int] = set()
        self._touch_timer = QTimer(self, singleShot=True, interval=TOUCH_GATHER_MS)
        self._touch_timer.timeout.connect(self._refresh_dirty)
        self.views: dict[str, QTableView] = {}
        self.tabs = named(QTabWidget(), "inboxTabs")
        titles = (self.tr("Aguardando"), self.tr("Em atendimento"), self.tr("Resolvidos"))
        for status, title in zip(TABS, titles, strict=True):
            self.tabs.addTab(self._make_tab(status), title)
        self.conversation = ConversationPane(client, bridge)
        self.conversation.ticketUpdated.connect(self._touch)
        self.contact = ContactPanel(client)
        self.conversation.ticketShown.connect(self.contact.show_ticket)
        self.contact.ticketUpdated.connect(self._touch)
        self.contact.ticketRequested.connect(self.open_ticket)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._left_column())
        split.addWidget(self.conversation)
        split.addWidget(self.contact)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 1)
        split.setSizes([420, 560, 240])
        self.tabs.setMinimumWidth(380)
        QVBoxLayout(self).addWidget(split)
        bridge.ticketChanged.connect(lambda tid, _s, _a: self._touch(tid))
        bridge.inboundReceived.connect(lambda tid, _c: self._touch(tid))
        bridge.resynced.connect(self.reload)
        self.tabs.currentChanged.connect(lambda _i: self._update_titles())
        for model in self.models.values():
            model.rowsInserted.connect(self._update_titles)
            model.rowsRemoved.connect(self._update_titles)
            model.modelReset.connect(self._update_titles)

    def _left_column(self) -> QWidget:
        """Search box and filters above the tabs; search results replace the tabs meanwhile."""
        self.search_box = named(QLineEdit(), "searchBox")
        self.search_box.setPlaceholderText(self.tr("Buscar mensagens e contatos"))
        self.search_box.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=350)
        self._search_timer.timeout.connect(self._run_search)
        self.search_box.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_box.returnPressed.connect(self._run_search)
        self.filter_bar = FilterBar()
        self.filter_bar.changed.connect(self.set_filters)
        self.results = SearchResults(self.client)
        self.results.ticketChosen.connect(self.open_ticket)
        self.results.contactChosen.connect(self._open_contact)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(self.results)
        self.search_notice = named(QLabel(), "inboxNotice")
        self.search_notice.setStyleSheet("color: #B3261E;")
        self.search_notice.hide()
        self.new_button = named(QPushButton(self.tr("Nova conversa")), "newConversation")
        self.new_button.clicked.connect(lambda _checked=False: self.open_start())
        top = QHBoxLayout()
        top.addWidget(self.search_box, 1)
        top.addWidget(self.new_button)
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        for w in (self.filter_bar, self.search_notice):
            layout.addWidget(w)
        layout.addWidget(self.stack, 1)
        return column

    def open_start(self, phone: str = "") -> StartConversationDialog:
        """The "Nova conversa" dialog (prefilled with ``phone``); the conversation it starts
        opens here."""
        queues = self.start_queues or queue_choices([], receptionist=False)
        dialog = StartConversationDialog(self.client, self._channel_labels, queues, phone, self)
        dialog.started.connect(self.open_ticket)
        self.start_dialog = dialog
        dialog.open()
        return dialog

    def _run_search(self) -> None:
        self._search_timer.stop()
        query = self.search_box.text().strip()
        self.stack.setCurrentWidget(self.results if query else self.tabs)
        if query and query != self.results.query:
            self.results.search(query)
        elif not query:
            self.results.query = ""

    def set_filters(self, filters: dict[str, Any]) -> None:
        """Filter every tab (``GET /tickets`` parameters: queue, channel, tag, mine)."""
        for model in self.models.values():
            model.set_filters(filters)

    def set_me(self, user_id: int | None) -> None:
        """The logged-in user (the "Meus" filter keeps only tickets assigned to them)."""
        for model in self.models.values():
            model.me_id = user_id

    def open_ticket(self, ticket_id: int) -> None:
        """Open a ticket by id (a search hit): read it, then show its conversation."""
        self._spawn(self._open_by_id(ticket_id))

    async def _open_by_id(self, ticket_id: int) -> None:
        try:
            ticket = await self.client.ticket(ticket_id)
        except ClinicDeskError as exc:
            self._notice(error_text(exc))
            return
        self._notice(None)
        self.conversation.show_ticket(ticket)

    def _open_contact(self, contact_id: int) -> None:
        """A contact hit: their most recent ticket among those loaded, else the newest one the
        user may open from their profile (``GET /contacts/{id}``)."""
        found = [m.latest_of_contact(contact_id) for m in self.models.values()]
        latest = max((t for t in found if t), key=_activity, default=None)
        if latest is not None:
            self._notice(None)
            self.conversation.show_ticket(latest)
            return
        self._spawn(self._open_newest_of(contact_id))

    async def _open_newest_of(self, contact_id: int) -> None:
        try:
            profile = await self.client.contact(contact_id)
        except ClinicDeskError as exc:
            self._notice(error_text(exc))
            return
        openable = [t.id for t in profile.tickets if t.visible]  # newest first
        if openable:
            await self._open_by_id(openable[0])
            return
        self._notice(self.tr("Nenhum atendimento deste paciente que você possa abrir."))

    def _notice(self, text: str | None) -> None:
        """Say ``text`` above the lists (None: say nothing)."""
        self.search_notice.setText(text or "")
        self.search_notice.setVisible(text is not None)

    def _make_tab(self, status: str) -> QTableView:
        model = TicketTableModel(self.client, status, parent=self)
        view = named(QTableView(), f"tickets_{status}")
        view.setModel(model)
        view.setItemDelegate(TicketDelegate(view))
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setShowGrid(False)
        pal = view.palette()  # a light selection, the same in every column
        pal.setColor(QPalette.ColorRole.Highlight, QColor(SELECTED))
        pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#111B21"))
        view.setPalette(pal)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        header = view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col, width in ((1, 64), (2, 96)):  # fixed: content-sized columns jump as rows load
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, width)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.clicked.connect(lambda index, m=model: self._open(m, index))
        self.models[status], self.views[status] = model, view
        return view

    def _update_titles(self, *_args: Any) -> None:
        titles = (self.tr("Aguardando"), self.tr("Em atendimento"), self.tr("Resolvidos"))
        for i, (status, title) in enumerate(zip(TABS, titles, strict=True)):
            rows = self.models[status].rowCount()
            self.tabs.setTabText(i, f"{title} ({rows})" if rows and status != "closed" else title)

    def _open(self, model: TicketTableModel, index: QModelIndex) -> None:
        ticket_id = index.data(ID_ROLE)
        ticket = model.cached(ticket_id) if ticket_id is not None else None
        if ticket is not None:
            self.conversation.show_ticket(ticket)

    def open_first(self, status: str = "pending") -> bool:
        """Select and open the first row of a tab (demo and screenshots)."""
        model, view = self.models[status], self.views[status]
        if model.rowCount() == 0:
            return False
        self.tabs.setCurrentIndex(TABS.index(status))
        view.selectRow(0)
        self._open(model, model.index(0, 0))
        return True

    def _touch(self, ticket_id: int) -> None:
        """Re-read the ticket soon (once however often it is touched meanwhile; the read is
        audited) and place it in every tab."""
        if ticket_id > 0:
            self._dirty.add(ticket_id)
            if not self._touch_timer.isActive():
                self._touch_timer.start()

    def _refresh_dirty(self) -> None:
        dirty, self._dirty = sorted(self._dirty), set()
        if dirty:
            self._spawn(self._refresh(dirty))

    async def _refresh(self, ticket_ids: list[int]) -> None:
        """Re-read these rows (batched listing reads); a ticket missing from the answer is no
        longer visible to this user and leaves every tab."""
        try:
            found = await self.client.tickets_by_id(ticket_ids)
        except ClinicDeskError:
            return  # the link is down: the resync after it comes back reloads every tab
        for ticket_id in ticket_ids:
            ticket = found.get(ticket_id)
            for model in self.models.values():
                if ticket is None:
                    model.forget(ticket_id)
                else:
                    model.place(ticket)

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    def reload(self) -> None:
        """Fetch every tab again (after the event stream was away: events may be missed)."""
        for model in self.models.values():
            model.reload()

    def set_channel_labels(self, labels: dict[int, str]) -> None:
        self._channel_labels = dict(labels)
        for model in self.models.values():
            model.set_channel_labels(labels)
        self.filter_bar.set_channels(labels)
        self.contact.set_channel_labels(labels)

    def set_queues(self, queues: dict[int, tuple[str, str]]) -> None:
        for model in self.models.values():
            model.set_queues(queues)
        self.filter_bar.set_queues(queues)
        self.conversation.set_queues(queues)
        self.contact.set_queues(queues)

    async def settle(self) -> None:
        if self._dirty:  # gathered ticket changes are due now
            self._touch_timer.stop()
            self._refresh_dirty()
        await self._tasks.settle()
        await asyncio.gather(*(m.settle() for m in self.models.values()))
        await self.results.settle()
        await self.conversation.settle()
        await self.contact.settle()
        if self.start_dialog is not None:
            await self.start_dialog.settle()


def _activity(t: Ticket) -> Any:
    return t.last_activity_at
