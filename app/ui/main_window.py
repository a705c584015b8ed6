"""The main window: it only assembles the pages, the sidebar and the status bar.

Sidebar: Atendimentos, Contatos, Canais, Painel, Lembretes, Clínica (admins and supervisors:
hours, messages, quick replies), Configurações (admins see the clinic's rules for this
workstation there too) and, for admins only, Cópias de segurança. The window also owns
the notifier (tray, new-message notices) and the idle lock.
Status bar: the link to the ClinicDesk service (from the bridge) and the channels' health at a
glance ("3 de 3 números conectados").
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.backups_page import BackupsPage
from app.ui.bridge import EventBridge, LinkStatus
from app.ui.channels_page import ChannelsPage
from app.ui.client import DeskClient
from app.ui.client_types import Channel
from app.ui.clinic_page import ClinicPage
from app.ui.contacts_page import ContactsPage
from app.ui.desk_settings import DeskSettings
from app.ui.idle_lock import IdleLock
from app.ui.inbox import InboxPage
from app.ui.login import LoginResult
from app.ui.notifier import Notifier
from app.ui.painel import PainelPage
from app.ui.qtutil import named
from app.ui.reminders_page import RemindersPage, can_schedule
from app.ui.settings_page import SettingsPage
from app.ui.tasks import TaskSet

log = logging.getLogger(__name__)
SIDEBAR_STYLE = """
QListWidget#sidebar { background: #0B3D3A; color: #E0F2F1; border: none; font-size: 14px; }
QListWidget#sidebar::item { padding: 12px 16px; }
QListWidget#sidebar::item:selected { background: #14605A; color: white; }
"""


def health_text(channels: list[Channel]) -> str:
    """ "3 de 3 números conectados" (plural forms through the translation file)."""
    connected = sum(1 for c in channels if c.state == "CONNECTED")
    if not channels:
        return QCoreApplication.translate("Status", "Nenhum número de WhatsApp cadastrado")
    if len(channels) == 1:
        text = QCoreApplication.translate("Status", "%1 de 1 número conectado")
    else:
        text = QCoreApplication.translate("Status", "%1 de %2 números conectados").replace(
            "%2", str(len(channels))
        )
    return text.replace("%1", str(connected))


def link_text(status: str) -> str:
    if status == LinkStatus.CONNECTED:
        return QCoreApplication.translate("Status", "● Conectado ao serviço ClinicDesk")
    if status == LinkStatus.AUTH_NEEDED:
        return QCoreApplication.translate("Status", "● Sessão encerrada: entre novamente")
    return QCoreApplication.translate(
        "Status", "● Sem conexão com o serviço ClinicDesk. Tentando novamente…"
    )


class MainWindow(QMainWindow):
    """Sidebar + stacked pages + status bar, for one logged-in user and branch."""

    closed = Signal()

    def __init__(
        self, client: DeskClient, bridge: EventBridge, login: LoginResult,
        parent: QWidget | None = None, settings: DeskSettings | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.bridge, self.login = client, bridge, login
        self.settings = settings if settings is not None else DeskSettings()
        self.channels: dict[int, Channel] = {}
        self._tasks = TaskSet()
        branch = login.branch.name if login.branch else ""
        where = f" · {branch}" if branch else ""
        self.setWindowTitle(f"ClinicDesk — {login.me.display_name}{where}")
        self.inbox = InboxPage(client, bridge)
        self.inbox.set_me(login.me.id)
        self.channels_page = ChannelsPage(client, bridge, me=login.me)
        branch_id = login.branch.id if login.branch else None
        self.painel = PainelPage(client, bridge, branch_id, branch)
        self.settings_page = SettingsPage(self.settings, login.me.is_admin)
        self.contacts_page = ContactsPage(
            client, can_export=login.me.is_supervisor, can_erase=login.me.is_admin
        )
        self.contacts_page.ticketRequested.connect(self.open_ticket)
        self.contacts_page.startRequested.connect(self.start_conversation)
        listed = lambda: sorted(self.channels.values(), key=lambda c: c.id)  # noqa: E731
        self.reminders_page = RemindersPage(client, login.me, listed)
        self.reminders_page.ticketRequested.connect(self.open_ticket)
        bridge.reminderChanged.connect(self.reminders_page.reminder_changed)
        self.inbox.contact.set_can_remind(can_schedule(login.me))
        self.inbox.contact.reminderRequested.connect(self.remind_patient)
        self._build_pages()
        self._build_status()
        bridge.statusChanged.connect(lambda s: self.link_label.setText(link_text(s)))
        bridge.channelStateChanged.connect(self._on_channel_state)
        bridge.channelWarning.connect(self._on_channel_warning)
        bridge.resynced.connect(self.refresh_channels)
        self.notifier = Notifier(client, bridge, self.settings, self._watched, self)
        self.notifier.openRequested.connect(self.bring_to_front)
        minutes = lambda: self.settings.idle_minutes  # noqa: E731 - read at each check
        self.idle_lock = IdleLock(self, client, login.me.username, minutes)
        self.resize(1100, 700)

    def _build_pages(self) -> None:
        self.sidebar = named(QListWidget(), "sidebar")
        self.sidebar.setStyleSheet(SIDEBAR_STYLE)
        self.sidebar.setFixedWidth(190)
        self.sidebar.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no dotted focus box on the items
        self.stack = QStackedWidget()
        pages: list[tuple[str, QWidget]] = [
            (self.tr("Atendimentos"), self.inbox),
            (self.tr("Contatos"), self.contacts_page),
            (self.tr("Canais"), self.channels_page),
            (self.tr("Painel"), self.painel),
            (self.tr("Lembretes"), self.reminders_page),
            (self.tr("Configurações"), self.settings_page),
        ]
        self.clinic_page: ClinicPage | None = None
        if ClinicPage.shown_to(self.login.me):
            self.clinic_page = ClinicPage(self.client, self.login.me)
            pages.insert(-1, (self.tr("Clínica"), self.clinic_page))
        if self.login.me.is_admin:  # GET/POST /backups need manage_settings
            pages.append((self.tr("Cópias de segurança"), BackupsPage(self.client)))
        for title, page in pages:
            QListWidgetItem(title, self.sidebar)
            self.stack.addWidget(page)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.stack.currentChanged.connect(self._page_shown)
        self.sidebar.setCurrentRow(0)
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)

    def _build_status(self) -> None:
        self.link_label = named(QLabel(link_text(self.bridge.status)), "linkStatus")
        self.health_label = named(QLabel(), "channelHealth")
        self.user_label = QLabel(self.login.me.display_name)
        bar = self.statusBar()
        bar.addWidget(self.link_label)
        bar.addWidget(self.health_label)
        bar.addPermanentWidget(self.user_label)

    def show_page(self, index: int) -> None:
        self.sidebar.setCurrentRow(index)

    def open_ticket(self, ticket_id: int) -> None:
        """Show Atendimentos with this ticket's conversation (from Contatos or Lembretes)."""
        self.show_page(self.stack.indexOf(self.inbox))
        self.inbox.open_ticket(ticket_id)

    def remind_patient(self, contact_id: int, label: str, channel_id: int) -> None:
        """ "Agendar lembrete…" from a conversation: the dialog for that patient; once it is
        scheduled the status bar says so (the list is on Lembretes)."""
        dialog = self.reminders_page.open_for(contact_id, label, channel_id)
        dialog.created.connect(
            lambda _n: self.statusBar().showMessage(self.tr("Lembrete agendado."), 5000)
        )

    def start_conversation(self, phone: str = "") -> None:
        """Show Atendimentos with "Nova conversa" open (from Contatos: the patient's number)."""
        self.show_page(self.stack.indexOf(self.inbox))
        self.inbox.open_start(phone)

    def _page_shown(self, index: int) -> None:
        if self.stack.widget(index) is self.painel:
            self.painel.refresh()

    def _watched(self) -> bool:
        """Someone is looking at the desk: focused and not locked (then no notice is needed)."""
        return self.isActiveWindow() and not self.idle_lock.locked

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # ---- channels -----------------------------------------------------------------------------

    def set_branch_names(self, names: dict[int, str]) -> None:
        """Branch names by id, for the pages that name a number's branch."""
        self.channels_page.branch_names = dict(names)
        self.reminders_page.branch_names = dict(names)
        self.reminders_page.model.relabel()

    def refresh_channels(self) -> None:
        self._spawn(self._load_channels())

    async def _load_channels(self) -> None:
        try:
            channels = await self.client.channels()
        except ClinicDeskError as exc:
            log.info("channels failed", extra={"code": exc.code.value})
            return
        self.set_channels(channels)

    def set_channels(self, channels: list[Channel]) -> None:
        self.channels = {c.id: c for c in channels}
        self._channels_changed()

    def _channels_changed(self) -> None:
        listed = sorted(self.channels.values(), key=lambda c: (c.branch_id, c.id))
        self.channels_page.set_channels(listed)
        self.inbox.set_channel_labels({c.id: c.display_name for c in listed})
        self.health_label.setText(health_text(listed))
        colour = "#1E8E3E" if all(c.state == "CONNECTED" for c in listed) else "#D93025"
        self.health_label.setStyleSheet(f"color: {colour};")

    def _on_channel_state(self, channel_id: int, state: str, reason: str) -> None:
        known = self.channels.get(channel_id)
        if known is None:
            self.refresh_channels()
            return
        self.channels[channel_id] = replace(known, state=state, reason=reason)
        self._channels_changed()

    def _on_channel_warning(self, channel_id: int, deaf: bool) -> None:
        known = self.channels.get(channel_id)
        if known is not None:
            warning = "deaf_suspected" if deaf else None
            self.channels[channel_id] = replace(known, warning=warning)
            self._channels_changed()

    # ---- plumbing -----------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        await self._tasks.settle()
        await self.inbox.settle()
        await self.painel.settle()
        await self.notifier.settle()
        await self.contacts_page.settle()
        await self.reminders_page.settle()
        if self.clinic_page is not None:
            await self.clinic_page.settle()
        await self.idle_lock.settle()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.idle_lock.resize()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the desk never stops the engine or WhatsApp; it only leaves."""
        self.idle_lock.stop()
        self.closed.emit()
        super().closeEvent(event)
