"""Canais: one card per WhatsApp number with its state in plain Portuguese, and pairing.

The pairing dialog asks the engine to start pairing and then shows each ``PairingQr`` from the
bridge as a QR image with a countdown; it closes itself when the channel reports CONNECTED.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import qrcode
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
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
from app.ui.client import Channel, DeskClient
from app.ui.qtutil import named
from app.ui.texts import deaf_warning_text, error_text, reason_text, state_text

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

    def __init__(self, channel: Channel, parent: QWidget | None = None) -> None:
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
        layout = QVBoxLayout(self)
        for w in (self.name, self.phone, self.state, self.reason, self.pair_btn):
            layout.addWidget(w)
        self.setFixedWidth(280)
        self.update_channel(channel)

    def update_channel(self, channel: Channel, branch: str = "") -> None:
        """Show ``channel`` (its branch's name under the title when known)."""
        self.channel = channel
        self.name.setText(channel.display_name)
        where = " · ".join(p for p in (branch, channel.phone_e164 or "") if p)
        self.phone.setText(where)
        self.phone.setVisible(bool(where))
        colour = STATE_COLOURS.get(channel.state, "#5F6368")
        self.state.setText(f"<span style='color:{colour}'>●</span> {state_text(channel.state)}")
        detail = reason_text(channel.reason)
        if channel.state == "CONNECTED" and channel.warning:
            detail = deaf_warning_text()
        self.reason.setText(detail)
        self.reason.setVisible(bool(detail))
        self.pair_btn.setVisible(channel.state in ("QR_REQUIRED", "DISCONNECTED", "ERROR"))


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
        self, client: DeskClient, bridge: EventBridge, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client, self.bridge = client, bridge
        self.cards: dict[int, ChannelCard] = {}
        self.branch_names: dict[int, str] = {}
        self.dialog: PairingDialog | None = None
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
        """Show ``channels`` (replacing or updating cards)."""
        for channel in channels:
            card = self.cards.get(channel.id)
            branch = self.branch_names.get(channel.branch_id, "")
            if card is None:
                card = ChannelCard(channel)
                card.update_channel(channel, branch)
                card.pairRequested.connect(self.open_pairing)
                self._grid.addWidget(card, len(self.cards) // 3, len(self.cards) % 3)
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
