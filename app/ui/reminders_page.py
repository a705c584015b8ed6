"""Lembretes: the reminders of the user's branches (newest first, filtered by situation or by
the patient's answer), a "Novo lembrete" dialog for supervisors and admins, "Cancelar
lembrete", and "Abrir conversa" for a reminder that asked the patient to confirm.

The table's model holds the fetched reminders (a page of at most 100, "Carregar mais" for the
next), each with the patient's name as the engine's list gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.client import DeskClient
from app.ui.client_reminders import Reminder, RemindersApi
from app.ui.client_types import Channel, Me
from app.ui.qtutil import named
from app.ui.reminder_dialog import NewReminderDialog
from app.ui.tasks import TaskSet
from app.ui.texts import error_text

Index = QModelIndex | QPersistentModelIndex
PAGE = 100
RELOAD_PAUSE_MS = 500  # a campaign firing announces each reminder: one reload for the lot


def can_schedule(me: Me) -> bool:
    """Everyone with a branch may schedule a reminder: receptionists one patient at a time,
    a patient whose conversation they see (the engine enforces which)."""
    return me.super_admin or bool(me.branches)


def can_campaign(me: Me) -> bool:
    """Supervisors and admins also send one text to several patients (a campaign) and see
    every reminder of their branch; others see their own."""
    return me.is_supervisor


def when_text(when: datetime | None) -> str:
    """Local day and time, as a clinic writes it ("24/11 09:00"); "—" when none."""
    return when.astimezone().strftime("%d/%m %H:%M") if when else "—"


COL_PATIENT, COL_CHANNEL, COL_WHEN, COL_REPEAT, COL_TEXT, COL_STATUS, COL_ANSWER = range(7)


def _short(r: Reminder) -> str:
    return r.body if len(r.body) <= 60 else r.body[:59] + "…"


class RemindersModel(QAbstractTableModel):
    """Reminders as rows (a few pages at most: the list is read page by page).

    ``channel_label`` names the number a reminder goes out on (two branches may remind the
    same patient of the same thing: the number tells the rows apart)."""

    def __init__(self, channel_label: Callable[[int], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Reminder] = []
        self._channel_label = channel_label
        self._headers = (
            self.tr("Paciente"), self.tr("Número"), self.tr("Quando"), self.tr("Repetição"),
            self.tr("Mensagem"), self.tr("Situação"), self.tr("Resposta"),
        )  # fmt: skip
        self._cells: tuple[Callable[[Reminder], str], ...] = (
            self._patient,
            lambda r: self._channel_label(r.channel_id),
            self._when,
            self._repeat,
            _short,
            lambda r: self._situation(r.status),
            self._answer,
        )  # one per column, in COL_* order

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and section < len(self._headers):
            return self._headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        return self._cell(self.rows[index.row()], index.column())

    def _cell(self, r: Reminder, column: int) -> str:
        return self._cells[column](r)

    def _patient(self, r: Reminder) -> str:
        return r.contact_name or self.tr("Paciente nº %1").replace("%1", str(r.contact_id))

    @staticmethod
    def _when(r: Reminder) -> str:
        return when_text(r.next_run_at if r.cancellable else r.last_sent_at)

    def _answer(self, r: Reminder) -> str:
        """Where the patient's answer stands (the engine says: ``answer_state``)."""
        return {
            "confirmed": self.tr("Confirmou"),
            "declined": self.tr("Pediu para remarcar"),
            "waiting": self.tr("Aguardando resposta"),
            "no_answer": self.tr("Sem resposta"),
            "pending": self.tr("Vai pedir confirmação"),
        }.get(r.answer_state or "", "")

    def _repeat(self, r: Reminder) -> str:
        if r.cron:
            return self.tr("Programado")
        if not r.every_days:
            return self.tr("Uma vez")
        if r.every_days == 1:
            return self.tr("Todo dia")
        if r.every_days == 7:
            return self.tr("Toda semana")
        return self.tr("A cada %1 dias").replace("%1", str(r.every_days))

    def _situation(self, status: str) -> str:
        return {
            "scheduled": self.tr("Agendado"),
            "done": self.tr("Enviado"),
            "cancelled": self.tr("Cancelado"),
            "skipped_opt_out": self.tr("Não enviado: o paciente pediu para não receber"),
        }.get(status, status)

    def relabel(self) -> None:
        """Repaint the Número column (its labels changed, e.g. the branch names arrived)."""
        if self.rows:
            last = len(self.rows) - 1
            self.dataChanged.emit(self.index(0, COL_CHANNEL), self.index(last, COL_CHANNEL))

    def replace_rows(self, rows: list[Reminder]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def append_rows(self, rows: list[Reminder]) -> None:
        if rows:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self.rows.extend(rows)
            self.endInsertRows()

    def update_row(self, changed: Reminder) -> None:
        """Show ``changed`` (an action's answer, which carries no name: the row keeps it)."""
        for n, r in enumerate(self.rows):
            if r.id == changed.id:
                self.rows[n] = replace(changed, contact_name=r.contact_name)
                self.dataChanged.emit(self.index(n, 0), self.index(n, len(self._headers) - 1))


class RemindersPage(QWidget):
    """The Lembretes page (see the module docstring)."""

    ticketRequested = Signal(int)  # "Abrir conversa": the ticket the reminder asked in

    def __init__(
        self,
        client: DeskClient,
        me: Me,
        channels: Callable[[], list[Channel]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client, self.api, self.me = client, RemindersApi(client), me
        self._channels = channels
        self.branch_names: dict[int, str] = {}  # set once the desk has read them
        self._cursor: str | None = None
        self._tasks = TaskSet()
        self.model = RemindersModel(self.channel_label, self)
        self.dialog: NewReminderDialog | None = None
        self._reload = QTimer(self, singleShot=True, interval=RELOAD_PAUSE_MS)
        self._reload.timeout.connect(self.refresh)
        self._build()

    def channel_label(self, channel_id: int) -> str:
        """The number's name, and its branch's when the list spans several branches."""
        channels = self._channels()
        channel = next((c for c in channels if c.id == channel_id), None)
        if channel is None:
            return "—"
        branch = self.branch_names.get(channel.branch_id, "")
        several = len({c.branch_id for c in channels}) > 1
        return f"{channel.display_name} · {branch}" if several and branch else channel.display_name

    def _build(self) -> None:
        title = QLabel(self.tr("Lembretes"))
        title.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.filter = named(QComboBox(), "reminderFilter")
        self._filter_params = []
        for label, params in self._filters():
            self.filter.addItem(label)
            self._filter_params.append(params)
        self.filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.new_button = named(QPushButton(self.tr("Novo lembrete")), "newReminder")
        self.new_button.setVisible(can_schedule(self.me))
        self.new_button.clicked.connect(self.open_new)
        self.cancel_button = named(QPushButton(self.tr("Cancelar lembrete")), "cancelReminder")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setVisible(can_schedule(self.me))
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.open_button = named(QPushButton(self.tr("Abrir conversa")), "openReminderTicket")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_selected)
        top = QHBoxLayout()
        for widget in (title, self.filter):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.open_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.new_button)
        self.table = self._table()
        self.notice = named(QLabel(), "reminderNotice")
        self.notice.setWordWrap(True)
        self.more = named(QPushButton(self.tr("Carregar mais")), "moreReminders")
        self.more.hide()
        self.more.clicked.connect(self.load_more)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.more, 0, Qt.AlignmentFlag.AlignHCenter)

    def _filters(self) -> list[tuple[str, dict[str, str]]]:
        return [
            (self.tr("Agendados"), {"status": "scheduled"}),
            (self.tr("Enviados"), {"status": "done"}),
            (self.tr("Aguardando resposta"), {"answer": "waiting"}),
            (self.tr("Confirmaram"), {"answer": "confirmed"}),
            (self.tr("Pediram para remarcar"), {"answer": "declined"}),
            (self.tr("Cancelados"), {"status": "cancelled"}),
            (self.tr("Todos"), {}),
        ]

    def _table(self) -> QTableView:
        table = named(QTableView(), "reminderTable")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_TEXT, QHeaderView.ResizeMode.Stretch)
        table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        return table

    # ---- loading ------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def reminder_changed(self, _reminder_id: int, _status: str) -> None:
        """A reminder was sent, answered or cancelled: reload the list if it is on screen."""
        if self.isVisible():
            self._reload.start()

    def refresh(self, notice: str = "") -> None:
        """Reload the first page for the chosen situation; then show ``notice`` (if any)."""
        self._tasks.spawn(self._load(more=False, notice=notice))

    def load_more(self) -> None:
        if self._cursor:
            self._tasks.spawn(self._load(more=True))

    async def _load(self, *, more: bool, notice: str = "") -> None:
        try:
            rows, cursor = await self.api.page(
                self._filter_params[self.filter.currentIndex()],
                self._cursor if more else None,
                PAGE,
            )
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))
            return
        self._cursor = cursor
        self.more.setVisible(cursor is not None)
        chosen = self.selected()
        (self.model.append_rows if more else self.model.replace_rows)(rows)
        if chosen is not None and not more:
            self._select(chosen.id)  # a reload keeps the row the user had chosen
        empty = "" if self.model.rows else self.tr("Nenhum lembrete aqui.")
        self.notice.setText(notice or empty)
        self._selection_changed()

    # ---- actions ------------------------------------------------------------------------------

    def selected(self) -> Reminder | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _select(self, reminder_id: int) -> None:
        found = next((n for n, r in enumerate(self.model.rows) if r.id == reminder_id), None)
        if found is not None:
            self.table.selectRow(found)

    def _selection_changed(self) -> None:
        chosen = self.selected()
        self.cancel_button.setEnabled(chosen is not None and chosen.cancellable)
        self.open_button.setEnabled(chosen is not None and chosen.asked_ticket_id is not None)

    def open_selected(self) -> None:
        """The conversation the chosen reminder's question went into (to call back a "2")."""
        chosen = self.selected()
        if chosen is not None and chosen.asked_ticket_id is not None:
            self.ticketRequested.emit(chosen.asked_ticket_id)

    def cancel_selected(self) -> None:
        chosen = self.selected()
        if chosen is not None and chosen.cancellable:
            self.cancel_button.setEnabled(False)
            self._tasks.spawn(self._cancel(chosen.id))

    async def _cancel(self, reminder_id: int) -> None:
        try:
            self.model.update_row(await self.api.cancel(reminder_id))
            self.notice.setText(self.tr("Lembrete cancelado."))
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))
        self._selection_changed()

    def open_new(self) -> NewReminderDialog:
        """The "Novo lembrete" dialog; on success the list shows the new reminders."""
        self.dialog = NewReminderDialog(
            self.client, self.api, self._channels(), self, campaigns=can_campaign(self.me)
        )
        self.dialog.created.connect(self._created)
        self.dialog.open()
        return self.dialog

    def open_for(self, contact_id: int, label: str, channel_id: int) -> NewReminderDialog:
        """ "Novo lembrete" for one patient from a conversation, its number preselected."""
        dialog = self.open_new()
        dialog.preset(contact_id, label, channel_id)
        return dialog

    def _created(self, count: int) -> None:
        text = self.tr("Lembrete agendado.") if count == 1 else self.tr("%1 lembretes agendados.")
        self.refresh(notice=text.replace("%1", str(count)))

    async def settle(self) -> None:
        self._reload.stop()  # a reload still waiting for the pause is dropped
        await self._tasks.settle()
        if self.dialog is not None:
            await self.dialog.settle()
