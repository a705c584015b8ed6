"""Desktop notifications for new patient messages, and the tray icon with the unread total.

A notification (tray balloon, plus a beep when sound is on) is shown only while the desk's
window is not focused: a receptionist looking at the inbox already sees the message. With
privacy on (the default, see :mod:`app.ui.desk_settings`) it names the contact and never
shows the text. Offscreen and some desktops have no system tray: then the signal
``notified`` still fires (tests listen to it) and only the beep is heard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QStyle, QSystemTrayIcon

from app.domain.errors import ClinicDeskError
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_types import Ticket
from app.ui.desk_settings import DeskSettings
from app.ui.tasks import TaskSet

log = logging.getLogger(__name__)
BALLOON_MS = 6_000
GATHER_MS = 150  # as the inbox's re-reads


class Notifier(QObject):
    """Listens to ``inboundReceived``; keeps the unread total; notifies when unfocused."""

    notified = Signal(str, str)  # title, body
    unreadChanged = Signal(int)
    openRequested = Signal()

    def __init__(
        self, client: DeskClient, bridge: EventBridge, settings: DeskSettings,
        focused: Callable[[], bool], parent: QObject | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.settings, self._focused = client, settings, focused
        self.unread: dict[int, int] = {}
        self._tasks = TaskSet()
        # Events are gathered for a moment, as the inbox does: a burst (1,000 a second) becomes
        # one read per 200 tickets and one notice, not a request and a balloon per message.
        self._arrived: dict[int, None] = {}
        self._changed: set[int] = set()
        self._gather = QTimer(self, singleShot=True, interval=GATHER_MS)
        self._gather.timeout.connect(self._flush)
        self.tray = self._make_tray()
        bridge.inboundReceived.connect(self.on_inbound)
        bridge.ticketChanged.connect(self.on_ticket_changed)

    # ---- tray ---------------------------------------------------------------------------------

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        style = QApplication.style()
        tray = QSystemTrayIcon(style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation))
        self.menu = QMenu()
        self.count_action = QAction(self.menu)
        self.count_action.setEnabled(False)
        open_action = QAction(self.tr("Abrir ClinicDesk"), self.menu)
        open_action.triggered.connect(self.openRequested.emit)
        self.menu.addActions([self.count_action, open_action])
        tray.setContextMenu(self.menu)
        tray.activated.connect(lambda *_: self.openRequested.emit())
        tray.show()
        return tray

    @property
    def total_unread(self) -> int:
        return sum(self.unread.values())

    def unread_text(self) -> str:
        return self.tr("%1 mensagens não lidas").replace("%1", str(self.total_unread))

    def _unread_updated(self) -> None:
        if self.tray is not None:
            self.tray.setToolTip(f"ClinicDesk — {self.unread_text()}")
            self.count_action.setText(self.unread_text())
        self.unreadChanged.emit(self.total_unread)

    # ---- events -------------------------------------------------------------------------------

    def on_inbound(self, ticket_id: int, _channel_id: int) -> None:
        if ticket_id:
            self._arrived[ticket_id] = None  # ordered: the newest last
            self._gather.start()

    def on_ticket_changed(self, ticket_id: int, _status: str, _action: str) -> None:
        if ticket_id in self.unread:
            self._changed.add(ticket_id)
            self._gather.start()

    def _flush(self) -> None:
        arrived, self._arrived = list(self._arrived), {}
        changed, self._changed = self._changed, set()
        if arrived or changed:
            self._spawn(self._read(arrived, sorted(changed.difference(arrived))))

    async def _read(self, arrived: list[int], changed: list[int]) -> None:
        """Re-read the gathered tickets (one call per 200), update the unread total, and show
        one notice: for the newest ticket that got a message and is not closed (when
        unfocused)."""
        found = await self._fetch(arrived + changed)
        self._unread_updated()
        # A message that left its conversation closed needs nobody (a "1" confirming a
        # reminder): counted, never announced.
        waiting = [found[i] for i in reversed(arrived) if i in found]
        newest = next((t for t in waiting if t.status != "closed"), None)
        if newest is not None and not self._focused():
            self.notify(newest)

    async def _fetch(self, ticket_ids: list[int]) -> dict[int, Ticket]:
        """The tickets' rows (``GET /tickets?ids=``: the listing read, not the audited detail
        read); those not ours (another queue) are absent. Empty if the engine is away."""
        try:
            found = await self.client.tickets_by_id(ticket_ids)
        except ClinicDeskError as exc:
            log.info("notify lookup failed", extra={"code": exc.code.value})
            return {}
        for ticket in found.values():
            self.unread[ticket.id] = ticket.unread_count if ticket.status != "closed" else 0
        return found

    def notify(self, ticket: Ticket) -> None:
        """Tell the receptionist about a new message on ``ticket`` (settings permitting)."""
        if not self.settings.notifications:
            return
        title, body = self.texts(ticket)
        if self.tray is not None:
            self.tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, BALLOON_MS)
        if self.settings.sound:
            QApplication.beep()
        self.notified.emit(title, body)

    def texts(self, ticket: Ticket) -> tuple[str, str]:
        """(title, body): with privacy on, the contact's name and never the message text."""
        name = ticket.contact_name or self.tr("Paciente")
        if self.settings.privacy or not ticket.preview:
            return self.tr("Nova mensagem de paciente"), name
        return name, ticket.preview

    # ---- plumbing -----------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        if self._gather.isActive():  # gathered events are due now
            self._gather.stop()
            self._flush()
        await self._tasks.settle()
