"""Filas, on the Clínica page (admins of the branch): the queues of the numbered menu that
patients choose from, their welcome messages, menu positions and colours, and who answers each
(a receptionist sees only their queues' conversations).

Queues are never deleted here: tickets and reports keep pointing at them (docs/MESSAGING.md).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui import client_clinic
from app.ui.client import DeskClient
from app.ui.client_clinic import QueueRow, StaffRow
from app.ui.qtutil import (
    ERROR_STYLE,
    button_row,
    dialog_buttons,
    error_label,
    guarded,
    named,
    row_table,
    selected_row,
)
from app.ui.tasks import TaskSet
from app.ui.texts import error_text

log = logging.getLogger(__name__)
PALETTE = ("#3B82F6", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#EC4899", "#14B8A6",
           "#6B7280")  # fmt: skip


def color_names() -> dict[str, str]:
    """The palette's colours by name (a colour set elsewhere shows its #RRGGBB)."""
    names = (
        QCoreApplication.translate("QueueDialog", "Azul"),
        QCoreApplication.translate("QueueDialog", "Verde"),
        QCoreApplication.translate("QueueDialog", "Laranja"),
        QCoreApplication.translate("QueueDialog", "Vermelho"),
        QCoreApplication.translate("QueueDialog", "Roxo"),
        QCoreApplication.translate("QueueDialog", "Rosa"),
        QCoreApplication.translate("QueueDialog", "Turquesa"),
        QCoreApplication.translate("QueueDialog", "Cinza"),
    )
    return dict(zip(PALETTE, names, strict=True))


def swatch(color: str) -> QIcon:
    """A small square of ``color`` (queue colours in lists and choosers)."""
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def queue_error_text(error: ClinicDeskError) -> str:
    """Why a queue could not be saved, in plain Portuguese."""
    if error.code is ErrorCode.ALREADY_EXISTS:
        return QCoreApplication.translate("QueueDialog", "Já existe uma fila com este nome.")
    if error.code is ErrorCode.INVALID_INPUT and error.params.get("field") == "name":
        return QCoreApplication.translate("QueueDialog", "Dê à fila um nome de até 80 letras.")
    return error_text(error)


class QueueDialog(QDialog):
    """Name, welcome message, menu position and colour of a new or existing queue."""

    saved = Signal()

    def __init__(
        self, client: DeskClient, branch_id: int, queue: QueueRow | None, next_order: int,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.branch_id, self.queue = client, branch_id, queue
        self._tasks = TaskSet()
        self.setWindowTitle(self.tr("Editar fila") if queue else self.tr("Nova fila"))
        self.name = named(QLineEdit(queue.name if queue else ""), "queueName")
        self.greeting = named(
            QPlainTextEdit(queue.greeting or "" if queue else ""), "queueGreeting"
        )
        self.greeting.setPlaceholderText(self.tr("Enviada quando o paciente escolhe esta fila"))
        self.greeting.setFixedHeight(90)
        self.order = named(QSpinBox(), "queueOrder")
        self.order.setRange(0, 99)
        self.order.setValue(queue.menu_order if queue else next_order)
        self.color = named(QComboBox(), "queueColor")
        colors = PALETTE if not queue or queue.color in PALETTE else (*PALETTE, queue.color)
        names = color_names()
        for color in colors:
            self.color.addItem(swatch(color), names.get(color, color), color)
        self.color.setCurrentIndex(max(0, self.color.findData(queue.color if queue else "")))
        form = QFormLayout()
        form.addRow(self.tr("Nome (aparece no menu)"), self.name)
        form.addRow(self.tr("Mensagem de boas-vindas"), self.greeting)
        form.addRow(self.tr("Posição no menu"), self.order)
        form.addRow(self.tr("Cor no atendimento"), self.color)
        self.message = error_label("queueMessage")
        self.buttons = dialog_buttons(self, self.tr("Salvar"), self.tr("Cancelar"), self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def fields(self) -> dict[str, object]:
        """The form as the API's fields (an empty greeting clears it)."""
        return {
            "name": self.name.text().strip(),
            "greeting": self.greeting.toPlainText().strip(),
            "menu_order": self.order.value(),
            "color": self.color.currentData(),
        }

    def submit(self) -> None:
        if not self.name.text().strip():
            self.message.setText(self.tr("Dê um nome à fila."))
            return
        self._tasks.spawn(self._save(self.fields()))

    async def _save(self, fields: dict[str, object]) -> None:
        if self.queue is None and not fields["greeting"]:
            fields = {k: v for k, v in fields.items() if k != "greeting"}
        queue_id = self.queue.id if self.queue else None
        work = client_clinic.save_queue(self.client, self.branch_id, queue_id, fields)
        if await guarded(self.buttons, self.message, work, queue_error_text):
            self.saved.emit()
            self.accept()

    async def settle(self) -> None:
        await self._tasks.settle()


class MembersDialog(QDialog):
    """Who answers the queue: the branch's staff, ticked when they are members."""

    def __init__(
        self, client: DeskClient, queue: QueueRow, staff: list[StaffRow], members: set[int],
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.queue, self.members = client, queue, members
        self._tasks = TaskSet()
        self.setWindowTitle(self.tr("Atendentes da fila %1").replace("%1", queue.name))
        self.people = named(QListWidget(), "queuePeople")
        for person in staff:
            item = QListWidgetItem(f"{person.display_name} ({person.username})", self.people)
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = person.id in members
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        hint = QLabel(self.tr("Quem está marcado vê e atende as conversas desta fila."))
        hint.setWordWrap(True)
        self.message = error_label("membersMessage")
        self.buttons = dialog_buttons(self, self.tr("Salvar"), self.tr("Cancelar"), self.submit)
        layout = QVBoxLayout(self)
        for widget in (hint, self.people, self.message, self.buttons):
            layout.addWidget(widget)

    def ticks(self) -> dict[int, bool]:
        """Each listed person's id and whether they are ticked."""
        items = (self.people.item(i) for i in range(self.people.count()))
        return {
            int(item.data(Qt.ItemDataRole.UserRole)): item.checkState() == Qt.CheckState.Checked
            for item in items
        }

    def submit(self) -> None:
        self._tasks.spawn(self._save(self.ticks()))

    async def _save(self, ticks: dict[int, bool]) -> None:
        """Add the newly ticked, remove the unticked (members not listed, such as a disabled
        account, are left as they are); on a failure say so and stay open."""
        if await guarded(self.buttons, self.message, self._apply(ticks), error_text):
            self.accept()

    async def _apply(self, ticks: dict[int, bool]) -> None:
        chosen = {user_id for user_id, ticked in ticks.items() if ticked}
        for user_id in sorted((chosen ^ self.members) & set(ticks)):
            await client_clinic.set_member(self.client, self.queue.id, user_id, user_id in chosen)
            self.members ^= {user_id}  # what the engine holds now, should a later one fail

    async def settle(self) -> None:
        await self._tasks.settle()


class QueuesTab(QWidget):
    """The branch's queues in menu order, with Nova fila, Editar and Atendentes."""

    def __init__(self, client: DeskClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.branch_id, self.branch_name = client, 0, ""
        self.queues: list[QueueRow] = []
        self.dialog: QueueDialog | MembersDialog | None = None
        self._tasks = TaskSet()
        headers = [self.tr("Nº no menu"), self.tr("Fila"), self.tr("Mensagem de boas-vindas")]
        self.table = row_table("queuesTable", headers, stretch=2)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())
        self.status = named(QLabel(), "queuesStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._buttons())
        layout.addWidget(self.table, 1)
        hint = QLabel(
            self.tr(
                "O paciente recebe o menu com as filas nesta ordem e responde com o número. "
                "Só atendentes da fila veem as conversas dela."
            )
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(self.status)

    def _buttons(self) -> QWidget:
        self.add_button = named(QPushButton(self.tr("Nova fila")), "queueAdd")
        self.edit_button = named(QPushButton(self.tr("Editar")), "queueEdit")
        self.members_button = named(QPushButton(self.tr("Atendentes…")), "queueMembers")
        self.add_button.clicked.connect(lambda: self.open_queue(None))
        self.edit_button.clicked.connect(self.edit_selected)
        self.members_button.clicked.connect(self.members_of_selected)
        self._selection_changed()
        return button_row(self.add_button, self.edit_button, self.members_button)

    def show_branch(self, branch_id: int, branch_name: str) -> None:
        self.branch_id, self.branch_name = branch_id, branch_name
        self._tasks.spawn(self._load())

    async def _load(self) -> None:
        branch_id = self.branch_id
        try:
            queues = await client_clinic.queues(self.client, branch_id)
        except ClinicDeskError as exc:
            log.info("queues failed", extra={"code": exc.code.value})
            self._say(error_text(exc), error=True)
            return
        if branch_id == self.branch_id:  # not if another branch was chosen meanwhile
            self._fill(queues)

    def _fill(self, queues: list[QueueRow]) -> None:
        self.queues = queues
        self.table.setRowCount(len(self.queues))
        for row, queue in enumerate(self.queues):
            self.table.setItem(row, 0, QTableWidgetItem(str(queue.menu_order)))
            self.table.setItem(row, 1, QTableWidgetItem(swatch(queue.color), queue.name))
            greeting = " ".join((queue.greeting or "").split())
            self.table.setItem(row, 2, QTableWidgetItem(greeting))
        self._say("" if self.queues else self.tr("Nenhuma fila ainda: o paciente não recebe menu."))
        self._selection_changed()

    def selected(self) -> QueueRow | None:
        row = selected_row(self.table)
        return None if row is None else self.queues[row]

    def _selection_changed(self) -> None:
        chosen = self.selected() is not None
        self.edit_button.setEnabled(chosen)
        self.members_button.setEnabled(chosen)

    def open_queue(self, queue: QueueRow | None) -> QueueDialog:
        """The add/edit dialog; the list reloads once it saved."""
        next_order = max((q.menu_order for q in self.queues), default=0) + 1
        dialog = QueueDialog(self.client, self.branch_id, queue, next_order, self)
        dialog.saved.connect(lambda: self._tasks.spawn(self._load()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def edit_selected(self) -> None:
        queue = self.selected()
        if queue is not None:
            self.open_queue(queue)

    def members_of_selected(self) -> None:
        queue = self.selected()
        if queue is not None:
            self._tasks.spawn(self.open_members(queue))

    async def open_members(self, queue: QueueRow) -> MembersDialog | None:
        """Fetch the staff and the members, then show who answers ``queue``."""
        try:
            people = await client_clinic.staff(self.client, self.branch_name)
            members = await client_clinic.queue_members(self.client, queue.id)
        except ClinicDeskError as exc:
            self._say(error_text(exc), error=True)
            return None
        dialog = MembersDialog(self.client, queue, people, members, self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    async def settle(self) -> None:
        await self._tasks.settle()
        if self.dialog is not None:  # a save ends by starting a reload here
            await self.dialog.settle()
            await self._tasks.settle()
