"""The login dialog: user and password, then the branch when the user works in several.

While the engine does not answer, the dialog says so in plain Portuguese and checks again
every few seconds by itself; the "Entrar" button comes back as soon as the engine answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client import DeskClient
from app.ui.client_types import Branch, Me
from app.ui.qtutil import named
from app.ui.texts import error_text

RETRY_MS = 3000


@dataclass(frozen=True, slots=True)
class LoginResult:
    me: Me
    branch: Branch | None  # None: a super admin without branches yet


async def branch_choices(client: DeskClient, me: Me) -> list[Branch]:
    """The branches the user may work in (all of them for a super admin)."""
    if me.super_admin:
        return await client.branches()
    return [Branch(b.branch_id, b.branch_name) for b in me.branches]


class LoginDialog(QDialog):
    """Asks for credentials; ``result`` is set when the dialog is accepted."""

    def __init__(
        self, client: DeskClient, username: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.result_: LoginResult | None = None
        self._me: Me | None = None
        self._branches: list[Branch] = []
        self._task: asyncio.Task[Any] | None = None
        self.setWindowTitle(self.tr("ClinicDesk — Entrar"))
        self._build(username)
        self._timer = QTimer(self, interval=RETRY_MS)
        self._timer.timeout.connect(self.check_engine)

    def _build(self, username: str) -> None:
        title = named(QLabel(self.tr("Bem-vindo ao ClinicDesk")), "loginTitle")
        title.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.user = named(QLineEdit(username), "username")
        self.password = named(QLineEdit(), "password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.branch = named(QComboBox(), "branch")
        self.branch_label = QLabel(self.tr("Unidade"))
        form = QFormLayout()
        form.addRow(self.tr("Usuário"), self.user)
        form.addRow(self.tr("Senha"), self.password)
        form.addRow(self.branch_label, self.branch)
        self.message = named(QLabel(wordWrap=True), "loginMessage")
        self.message.setStyleSheet("color: #B3261E;")
        self.button = named(QPushButton(self.tr("Entrar")), "loginButton")
        self.button.setDefault(True)
        self.button.clicked.connect(self.submit)
        self.password.returnPressed.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addWidget(title, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.button)
        self._show_branches(False)
        self.setMinimumWidth(360)

    def _show_branches(self, on: bool) -> None:
        self.branch.setVisible(on)
        self.branch_label.setVisible(on)
        self.user.setEnabled(not on)
        self.password.setEnabled(not on)

    # ---- engine reachability ------------------------------------------------------------------

    def check_engine(self) -> None:
        """Check in the background whether the engine answers; update the dialog."""
        self._spawn(self._check())

    async def _check(self) -> None:
        up = await self.client.health()
        if up:
            self._timer.stop()
            if self.message.text() == error_text(ErrorCode.ENGINE_UNREACHABLE):
                self.message.clear()
            self.button.setEnabled(True)
        else:
            self._unreachable()

    def hideEvent(self, event: QHideEvent) -> None:
        """A dialog no one sees stops asking the engine."""
        self._timer.stop()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        """Shown again while the engine was unreachable: ask again at once."""
        super().showEvent(event)
        if self.message.text() == error_text(ErrorCode.ENGINE_UNREACHABLE):
            self.check_engine()

    def _unreachable(self) -> None:
        self.message.setText(error_text(ErrorCode.ENGINE_UNREACHABLE))
        self.button.setEnabled(False)
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    # ---- submitting ---------------------------------------------------------------------------

    def submit(self) -> None:
        if self._me is not None:
            self._finish(self._branches[self.branch.currentIndex()])
            return
        if not self.user.text().strip() or not self.password.text():
            self.message.setText(self.tr("Informe usuário e senha."))
            return
        self.button.setEnabled(False)
        self._spawn(self._login(self.user.text().strip(), self.password.text()))

    async def _login(self, username: str, password: str) -> None:
        try:
            me = await self.client.login(username, password)
            branches = await branch_choices(self.client, me)
        except ClinicDeskError as exc:
            self._failed(exc)
            return
        self.password.clear()
        if len(branches) <= 1:
            self._me = me
            self._finish(branches[0] if branches else None)
            return
        self._ask_branch(me, branches)

    def _failed(self, exc: ClinicDeskError) -> None:
        if exc.code is ErrorCode.ENGINE_UNREACHABLE:
            self._unreachable()
            return
        self.message.setText(error_text(exc))
        self.button.setEnabled(True)
        self.password.selectAll()
        self.password.setFocus()

    def _ask_branch(self, me: Me, branches: list[Branch]) -> None:
        self._me, self._branches = me, branches
        self.branch.clear()
        self.branch.addItems([b.name for b in branches])
        self._show_branches(True)
        self.message.setText(self.tr("Escolha a unidade em que vai trabalhar."))
        self.message.setStyleSheet("color: palette(text);")
        self.button.setText(self.tr("Continuar"))
        self.button.setEnabled(True)

    def _finish(self, branch: Branch | None) -> None:
        assert self._me is not None
        self.result_ = LoginResult(self._me, branch)
        self.accept()

    def _spawn(self, coro: Any) -> None:
        self._task = asyncio.ensure_future(coro)

    async def settle(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
