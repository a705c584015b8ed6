""" "Nova conversa": write first to a patient by phone number (a call-back, a confirmation the
patient asked for by phone, someone who left a number at the front desk).

The engine finds the patient by number as if they had written (``POST /tickets``), so their
reply lands in the same conversation; a patient already in conversation on that number gets
that conversation. A receptionist chooses among their own queues. The dialog closes once the
engine answered, and the conversation opens for the first message.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client import DeskClient
from app.ui.client_types import Queue
from app.ui.qtutil import dialog_buttons, error_label, named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text

QueueChoice = tuple[int | None, str]  # (queue id, or None for no queue; its name)


def queue_choices(queues: list[Queue], receptionist: bool) -> list[QueueChoice]:
    """What the dialog offers: a receptionist their own queues (or no queue when they have
    none; the ticket is theirs, so they see it); anyone else every queue, then no queue."""
    none = (None, QCoreApplication.translate("StartConversationDialog", "Sem fila"))
    if receptionist:
        own: list[QueueChoice] = [(q.id, q.name) for q in queues if q.member]
        return own or [none]
    return [*((q.id, q.name) for q in queues), none]


class StartConversationDialog(QDialog):
    """Asks for the number (and channel, queue, optional name); emits the ticket to open."""

    started = Signal(int)

    def __init__(
        self, client: DeskClient, channels: dict[int, str], queues: list[QueueChoice],
        phone: str = "", parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client = client
        self._tasks = TaskSet()
        self.setWindowTitle(self.tr("Nova conversa"))
        self._build(channels, queues, phone)

    def _build(self, channels: dict[int, str], queues: list[QueueChoice], phone: str) -> None:
        self.channel = named(QComboBox(), "startChannel")
        for channel_id, label in channels.items():
            self.channel.addItem(label, channel_id)
        self.phone = named(QLineEdit(phone), "startPhone")
        self.phone.setPlaceholderText("(11) 98765-4321")
        self.name = named(QLineEdit(), "startName")
        self.name.setPlaceholderText(self.tr("Opcional"))
        self.queue = named(QComboBox(), "startQueue")
        for queue_id, label in queues:
            self.queue.addItem(label, queue_id)
        form = QFormLayout()
        form.addRow(self.tr("Telefone do paciente"), self.phone)
        form.addRow(self.tr("Nome"), self.name)
        form.addRow(self.tr("Enviar pelo número"), self.channel)
        form.addRow(self.tr("Fila"), self.queue)
        hint = QLabel(self.tr("A conversa abre para você escrever a primeira mensagem."))
        hint.setWordWrap(True)
        self.message = error_label("startMessage")
        start, cancel = self.tr("Iniciar conversa"), self.tr("Cancelar")
        self.buttons = dialog_buttons(self, start, cancel, self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (hint, self.message, self.buttons):
            layout.addWidget(widget)

    def submit(self) -> None:
        """Ask the engine, unless something is missing (then say what, and stay open)."""
        phone = self.phone.text().strip()
        if not phone:
            self.message.setText(self.tr("Informe o telefone do paciente."))
            return
        if self.channel.count() == 0:
            self.message.setText(self.tr("Nenhum número de WhatsApp disponível."))
            return
        name = self.name.text().strip() or None
        self._tasks.spawn(self._start(self.channel.currentData(), phone, name))

    async def _start(self, channel_id: int, phone: str, name: str | None) -> None:
        self.buttons.setEnabled(False)
        try:
            ticket = await self.client.start_ticket(
                channel_id, phone, self.queue.currentData(), name
            )
        except ClinicDeskError as exc:
            self.message.setText(self._error_text(exc))
            return
        finally:
            self.buttons.setEnabled(True)
        self.started.emit(ticket.id)
        self.accept()

    def _error_text(self, error: ClinicDeskError) -> str:
        if error.code is ErrorCode.PHONE_INVALID:
            return self.tr("Confira o número: inclua o DDD, por exemplo (11) 98765-4321.")
        if error.code is ErrorCode.ALREADY_EXISTS:
            return self.tr("Este paciente já está em atendimento em outra fila.")
        return error_text(error)

    async def settle(self) -> None:
        await self._tasks.settle()
