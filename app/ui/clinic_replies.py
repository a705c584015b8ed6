"""Respostas rápidas, on the Clínica page: the branch's ``/atalho`` answers, listed, added,
changed and deleted (supervisors and admins of the branch; the engine checks it again).

Receptionists type ``/atalho`` in the conversation and the text comes with ``{nome}``,
``{primeiro_nome}``, ``{clinica}``, ``{atendente}`` and ``{protocolo}`` filled in.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui import client_clinic
from app.ui.client import DeskClient
from app.ui.client_clinic import QuickReplyRow
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


class ReplyDialog(QDialog):
    """Asks for the shortcut and the text; saves through the engine and stays open on error."""

    saved = Signal()

    def __init__(
        self, client: DeskClient, branch_id: int, reply: QuickReplyRow | None = None,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.branch_id, self.reply = client, branch_id, reply
        self._tasks = TaskSet()
        self.setWindowTitle(self.tr("Editar resposta") if reply else self.tr("Nova resposta"))
        self.shortcut = named(QLineEdit(reply.shortcut if reply else ""), "replyShortcut")
        self.shortcut.setPlaceholderText(self.tr("por exemplo: endereco"))
        self.text = named(QPlainTextEdit(reply.body if reply else ""), "replyText")
        self.text.setMinimumHeight(120)
        form = QFormLayout()
        form.addRow(self.tr("Atalho (digitado depois da /)"), self.shortcut)
        form.addRow(self.tr("Texto"), self.text)
        hint = QLabel(
            self.tr(
                "Pode usar {nome}, {primeiro_nome}, {clinica}, {atendente} e {protocolo}: "
                "são trocados pelos dados do atendimento."
            )
        )
        hint.setWordWrap(True)
        self.message = error_label("replyMessage")
        self.buttons = dialog_buttons(self, self.tr("Salvar"), self.tr("Cancelar"), self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (hint, self.message, self.buttons):
            layout.addWidget(widget)

    def submit(self) -> None:
        """Save, unless something is missing (then say what, and stay open)."""
        shortcut, text = self.shortcut.text().strip().lstrip("/"), self.text.toPlainText().strip()
        if not shortcut or not text:
            self.message.setText(self.tr("Preencha o atalho e o texto."))
            return
        self._tasks.spawn(self._save(shortcut, text))

    async def _save(self, shortcut: str, text: str) -> None:
        if self.reply is None:
            work = client_clinic.add_quick_reply(self.client, self.branch_id, shortcut, text)
        else:
            work = client_clinic.change_quick_reply(self.client, self.reply.id, shortcut, text)
        if await guarded(self.buttons, self.message, work, reply_error_text):
            self.saved.emit()
            self.accept()

    async def settle(self) -> None:
        await self._tasks.settle()


def reply_error_text(error: ClinicDeskError) -> str:
    """Why a reply could not be saved, in plain Portuguese."""
    if error.code is ErrorCode.ALREADY_EXISTS:
        return QCoreApplication.translate("ReplyDialog", "Já existe uma resposta com este atalho.")
    if error.code is ErrorCode.INVALID_INPUT and error.params.get("field") == "shortcut":
        return QCoreApplication.translate(
            "ReplyDialog", "O atalho pode ter só letras sem acento, números, - e _ (até 39)."
        )
    if error.code is ErrorCode.INVALID_INPUT:
        return QCoreApplication.translate(
            "ReplyDialog", "O texto é longo demais (até 4.000 caracteres)."
        )
    return error_text(error)


class RepliesTab(QWidget):
    """The branch's replies in a table, with Nova resposta, Editar and Excluir."""

    def __init__(self, client: DeskClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.branch_id = client, 0
        self.replies: list[QuickReplyRow] = []
        self.dialog: ReplyDialog | None = None
        self._tasks = TaskSet()
        headers = [self.tr("Atalho"), self.tr("Texto")]
        self.table = row_table("repliesTable", headers, stretch=1)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())
        self.status = named(QLabel(), "repliesStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._buttons())
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    def _buttons(self) -> QWidget:
        self.add_button = named(QPushButton(self.tr("Nova resposta")), "replyAdd")
        self.edit_button = named(QPushButton(self.tr("Editar")), "replyEdit")
        self.remove_button = named(QPushButton(self.tr("Excluir")), "replyRemove")
        self.add_button.clicked.connect(lambda: self.open_dialog(None))
        self.edit_button.clicked.connect(self.edit_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self._selection_changed()
        return button_row(self.add_button, self.edit_button, self.remove_button)

    def show_branch(self, branch_id: int) -> None:
        """Load this branch's replies."""
        self.branch_id = branch_id
        self._tasks.spawn(self._load())

    async def _load(self) -> None:
        branch_id = self.branch_id
        try:
            replies = await client_clinic.quick_replies(self.client, branch_id)
        except ClinicDeskError as exc:
            log.info("quick replies failed", extra={"code": exc.code.value})
            self._say(error_text(exc), error=True)
            return
        if branch_id == self.branch_id:  # not if another branch was chosen meanwhile
            self.replies = replies
            self._fill()

    def _fill(self) -> None:
        self.table.setRowCount(len(self.replies))
        for row, reply in enumerate(self.replies):
            self.table.setItem(row, 0, QTableWidgetItem(f"/{reply.shortcut}"))
            body = QTableWidgetItem(" ".join(reply.body.split()))
            body.setToolTip(reply.body)
            self.table.setItem(row, 1, body)
        self._say("" if self.replies else self.tr("Nenhuma resposta rápida ainda."))
        self._selection_changed()

    def selected(self) -> QuickReplyRow | None:
        row = selected_row(self.table)
        return None if row is None else self.replies[row]

    def _selection_changed(self) -> None:
        chosen = self.selected() is not None
        self.edit_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen)

    def open_dialog(self, reply: QuickReplyRow | None) -> ReplyDialog:
        """The add/edit dialog (kept referenced while open); the list reloads once it saved."""
        self.dialog = ReplyDialog(self.client, self.branch_id, reply, self)
        self.dialog.saved.connect(lambda: self._tasks.spawn(self._load()))
        self.dialog.open()
        return self.dialog

    def edit_selected(self) -> None:
        reply = self.selected()
        if reply is not None:
            self.open_dialog(reply)

    def remove_selected(self) -> None:
        reply = self.selected()
        if reply is None or not self.confirm_removal(reply):
            return
        self._tasks.spawn(self._remove(reply))

    def confirm_removal(self, reply: QuickReplyRow) -> bool:
        """Ask before deleting (tests replace this)."""
        answer = QMessageBox.question(
            self,
            self.tr("Excluir resposta"),
            self.tr(
                "Excluir a resposta /%1? Quem digitar /%1 não receberá mais este texto."
            ).replace("%1", reply.shortcut),
        )
        return answer == QMessageBox.StandardButton.Yes

    async def _remove(self, reply: QuickReplyRow) -> None:
        try:
            await client_clinic.remove_quick_reply(self.client, reply.id)
        except ClinicDeskError as exc:
            self._say(error_text(exc), error=True)
            return
        await self._load()
        self._say(self.tr("Resposta /%1 excluída.").replace("%1", reply.shortcut))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    async def settle(self) -> None:
        if self.dialog is not None:  # first: a save ends by starting a reload here
            await self.dialog.settle()
        await self._tasks.settle()
