"""The conversation pane: header with ticket actions, message bubbles, composer.

Everything that touches the engine runs as a task on the qasync loop; buttons are disabled
while their call is in flight, and errors show translated text in the pane's notice line.
Enter sends; "/" followed by a shortcut offers the branch's quick replies; 😊 opens a small
emoji grid; 📎 (or dropping files on the pane) sends files (``conversation_files.py``).
Opening a ticket marks it read (``POST /tickets/{id}/read``). A failed send's bubble retries
on click; one that may already have arrived (NEEDS_REVIEW) asks first.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.bridge import EventBridge, OutboxUpdate
from app.ui.client import DeskClient
from app.ui.client_types import Message, Ticket, User
from app.ui.conversation_files import ConversationFiles
from app.ui.messages_view import BubbleDelegate, MessageModel, messages_palette
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text
from app.ui.ticket_actions import Confirm, EmojiPopup, TransferDialog, ask_resend

log = logging.getLogger(__name__)
PAGE = 50


class Composer(QLineEdit):
    """One-line composer: Enter sends; "/shortcut" completes from the quick replies."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(self.tr("Digite uma mensagem ou / para respostas rápidas"))
        self.shortcuts = QStringListModel(self)
        completer = QCompleter(self.shortcuts, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompleter(completer)
        self.returnPressed.connect(self._submit)

    def _submit(self) -> None:
        popup = self.completer().popup()
        if popup is not None and popup.isVisible():
            return
        text = self.text().strip()
        if text:
            self.submitted.emit(text)


class ConversationPane(QWidget):
    """Shows one ticket at a time; empty until a row of the inbox is chosen."""

    ticketUpdated = Signal(int)  # ticket id, after an action changed it
    ticketShown = Signal(object)  # the Ticket now shown (None: none)

    def __init__(
        self, client: DeskClient, bridge: EventBridge, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client, self.bridge = client, bridge
        self.ticket: Ticket | None = None
        self.model = MessageModel(self)
        self._tasks = TaskSet()
        self._quick: dict[str, str] = {}
        self._queues: dict[int, tuple[str, str]] = {}
        self.confirm_resend: Confirm = ask_resend  # replaceable in tests
        self.transfer_dialog: TransferDialog | None = None
        self.files = ConversationFiles(client, self, self.model, self)
        self._build()
        self.setAcceptDrops(True)
        bridge.inboundReceived.connect(self._on_inbound)
        bridge.ackChanged.connect(self._on_ack)
        bridge.outboxChanged.connect(self._on_outbox)
        bridge.ticketChanged.connect(self._on_ticket_changed)
        self.show_ticket(None)

    # ---- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = named(QLabel(), "conversationTitle")
        self.title.setStyleSheet("font-size: 16px; font-weight: bold;")
        self.subtitle = named(QLabel(), "conversationSubtitle")
        self.accept_btn = QPushButton(self.tr("Atender"))
        self.resolve_btn = QPushButton(self.tr("Resolver"))
        self.reopen_btn = QPushButton(self.tr("Reabrir"))
        self.accept_btn.clicked.connect(lambda: self._action(self.client.accept))
        self.resolve_btn.clicked.connect(lambda: self._action(self.client.resolve))
        self.reopen_btn.clicked.connect(lambda: self._action(self.client.reopen))
        self.transfer_btn = named(QPushButton(self.tr("Transferir…")), "transferButton")
        self.transfer_btn.clicked.connect(self._transfer)
        head = QHBoxLayout()
        names = QVBoxLayout()
        names.addWidget(self.title)
        names.addWidget(self.subtitle)
        head.addLayout(names, 1)
        for b in (self.accept_btn, self.resolve_btn, self.reopen_btn, self.transfer_btn):
            head.addWidget(b)
        self.list = named(QListView(), "messages")
        self.list.setModel(self.model)
        self.delegate = BubbleDelegate(self.list)
        self.delegate.retryRequested.connect(self._retry)
        self.delegate.mediaRequested.connect(self.files.media_action)
        self.list.setItemDelegate(self.delegate)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setUniformItemSizes(False)
        self.list.setWordWrap(True)
        messages_palette(self.list)
        self.notice = named(QLabel(), "notice")
        self.notice.setStyleSheet("color: #B3261E;")
        self.notice.hide()
        self.composer = Composer()
        self.composer.submitted.connect(self._send)
        self.composer.textEdited.connect(self._maybe_quick_reply)
        self.send_btn = QPushButton(self.tr("Enviar"))
        self.send_btn.clicked.connect(self.composer.returnPressed.emit)
        self.emoji_btn = self._tool_button("😊", self.tr("Emoji"), self._show_emoji, "emojiButton")
        self.emoji = EmojiPopup(self)
        self.emoji.picked.connect(self.composer.insert)
        self.attach_btn = self._tool_button(
            "📎", self.tr("Enviar arquivo (ou arraste para a conversa)"), self._attach, "attach"
        )
        bottom = QHBoxLayout()
        bottom.addWidget(self.emoji_btn)
        bottom.addWidget(self.attach_btn)
        bottom.addWidget(self.composer, 1)
        bottom.addWidget(self.send_btn)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.notice)
        layout.addLayout(bottom)

    @staticmethod
    def _tool_button(text: str, tip: str, slot: Callable[[], None], name: str) -> QToolButton:
        button = named(QToolButton(), name)
        button.setText(text)
        button.setToolTip(tip)
        button.setStyleSheet("font-size: 16px;")
        button.clicked.connect(slot)
        return button

    # ---- showing a ticket ---------------------------------------------------------------------

    def show_ticket(self, ticket: Ticket | None) -> None:
        """Switch to ``ticket`` (None: the empty state); loads its latest messages."""
        changed = ticket is None or self.ticket is None or ticket.id != self.ticket.id
        self.ticket = ticket
        self.notice.hide()
        self._update_header()
        if changed:
            self.model.clear()
        if ticket is not None:
            self._spawn(self._load_messages(ticket.id))
            if changed and ticket.unread_count:
                self._spawn(self._mark_read(ticket.id))
        self.ticketShown.emit(ticket)

    async def _mark_read(self, ticket_id: int) -> None:
        """The receptionist sees the conversation: unread goes back to zero everywhere."""
        if await self._guard(self.client.mark_read(ticket_id)) is not None:
            self.ticketUpdated.emit(ticket_id)

    def _update_header(self) -> None:
        t = self.ticket
        has = t is not None
        for w in (self.composer, self.send_btn, self.list, self.emoji_btn, self.attach_btn):
            w.setEnabled(has)
        self.transfer_btn.setVisible(has and t is not None and t.status != "closed")
        if t is None:
            self.title.setText(self.tr("Escolha um atendimento"))
            self.subtitle.setText(self.tr("As mensagens do paciente aparecem aqui."))
            for b in (self.accept_btn, self.resolve_btn, self.reopen_btn):
                b.hide()
            return
        self.title.setText(t.contact_name or self.tr("Paciente sem nome"))
        self.subtitle.setText(self._status_label(t.status))
        self.accept_btn.setVisible(t.status == "pending")
        self.resolve_btn.setVisible(t.status in ("pending", "open"))
        self.reopen_btn.setVisible(t.status == "closed")

    def _status_label(self, status: str) -> str:
        labels = {
            "pending": self.tr("Aguardando atendimento"),
            "open": self.tr("Em atendimento"),
            "closed": self.tr("Resolvido"),
        }
        return labels.get(status, "")

    async def _load_messages(self, ticket_id: int) -> None:
        page = await self._guard(self.client.messages(ticket_id, None, PAGE))
        if page is not None and self.ticket is not None and self.ticket.id == ticket_id:
            self.model.merge(list(page.items))
            self.list.scrollToBottom()

    def set_quick_replies(self, replies: dict[str, str]) -> None:
        """Shortcut → text of the branch's quick replies (offered after "/")."""
        self._quick = dict(replies)
        self.composer.shortcuts.setStringList([f"/{k}" for k in sorted(replies)])

    # ---- actions ------------------------------------------------------------------------------

    def _action(self, call: Callable[[int], Awaitable[Ticket]]) -> None:
        if self.ticket is not None:
            self._spawn(self._run_action(call, self.ticket.id))

    async def _run_action(self, call: Callable[[int], Awaitable[Ticket]], ticket_id: int) -> None:
        buttons = (self.accept_btn, self.resolve_btn, self.reopen_btn)
        for b in buttons:
            b.setEnabled(False)
        try:
            ticket = await self._guard(call(ticket_id))
        finally:
            for b in buttons:
                b.setEnabled(True)
        if ticket is not None and self.ticket is not None and self.ticket.id == ticket.id:
            self.ticket = ticket
            self._update_header()
            self.ticketUpdated.emit(ticket.id)

    def _send(self, text: str) -> None:
        if self.ticket is None:
            return
        self.composer.clear()
        self._spawn(self._send_now(self.ticket.id, text, f"desk:{secrets.token_hex(8)}"))

    async def _send_now(self, ticket_id: int, text: str, key: str) -> None:
        out = await self._guard(self.client.send(ticket_id, text, key))
        if out is None:
            self.composer.setText(text)  # nothing was queued: give the text back
            return
        sent = Message(
            out.message_id, "out", "text", text, out.ack, out.created_at, False,
            outbox_id=out.outbox_id, send_status=out.status,
        )  # fmt: skip
        if self.ticket is not None and self.ticket.id == ticket_id:
            self.model.merge([sent])
            self.model.update_message(out.message_id, outbox_id=out.outbox_id)
            self.list.scrollToBottom()

    def _retry(self, outbox_id: int, needs_confirmation: bool) -> None:
        """Send a failed message again; a doubtful one (it may have arrived) asks first."""
        if needs_confirmation and not self.confirm_resend(self):
            return
        self._spawn(self._retry_now(outbox_id, needs_confirmation))

    async def _retry_now(self, outbox_id: int, confirmed: bool) -> None:
        status = await self._guard(self.client.retry(outbox_id, confirmed))
        if status is not None:
            for m in self.model.messages():
                if m.outbox_id == outbox_id:
                    self.model.update_message(m.id, send_status=status)

    # ---- emoji, files, transfer ---------------------------------------------------------------

    def _show_emoji(self) -> None:
        self.emoji.adjustSize()
        at = self.emoji_btn.mapToGlobal(self.emoji_btn.rect().topLeft())
        self.emoji.move(at.x(), at.y() - self.emoji.sizeHint().height())
        self.emoji.show()

    def _attach(self) -> None:
        self.files.choose_and_send(self._take_caption())

    def _take_caption(self) -> str | None:
        """Text already typed goes with the file as its caption."""
        caption = self.composer.text().strip() or None
        if caption:
            self.composer.clear()
        return caption

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.ticket is not None and _local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _local_files(event)
        if self.ticket is None or not paths:
            return
        event.acceptProposedAction()
        caption = self._take_caption()
        for path in paths:
            self.files.send_file(path, caption)
            caption = None

    def set_queues(self, queues: dict[int, tuple[str, str]]) -> None:
        self._queues = dict(queues)

    def _transfer(self) -> None:
        if self.ticket is not None:
            self._spawn(self._open_transfer(self.ticket))

    async def _open_transfer(self, ticket: Ticket) -> None:
        users: list[User] = []
        with contextlib.suppress(ClinicDeskError):  # only admins list people; others: queues
            users = await self.client.users()
        queues = {q: name for q, (name, _c) in self._queues.items()}
        dialog = TransferDialog(queues, users, ticket.queue_id, self)
        dialog.accepted.connect(lambda: self._spawn(self._do_transfer(ticket.id, dialog)))
        self.transfer_dialog = dialog
        dialog.open()

    async def _do_transfer(self, ticket_id: int, dialog: TransferDialog) -> None:
        queue_id, user_id = dialog.choice()
        done = await self._guard(self.client.transfer(ticket_id, queue_id, user_id))
        if done is not None and self.ticket is not None and self.ticket.id == ticket_id:
            self.ticket = done
            self._update_header()
            self.ticketUpdated.emit(ticket_id)
            self.ticketShown.emit(done)

    def _maybe_quick_reply(self, text: str) -> None:
        key = text[1:] if text.startswith("/") else ""
        if key in self._quick and self.ticket is not None:
            self._spawn(self._fill_quick_reply(self.ticket.id, key))

    async def _fill_quick_reply(self, ticket_id: int, shortcut: str) -> None:
        text = await self._guard(self.client.render_quick_reply(ticket_id, shortcut))
        if text and self.composer.text() == f"/{shortcut}":
            self.composer.setText(text)

    # ---- bridge events ------------------------------------------------------------------------

    def _on_inbound(self, ticket_id: int, _channel_id: int) -> None:
        if self.ticket is not None and ticket_id == self.ticket.id:
            self._spawn(self._load_messages(ticket_id))
            if self.isVisible():  # read as it arrives: the conversation is on screen
                self._spawn(self._mark_read(ticket_id))

    def _on_ack(self, message_id: int, ticket_id: int, ack: str) -> None:
        if self.ticket is not None and ticket_id in (0, self.ticket.id):
            self.model.update_message(message_id, ack=ack)

    def _on_outbox(self, update: OutboxUpdate) -> None:
        if self.ticket is not None and update.ticket_id == self.ticket.id:
            found = self.model.update_message(
                update.message_id, send_status=update.status, outbox_id=update.outbox_id
            )
            if not found:  # sent from another desk: fetch it
                self._spawn(self._load_messages(self.ticket.id))

    def _on_ticket_changed(self, ticket_id: int, status: str, _action: str) -> None:
        if self.ticket is not None and ticket_id == self.ticket.id:
            self.ticket = replace(self.ticket, status=status)
            self._update_header()

    # ---- plumbing -----------------------------------------------------------------------------

    def current_ticket_id(self) -> int | None:
        return self.ticket.id if self.ticket is not None else None

    def show_notice(self, text: str | None) -> None:
        """Show ``text`` in the notice line (None hides it)."""
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))

    def spawn(self, coro: Any) -> None:
        self._spawn(coro)

    def reload_messages(self, ticket_id: int) -> None:
        if self.ticket is not None and self.ticket.id == ticket_id:
            self._spawn(self._load_messages(ticket_id))

    async def _guard(self, call: Awaitable[Any]) -> Any:
        """Await ``call``; on a core error show its translated text and return None."""
        try:
            result = await call
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))
            self.notice.show()
            return None
        self.notice.hide()
        return result

    def _spawn(self, coro: Awaitable[Any]) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        await self._tasks.settle()
        await self.files.settle()


def _local_files(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """The local files dragged onto the pane (web links and folders are not sent)."""
    data = event.mimeData()
    if data is None or not data.hasUrls():
        return []
    paths = [Path(u.toLocalFile()) for u in data.urls() if u.isLocalFile()]
    return [p for p in paths if p.is_file()]
