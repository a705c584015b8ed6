"""Idle lock: after N minutes without keyboard or mouse input the window's content is covered
by an opaque panel that asks for the password again.

Unlocking logs in again through :class:`DeskClient` (``POST /auth/login`` as the same user), so
the token is replaced — the bridge follows through ``client.on_token``. A wrong password keeps
the panel up. The clock and the check are injectable so tests need not wait five minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.domain.errors import ClinicDeskError
from app.ui.client import DeskClient
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text

CHECK_MS = 10_000
INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class LockPanel(QWidget):
    """The opaque cover with the password field; hides everything under it."""

    def __init__(self, username: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("lockPanel")
        self.setAutoFillBackground(True)
        self.setStyleSheet("QWidget#lockPanel { background: #0B3D3A; } QLabel { color: white; }")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel(self.tr("Tela bloqueada por inatividade"))
        title.setStyleSheet("font-size: 20px; font-weight: bold;")
        layout.addWidget(title)
        ask = self.tr("Digite a senha de %1 para continuar.").replace("%1", username)
        layout.addWidget(QLabel(ask))
        self.password = named(QLineEdit(), "lockPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("Senha"))
        self.password.setMaximumWidth(320)
        layout.addWidget(self.password)
        self.button = named(QPushButton(self.tr("Desbloquear")), "lockUnlock")
        self.button.setMaximumWidth(320)
        layout.addWidget(self.button)
        self.error = named(QLabel(""), "lockError")
        self.error.setStyleSheet("color: #FFCDD2;")
        layout.addWidget(self.error)
        layout.addStretch(2)
        layout.setContentsMargins(60, 20, 60, 20)


class IdleLock(QObject):
    """Watches application input; locks ``window`` after ``minutes()`` idle minutes."""

    def __init__(
        self, window: QWidget, client: DeskClient, username: str,
        minutes: Callable[[], int], clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        super().__init__(window)
        self.window, self.client, self.username = window, client, username
        self._minutes, self._clock = minutes, clock
        self.last_input = clock()
        self.panel: LockPanel | None = None
        self._tasks = TaskSet()
        self.timer = QTimer(self, interval=CHECK_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    @property
    def locked(self) -> bool:
        return self.panel is not None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS and not self.locked:
            self.last_input = self._clock()
        return False

    def check(self) -> None:
        """Lock when the idle time has reached the configured minutes."""
        if not self.locked and self._clock() - self.last_input >= self._minutes() * 60:
            self.lock()

    def lock(self) -> None:
        panel = LockPanel(self.username, self.window)
        panel.setGeometry(self.window.rect())
        panel.button.clicked.connect(self.try_unlock)
        panel.password.returnPressed.connect(self.try_unlock)
        panel.show()
        panel.raise_()
        panel.password.setFocus()
        self.panel = panel

    def resize(self) -> None:
        """Keep the cover over the whole window (the window calls this on resize)."""
        if self.panel is not None:
            self.panel.setGeometry(self.window.rect())

    def try_unlock(self) -> None:
        if self.panel is not None:
            self._tasks.spawn(self._unlock(self.panel.password.text()))

    async def _unlock(self, password: str) -> None:
        panel = self.panel
        if panel is None:
            return
        panel.button.setEnabled(False)
        try:
            await self.client.login(self.username, password)
        except ClinicDeskError as exc:
            panel.button.setEnabled(True)
            panel.password.clear()
            panel.error.setText(error_text(exc))
            return
        self.unlock()

    def unlock(self) -> None:
        if self.panel is not None:
            self.panel.deleteLater()
            self.panel = None
        self.last_input = self._clock()

    async def settle(self) -> None:
        await self._tasks.settle()

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
