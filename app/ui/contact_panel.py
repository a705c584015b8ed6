"""The side panel beside the conversation: who the patient is, the ticket's tags and notes.

It shows the contact's name, phone (formatted for Brazil), whether they refused reminders and
their earlier tickets (``GET /contacts/{id}``; a click opens one the user may see), the number
(channel) the patient wrote to, the queue and the ticket's tags (chips: "✕" removes, the field
adds) and internal notes (``GET /tickets/{id}`` lists them, ``POST /tickets/{id}/notes`` adds
one; notes never reach the patient).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.client import DeskClient
from app.ui.client_contact import ContactProfile, ContactTicket
from app.ui.client_types import Note, Ticket
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text, phone_text, with_phone

CHIP_STYLE = (
    "QToolButton { background: #E7F3EF; border: 1px solid #B7DCCF; border-radius: 10px;"
    " padding: 1px 8px; }"
)
TICKET_ROLE = Qt.ItemDataRole.UserRole + 1


def earlier_item(row: ContactTicket) -> QListWidgetItem:
    """One of the patient's tickets as a list row ("#12 · 03/11/2026 · Resolvido"); tickets
    the user may not open are grey, explained, and carry no id."""
    status = {
        "pending": QCoreApplication.translate("ContactPanel", "Aguardando"),
        "open": QCoreApplication.translate("ContactPanel", "Em atendimento"),
        "closed": QCoreApplication.translate("ContactPanel", "Resolvido"),
    }.get(row.status, row.status)
    day = row.created_at.astimezone().strftime("%d/%m/%Y")
    item = QListWidgetItem(f"#{row.id} · {day} · {status}")
    item.setData(TICKET_ROLE, row.id if row.visible else None)
    if not row.visible:
        item.setForeground(Qt.GlobalColor.gray)
        item.setToolTip(
            QCoreApplication.translate(
                "ContactPanel", "Atendimento de outra fila: você não tem acesso"
            )
        )
    return item


class ContactPanel(QWidget):
    """Patient details, tags and notes of the open ticket (empty without one)."""

    ticketUpdated = Signal(int)
    ticketRequested = Signal(int)  # an earlier ticket the user clicked (and may see)
    reminderRequested = Signal(int, str, int)  # contact_id, "Name · phone", channel_id

    def __init__(self, client: DeskClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.ticket: Ticket | None = None
        self.profile: ContactProfile | None = None
        self.can_remind = False  # whether the user may schedule reminders (set by the window)
        self._channels: dict[int, str] = {}
        self._queues: dict[int, tuple[str, str]] = {}
        self._tasks = TaskSet()
        self._build()
        self.show_ticket(None)

    def _build(self) -> None:
        self.name = named(QLabel(), "contactName")
        self.name.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.name.setWordWrap(True)
        self.phone = named(QLabel(), "contactPhone")
        self.phone.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.opted_out = named(QLabel(self.tr("Não quer receber lembretes")), "contactOptOut")
        self.opted_out.setStyleSheet("color: #B3261E; font-weight: bold;")
        self.opted_out.hide()
        self.details = named(QLabel(), "contactDetails")
        self.details.setWordWrap(True)
        self.remind_btn = named(QPushButton(self.tr("Agendar lembrete…")), "remindPatient")
        self.remind_btn.clicked.connect(self._ask_reminder)
        self._build_history()
        self.chips = QHBoxLayout()
        self.chips.setSpacing(4)
        self.tag_input = named(QLineEdit(), "tagInput")
        self.tag_input.setPlaceholderText(self.tr("Nova etiqueta"))
        self.tag_input.returnPressed.connect(self._add_tag)
        self.notes = named(QListWidget(), "notesList")
        self.notes.setWordWrap(True)
        self.note_input = named(QPlainTextEdit(), "noteInput")
        self.note_input.setPlaceholderText(self.tr("Nota interna (o paciente não vê)"))
        self.note_input.setFixedHeight(60)
        self.note_btn = named(QPushButton(self.tr("Adicionar nota")), "addNote")
        self.note_btn.clicked.connect(self._add_note)
        self.notice = named(QLabel(), "panelNotice")
        self.notice.setStyleSheet("color: #B3261E;")
        self.notice.setWordWrap(True)
        self.notice.hide()
        outer = QVBoxLayout(self)
        for widget in (self.name, self.phone, self.opted_out, self.details, self.remind_btn):
            outer.addWidget(widget)
        self.body = QWidget()  # tags and notes: hidden while no ticket is open
        outer.addWidget(self.body, 100)
        outer.addStretch(1)  # keeps the name at the top while the body is hidden
        layout = QVBoxLayout(self.body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._heading(self.tr("Atendimentos anteriores")))
        layout.addWidget(self.history)
        layout.addWidget(self.no_history)
        layout.addWidget(self._heading(self.tr("Etiquetas")))
        layout.addLayout(self.chips)
        layout.addWidget(self.tag_input)
        layout.addWidget(self._heading(self.tr("Notas internas")))
        layout.addWidget(self.notes, 1)
        layout.addWidget(self.note_input)
        layout.addWidget(self.note_btn)
        layout.addWidget(self.notice)

    def _build_history(self) -> None:
        self.history = named(QListWidget(), "contactTickets")
        self.history.setMaximumHeight(110)
        self.history.itemClicked.connect(self._open_earlier)
        # Shown instead of an empty list once the profile arrived: a new patient is news.
        first = self.tr("Primeiro atendimento deste paciente.")
        self.no_history = named(QLabel(first), "noHistory")
        self.no_history.setStyleSheet("color: #54656F;")
        self.no_history.hide()

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("font-weight: bold; color: #54656F; margin-top: 8px;")
        return label

    def set_channel_labels(self, labels: dict[int, str]) -> None:
        self._channels = dict(labels)
        self._show_details()

    def set_queues(self, queues: dict[int, tuple[str, str]]) -> None:
        self._queues = dict(queues)
        self._show_details()

    # ---- one ticket ---------------------------------------------------------------------------

    def show_ticket(self, ticket: Ticket | None) -> None:
        """Show ``ticket``'s patient, tags and notes (notes are fetched)."""
        same = ticket is not None and self.ticket is not None and ticket.id == self.ticket.id
        self.ticket = ticket
        self.body.setVisible(ticket is not None)
        self._show_details()
        self._show_tags(ticket.tags if ticket else ())
        if ticket is not None and not same:
            self.notes.clear()
            self._show_profile(None)
            self._spawn(self._load_notes(ticket.id))
            self._spawn(self._load_profile(ticket.id, ticket.contact_id))
        elif ticket is None:
            self.notes.clear()
            self._show_profile(None)

    def _show_details(self) -> None:
        t = self.ticket
        if t is None:
            self.name.setText(self.tr("Nenhum atendimento aberto"))
            self.details.setText("")
            return
        self.name.setText(t.contact_name or self.tr("Paciente sem nome"))
        lines = [
            self.tr("Número: %1").replace("%1", self._channels.get(t.channel_id, "—")),
            self.tr("Fila: %1").replace("%1", self._queues.get(t.queue_id or -1, ("—", ""))[0]),
            self.tr("Atendimento #%1").replace("%1", str(t.id)),
        ]
        self.details.setText("\n".join(lines))

    def set_can_remind(self, allowed: bool) -> None:
        """Whether the user may schedule reminders (the engine checks it again)."""
        self.can_remind = allowed
        self._show_remind()

    def _show_remind(self) -> None:
        """ "Agendar lembrete…" once the patient is known; disabled after SAIR/PARAR."""
        profile = self.profile
        self.remind_btn.setVisible(self.can_remind and profile is not None)
        refused = profile is not None and profile.opted_out_at is not None
        self.remind_btn.setEnabled(not refused)
        self.remind_btn.setToolTip(
            self.tr("O paciente pediu para não receber lembretes.") if refused else ""
        )

    def _ask_reminder(self) -> None:
        t, profile = self.ticket, self.profile
        if t is None or profile is None:
            return
        label = with_phone(t.contact_name or self.tr("Paciente sem nome"), profile.phone_e164)
        self.reminderRequested.emit(t.contact_id, label, t.channel_id)

    def _show_tags(self, tags: tuple[str, ...]) -> None:
        while self.chips.count():
            item = self.chips.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for tag in tags:
            chip = named(QToolButton(), f"tag_{tag}")
            chip.setText(f"{tag}  ✕")
            chip.setToolTip(self.tr("Remover a etiqueta"))
            chip.setStyleSheet(CHIP_STYLE)
            chip.clicked.connect(lambda _c=False, t=tag: self._remove_tag(t))
            self.chips.addWidget(chip)
        self.chips.addStretch(1)

    async def _load_notes(self, ticket_id: int) -> None:
        notes = await self._guard(self.client.notes(ticket_id))
        if notes is not None and self.ticket is not None and self.ticket.id == ticket_id:
            self.notes.clear()
            for note in notes:
                self.notes.addItem(self._note_text(note))

    async def _load_profile(self, ticket_id: int, contact_id: int) -> None:
        profile = await self._guard(self.client.contact(contact_id))
        if profile is not None and self.ticket is not None and self.ticket.id == ticket_id:
            self._show_profile(profile)

    def _show_profile(self, profile: ContactProfile | None) -> None:
        """Phone, opt-out and earlier tickets (blank until the profile arrives)."""
        self.profile = profile
        self._show_remind()
        phone = phone_text(profile.phone_e164) if profile else ""
        self.phone.setText(phone)
        self.phone.setVisible(bool(phone))
        self.opted_out.setVisible(profile is not None and profile.opted_out_at is not None)
        self.history.clear()
        for row in profile.tickets if profile else ():
            if self.ticket is None or row.id != self.ticket.id:
                self.history.addItem(earlier_item(row))
        first = profile is not None and self.history.count() == 0
        self.history.setVisible(not first)
        self.no_history.setVisible(first)

    def _open_earlier(self, item: QListWidgetItem) -> None:
        ticket_id = item.data(TICKET_ROLE)
        if isinstance(ticket_id, int):
            self.ticketRequested.emit(ticket_id)

    @staticmethod
    def _note_text(note: Note) -> str:
        return f"{note.created_at.astimezone().strftime('%d/%m %H:%M')}  {note.body}"

    # ---- actions ------------------------------------------------------------------------------

    def _add_tag(self) -> None:
        tag = self.tag_input.text().strip()
        if tag and self.ticket is not None:
            self.tag_input.clear()
            self._spawn(self._change_tags(self.client.add_tag(self.ticket.id, tag)))

    def _remove_tag(self, tag: str) -> None:
        if self.ticket is not None:
            self._spawn(self._change_tags(self.client.remove_tag(self.ticket.id, tag)))

    async def _change_tags(self, call: Any) -> None:
        ticket = self.ticket
        tags = await self._guard(call)
        if tags is not None and ticket is not None and self.ticket is ticket:
            self.ticket = replace(ticket, tags=tuple(tags))
            self._show_tags(self.ticket.tags)
            self.ticketUpdated.emit(ticket.id)

    def _add_note(self) -> None:
        body = self.note_input.toPlainText().strip()
        if body and self.ticket is not None:
            self._spawn(self._save_note(self.ticket.id, body))

    async def _save_note(self, ticket_id: int, body: str) -> None:
        self.note_btn.setEnabled(False)
        try:
            saved = await self._guard(self.client.add_note(ticket_id, body))
        finally:
            self.note_btn.setEnabled(True)
        if saved is not None:
            self.note_input.clear()
            await self._load_notes(ticket_id)

    # ---- plumbing -----------------------------------------------------------------------------

    async def _guard(self, call: Any) -> Any:
        try:
            result = await call
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))
            self.notice.show()
            return None
        self.notice.hide()
        return result

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        await self._tasks.settle()
