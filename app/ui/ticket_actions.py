"""Small dialogs of the conversation: transfer a ticket, pick an emoji, confirm a resend."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.client_types import User
from app.ui.qtutil import named

EMOJI = (
    *("😊", "🙂", "😀", "😉", "🙏", "👍", "👋", "👏", "❤️", "💙", "✅", "☑️"),
    *("📅", "⏰", "🕐", "📍", "📄", "📞", "💊", "🩺", "🦷", "👩\u200d⚕️", "👨\u200d⚕️", "🏥"),
    *("😷", "🤒", "😢", "😅", "🎉", "⭐", "⚠️", "❗", "❓", "➡️", "👉", "🙌"),
)


class TransferDialog(QDialog):
    """Choose a queue and/or a person; ``choice()`` is (queue_id, user_id)."""

    def __init__(
        self,
        queues: dict[int, str],
        users: list[User],
        current_queue: int | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Transferir atendimento"))
        self.queue = named(QComboBox(), "transferQueue")
        self.queue.addItem(self.tr("(manter a fila)"), None)
        for qid, name in sorted(queues.items(), key=lambda kv: kv[1].lower()):
            if qid != current_queue:
                self.queue.addItem(name, qid)
        self.user = named(QComboBox(), "transferUser")
        self.user.addItem(self.tr("(ninguém em especial)"), None)
        for u in sorted(users, key=lambda u: u.display_name.lower()):
            self.user.addItem(u.display_name, u.id)
        self.user.setEnabled(bool(users))
        form = QFormLayout()
        form.addRow(self.tr("Fila"), self.queue)
        form.addRow(self.tr("Pessoa"), self.user)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Transferir"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Cancelar"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.queue.currentIndexChanged.connect(self._update_ok)
        self.user.currentIndexChanged.connect(self._update_ok)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_ok()

    def choice(self) -> tuple[int | None, int | None]:
        return self.queue.currentData(), self.user.currentData()

    def _update_ok(self, *_args: object) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.choice() != (None, None))


class EmojiPopup(QFrame):
    """A small grid of common emoji; ``picked`` carries the one clicked."""

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None, columns: int = 8) -> None:
        super().__init__(parent)
        self.setObjectName("emojiPopup")
        self.setWindowFlag(Qt.WindowType.Popup, True)
        grid = QGridLayout(self)
        grid.setSpacing(2)
        for i, emoji in enumerate(EMOJI):
            button = QToolButton()
            button.setText(emoji)
            button.setAutoRaise(True)
            button.setStyleSheet("font-size: 18px;")
            button.clicked.connect(lambda _c=False, e=emoji: self._pick(e))
            grid.addWidget(button, i // columns, i % columns)

    def _pick(self, emoji: str) -> None:
        self.picked.emit(emoji)
        self.hide()


def ask_resend(parent: QWidget) -> bool:
    """Ask before resending a message whose first send may have arrived (NEEDS_REVIEW)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(QCoreApplication.translate("Send", "Reenviar mensagem?"))
    box.setText(
        QCoreApplication.translate(
            "Send",
            "Não sabemos se esta mensagem chegou ao paciente: a conexão caiu durante o envio. "
            "Ela pode já ter chegado. Confira no celular da clínica antes de reenviar, para o "
            "paciente não receber a mesma mensagem duas vezes.",
        )
    )
    resend = box.addButton(
        QCoreApplication.translate("Send", "Reenviar mesmo assim"),
        QMessageBox.ButtonRole.AcceptRole,
    )
    box.addButton(QCoreApplication.translate("Send", "Cancelar"), QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is resend


Confirm = Callable[[QWidget], bool]
