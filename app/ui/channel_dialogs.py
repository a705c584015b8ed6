"""Dialogs of the Canais page: pairing by code, the state history, and the log-out warning.

Each dialog only shows and asks; the calls to the engine are made by the caller through
:class:`app.ui.client.DeskClient` (so a refusal is shown where the action started).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client import DeskClient
from app.ui.client_contact import StateChange
from app.ui.client_types import Channel
from app.ui.qtutil import named
from app.ui.texts import error_text, reason_text, state_text


def channel_error_text(error: ClinicDeskError) -> str:
    """A refusal of a channel action; "access denied" says who may do it."""
    if error.code is ErrorCode.ACCESS_DENIED:
        return QCoreApplication.translate(
            "ChannelActions", "Só administradores da unidade podem mudar os números de WhatsApp."
        )
    return error_text(error)


def ask_logout(parent: QWidget, channel: Channel, on_yes: Callable[[], None]) -> QMessageBox:
    """Ask (window-modal, without blocking the loop) before unlinking ``channel``: the clinic's
    phone must scan a new QR code afterwards. ``on_yes`` runs only if the user confirms."""
    box = QMessageBox(parent)
    box.setObjectName("logoutConfirm")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(QCoreApplication.translate("ChannelActions", "Desconectar número"))
    question = QCoreApplication.translate("ChannelActions", "Desconectar %1 do WhatsApp?")
    box.setText(question.replace("%1", channel.display_name))
    box.setInformativeText(
        QCoreApplication.translate(
            "ChannelActions",
            "As mensagens deixam de chegar por este número. Para voltar a usá-lo, será preciso "
            "ler um novo código QR com o celular da clínica.",
        )
    )
    yes = box.addButton(
        QCoreApplication.translate("ChannelActions", "Desconectar"),
        QMessageBox.ButtonRole.DestructiveRole,
    )
    box.addButton(
        QCoreApplication.translate("ChannelActions", "Cancelar"), QMessageBox.ButtonRole.RejectRole
    )
    box.finished.connect(lambda _r: on_yes() if box.clickedButton() is yes else None)
    box.open()
    return box


class PairCodeDialog(QDialog):
    """Asks for the clinic phone's number and shows the 8-character pairing code, big."""

    def __init__(self, client: DeskClient, channel: Channel, parent: QWidget | None = None):
        super().__init__(parent)
        self.client, self.channel = client, channel
        self.setWindowTitle(self.tr("Parear %1 por código").replace("%1", channel.display_name))
        self.phone = named(QLineEdit(channel.phone_e164 or ""), "pairPhone")
        self.phone.setPlaceholderText(self.tr("Número do celular, com DDD"))
        self.ask = named(QPushButton(self.tr("Gerar código")), "pairAsk")
        self.ask.clicked.connect(self.start)
        self.code = named(QLabel(alignment=Qt.AlignmentFlag.AlignCenter), "pairCode")
        self.code.setStyleSheet("font-size: 34px; font-weight: bold; letter-spacing: 4px;")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        steps = self.tr(
            "No celular da clínica, abra o WhatsApp → Aparelhos conectados → Conectar um "
            "aparelho → Conectar com número de telefone, e digite o código abaixo."
        )
        self.notice = named(QLabel(wordWrap=True), "pairNotice")
        self.notice.setStyleSheet("color: #B3261E;")
        close = QPushButton(self.tr("Fechar"))
        close.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(steps, wordWrap=True))
        for widget in (self.phone, self.ask, self.code, self.notice, close):
            layout.addWidget(widget)
        self.setMinimumWidth(360)
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Ask the engine for a code for the typed number."""
        phone = self.phone.text().strip()
        if phone:
            self._task = asyncio.ensure_future(self._pair(phone))

    async def _pair(self, phone: str) -> None:
        self.ask.setEnabled(False)
        try:
            code = await self.client.pair(self.channel.id, phone)
        except ClinicDeskError as exc:
            self.notice.setText(channel_error_text(exc))
            return
        finally:
            self.ask.setEnabled(True)
        self.notice.setText("")
        self.code.setText(_spaced(code or ""))

    async def settle(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def _spaced(code: str) -> str:
    """``ABCD1234`` as ``ABCD-1234`` (how WhatsApp shows it), easier to read aloud."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


class HistoryDialog(QDialog):
    """The channel's state changes, newest first, in plain Portuguese."""

    def __init__(self, channel: Channel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Histórico de %1").replace("%1", channel.display_name))
        self.rows = named(QListWidget(), "historyList")
        self.rows.setWordWrap(True)
        close = QPushButton(self.tr("Fechar"))
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.rows)
        layout.addWidget(close)
        self.resize(460, 360)

    def show_changes(self, changes: list[StateChange]) -> None:
        """One line per change: when, the new state and, if any, why."""
        self.rows.clear()
        for change in changes:
            when = change.at.astimezone().strftime("%d/%m %H:%M")
            why = reason_text(change.reason)
            line = f"{when}  {state_text(change.to_state)}"
            self.rows.addItem(f"{line}\n{why}" if why else line)
        if not changes:
            self.rows.addItem(self.tr("Nenhuma mudança registrada."))
