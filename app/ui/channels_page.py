"""Canais: one card per WhatsApp number with its state in plain Portuguese, and pairing.

The pairing dialog asks the engine to start pairing and then shows each ``PairingQr`` from the
bridge as a QR image with a countdown; it closes itself when the channel reports CONNECTED.

Users who manage a channel's branch (its admins, super admins) also see its actions: reconnect
(``resume``), pause/resume, log out (after a warning that a new QR scan will be needed), pairing
by code and the state history. The engine refuses everyone else anyway; a refusal is shown on
the card in Portuguese.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import qrcode
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.bridge import EventBridge
from app.ui.channel_dialogs import HistoryDialog, PairCodeDialog, ask_logout, channel_error_text
from app.ui.client import DeskClient
from app.ui.client_types import Channel, Me
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import deaf_warning_text, error_text, phone_text, reason_text, state_text

STATE_COLOURS = {
    "CONNECTED": "#1E8E3E",
    "CONNECTING": "#F29900",
    "INITIALIZING": "#F29900",
    "PAIRING": "#F29900",
    "QR_REQUIRED": "#D93025",
    "ERROR": "#D93025",
    "DISCONNECTED": "#D93025",
    "SUSPENDED": "#5F6368",
}


def qr_image(payload: str, box: int = 6, border: int = 2) -> QImage:
    """The QR code of ``payload`` painted from its module matrix (no image library needed)."""
    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix) * box
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(x * box, y * box, box, box, QColor("black"))
    painter.end()
    return image


class ChannelCard(QFrame):
    """A number's name, phone, coloured state and reason; "Conectar" when it needs pairing."""

    pairRequested = Signal(int)
    actionRequested = Signal(int, str)  # channel id; resume, suspend, logout, code, history

    def __init__(
        self, channel: Channel, manage: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("channelCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#channelCard { background: white; border-radius: 8px; }")
        self.name = named(QLabel(), "channelName")
        self.name.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.phone = QLabel()
        self.state = named(QLabel(), "channelState")
        self.reason = named(QLabel(), "channelReason")
        self.reason.setWordWrap(True)
        self.pair_btn = QPushButton(self.tr("Conectar celular"))
        self.pair_btn.clicked.connect(lambda: self.pairRequested.emit(self.channel.id))
        self.notice = named(QLabel(), "channelNotice")
        self.notice.setStyleSheet("color: #B3261E;")
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout = QVBoxLayout(self)
        for w in (self.name, self.phone, self.state, self.reason, self.pair_btn):
            layout.addWidget(w)
        self.action_buttons: dict[str, QPushButton] = {}
        self.action_grid = self._action_buttons() if manage else QGridLayout()
        layout.addLayout(self.action_grid)
        layout.addWidget(self.notice)
        layout.addStretch(1)  # cards of one grid row share a height: keep the content on top
        self.setFixedWidth(300)
        self.update_channel(channel)

    def _action_buttons(self) -> QGridLayout:
        labels = {
            "resume_reconnect": self.tr("Reconectar"),
            "code": self.tr("Parear por código"),
            "suspend": self.tr("Pausar"),
            "resume": self.tr("Retomar"),
            "history": self.tr("Histórico"),
            "logout": self.tr("Desconectar número"),
        }
        for key, text in labels.items():
            button = named(QPushButton(text, self), f"action_{key}")
            action = "resume" if key == "resume_reconnect" else key
            button.clicked.connect(lambda _c=False, a=action: self._request(a))
            self.action_buttons[key] = button
        self.action_buttons["logout"].setStyleSheet("color: #B3261E;")
        return QGridLayout()

    def _request(self, action: str) -> None:
        self.notice.hide()
        self.actionRequested.emit(self.channel.id, action)

    def show_error(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def update_channel(self, channel: Channel, branch: str = "") -> None:
        """Show ``channel`` (its branch's name under the title when known)."""
        self.channel = channel
        self.name.setText(channel.display_name)
        where = " · ".join(p for p in (branch, phone_text(channel.phone_e164)) if p)
        self.phone.setText(where)
        self.phone.setVisible(bool(where))
        colour = STATE_COLOURS.get(channel.state, "#5F6368")
        self.state.setText(f"<span style='color:{colour}'>●</span> {state_text(channel.state)}")
        detail = reason_text(channel.reason)
        if channel.state == "CONNECTED" and channel.warning:
            detail = deaf_warning_text()
        self.reason.setText(detail)
        self.reason.setVisible(bool(detail))
        unpaired = channel.state in ("QR_REQUIRED", "DISCONNECTED", "ERROR")
        self.pair_btn.setVisible(unpaired)
        self._show_actions(channel.state, unpaired)

    def _show_actions(self, state: str, unpaired: bool) -> None:
        """Only the actions that make sense in ``state`` (history always)."""
        shown = {
            "resume_reconnect": state in ("ERROR", "DISCONNECTED", "CONNECTING"),
            "code": unpaired,
            "suspend": state not in ("SUSPENDED", "QR_REQUIRED"),
            "resume": state == "SUSPENDED",
            "history": True,
            "logout": state in ("CONNECTED", "CONNECTING", "SUSPENDED", "ERROR"),
        }
        visible = [b for k, b in self.action_buttons.items() if shown[k]]
        for button in self.action_buttons.values():
            self.action_grid.removeWidget(button)
        for n, button in enumerate(visible):  # two a row, without holes for hidden ones
            self.action_grid.addWidget(button, n // 2, n % 2)
        for button in self.action_buttons.values():
            button.setVisible(button in visible)


class PairingDialog(QDialog):
    """Shows the pairing QR of one channel with a countdown until it expires."""

    def __init__(
        self, client: DeskClient, bridge: EventBridge, channel: Channel,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.channel = client, channel
        self.setWindowTitle(self.tr("Conectar %1").replace("%1", channel.display_name))
        self.qr = QLabel(self.tr("Gerando o código…"), alignment=Qt.AlignmentFlag.AlignCenter)
        self.qr.setMinimumSize(280, 280)
        steps = self.tr(
            "No celular da clínica, abra o WhatsApp → Aparelhos conectados → "
            "Conectar um aparelho, e aponte a câmera para o código."
        )
        self.help = QLabel(steps, wordWrap=True)
        self.countdown = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.notice = QLabel(wordWrap=True)
        close = QPushButton(self.tr("Fechar"))
        close.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (self.help, self.qr, self.countdown, self.notice, close):
            layout.addWidget(w)
        self._deadline = 0.0
        self._timer = QTimer(self, interval=1000)
        self._timer.timeout.connect(self._tick)
        bridge.pairingQr.connect(self._on_qr)
        bridge.channelStateChanged.connect(self._on_state)
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Ask the engine to start pairing; the QR arrives through the bridge."""
        self._task = asyncio.ensure_future(self._pair())

    async def _pair(self) -> None:
        try:
            await self.client.pair(self.channel.id)
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))

    def _on_qr(self, channel_id: int, payload: str, expires_in: float) -> None:
        if channel_id != self.channel.id:
            return
        self.qr.setPixmap(QPixmap.fromImage(qr_image(payload)))
        self._deadline = time.monotonic() + expires_in
        self._tick()
        self._timer.start()

    def _tick(self) -> None:
        left = max(0, int(self._deadline - time.monotonic()))
        self.countdown.setText(self.tr("O código vale por mais %1 s").replace("%1", str(left)))
        if left == 0:
            self._timer.stop()
            self.countdown.setText(self.tr("Código expirado. Aguarde um novo…"))

    def _on_state(self, channel_id: int, state: str, _reason: str) -> None:
        if channel_id == self.channel.id and state == "CONNECTED":
            self._timer.stop()
            self.accept()


class ChannelsPage(QWidget):
    """A grid of channel cards, updated live from the bridge."""

    def __init__(
        self, client: DeskClient, bridge: EventBridge, parent: QWidget | None = None,
        me: Me | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client, self.bridge, self.me = client, bridge, me
        self.cards: dict[int, ChannelCard] = {}
        self._pending: list[Channel] | None = None  # the newest list, until the page is shown
        self.branch_names: dict[int, str] = {}
        self.dialog: PairingDialog | None = None
        self.code_dialog: PairCodeDialog | None = None
        self.history_dialog: HistoryDialog | None = None
        self.logout_box: QWidget | None = None
        self._tasks = TaskSet()
        self._grid = QGridLayout()
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.addLayout(self._grid)
        column.addStretch(1)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(holder)
        title = named(QLabel(self.tr("Números de WhatsApp")), "pageTitle")
        title.setStyleSheet("font-size: 18px; font-weight: bold;")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(scroll, 1)

    def set_channels(self, channels: list[Channel]) -> None:
        """Show ``channels`` (replacing or updating cards) now if the page is visible, else
        when it is shown: building the cards cost ~80 ms of the inbox's first paint."""
        self._pending = list(channels)
        if self.isVisible():
            self._apply_channels()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._apply_channels()

    def _apply_channels(self) -> None:
        channels, self._pending = self._pending, None
        for channel in channels or ():
            card = self.cards.get(channel.id)
            branch = self.branch_names.get(channel.branch_id, "")
            if card is None:
                manage = self.me is not None and self.me.manages_channels(channel.branch_id)
                card = ChannelCard(channel, manage)
                card.update_channel(channel, branch)
                card.pairRequested.connect(self.open_pairing)
                card.actionRequested.connect(self.run_action)
                self._grid.addWidget(card, len(self.cards) // 3, len(self.cards) % 3)
                card.show()  # now, not on the queued show a layout gives a visible parent
                self.cards[channel.id] = card
            else:
                card.update_channel(channel, branch)

    def open_pairing(self, channel_id: int) -> None:
        card = self.cards.get(channel_id)
        if card is None:
            return
        self.dialog = PairingDialog(self.client, self.bridge, card.channel, self)
        self.dialog.open()
        self.dialog.start()

    # ---- actions (managers only) --------------------------------------------------------------

    def run_action(self, channel_id: int, action: str) -> None:
        """Do ``action`` on the channel: log-out asks first; code and history open a dialog."""
        card = self.cards.get(channel_id)
        if card is None:
            return
        if action == "logout":
            self.logout_box = ask_logout(
                self, card.channel, lambda: self._spawn(self._call(card, "logout"))
            )
        elif action == "code":
            self.code_dialog = PairCodeDialog(self.client, card.channel, self)
            self.code_dialog.open()
        elif action == "history":
            self._spawn(self._history(card))
        else:
            self._spawn(self._call(card, action))

    async def _call(self, card: ChannelCard, action: str) -> None:
        try:
            await self.client.channel_action(card.channel.id, action)
        except ClinicDeskError as exc:
            card.show_error(channel_error_text(exc))

    async def _history(self, card: ChannelCard) -> None:
        try:
            changes = await self.client.channel_history(card.channel.id)
        except ClinicDeskError as exc:
            card.show_error(channel_error_text(exc))
            return
        self.history_dialog = HistoryDialog(card.channel, self)
        self.history_dialog.show_changes(changes)
        self.history_dialog.open()

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        """Wait for the actions under way (tests)."""
        await self._tasks.settle()
        if self.code_dialog is not None:
            await self.code_dialog.settle()
