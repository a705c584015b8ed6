"""Notifications (only when the window is not focused; privacy hides the text), the idle lock
(after the configured idle time, unlocked by the right password only) and the settings page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_types import Ticket, TicketPage
from app.ui.desk_settings import DeskSettings
from app.ui.idle_lock import IdleLock
from app.ui.notifier import Notifier
from app.ui.settings_page import SettingsPage
from tests.helpers.desk import make_ticket

SECRET = "Resultado do exame de HIV"


class FakeClient:
    """The client calls these features use; ``password`` is the only one accepted."""

    def __init__(self, ticket: Ticket | None = None, password: str = "certa") -> None:
        self._ticket, self._password = ticket, password
        self.token = "old"
        self.reads: list[list[int]] = []

    tickets_by_id = DeskClient.tickets_by_id  # the real batching over the fake read below

    async def tickets(self, status: str | None, limit: int = 50, **filters: Any) -> TicketPage:
        """Only ticket 7 is ours; others (another queue) are absent from the answer."""
        assert self._ticket is not None
        self.reads.append(list(filters["ids"]))
        ours = [self._ticket] if self._ticket.id in filters["ids"] else []
        return TicketPage(tuple(ours), None)

    async def login(self, username: str, password: str) -> None:
        if password != self._password:
            raise ClinicDeskError(ErrorCode.AUTH_INVALID_CREDENTIALS)
        self.token = "new"


@pytest.fixture
def settings(tmp_path: Path) -> DeskSettings:
    found = DeskSettings(QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat))
    found.sound = False
    return found


def _notifier(settings: DeskSettings, focused: list[bool]) -> tuple[Notifier, EventBridge, list]:
    ticket = make_ticket(7, contact_name="Maria Souza", preview=SECRET, unread_count=2)
    bridge = EventBridge("ws://127.0.0.1:9/events")
    notifier = Notifier(FakeClient(ticket), bridge, settings, lambda: focused[0])  # type: ignore[arg-type]
    shown: list[tuple[str, str]] = []
    notifier.notified.connect(lambda title, body: shown.append((title, body)))
    return notifier, bridge, shown


async def test_no_notification_while_the_window_is_focused(settings: DeskSettings) -> None:
    focused = [True]
    notifier, bridge, shown = _notifier(settings, focused)
    bridge.inboundReceived.emit(7, 1)
    await notifier.settle()
    assert shown == []
    assert notifier.total_unread == 2  # the count is kept all the same
    focused[0] = False
    bridge.inboundReceived.emit(7, 1)
    await notifier.settle()
    assert shown == [("Nova mensagem de paciente", "Maria Souza")]


async def test_a_burst_is_one_read_and_one_notice(settings: DeskSettings) -> None:
    notifier, bridge, shown = _notifier(settings, [False])
    for ticket_id in (7, 8, 7, 9) * 50:  # 200 messages at once; 8 and 9 are not ours
        bridge.inboundReceived.emit(ticket_id, 1)
    await notifier.settle()
    assert [sorted(ids) for ids in notifier.client.reads] == [[7, 8, 9]]  # one read, each once
    assert shown == [("Nova mensagem de paciente", "Maria Souza")]  # the newest that is ours
    assert notifier.total_unread == 2


async def test_a_message_that_leaves_its_conversation_closed_is_not_announced(
    settings: DeskSettings,
) -> None:
    closed = make_ticket(7, status="closed", contact_name="Maria Souza", unread_count=1)
    bridge = EventBridge("ws://127.0.0.1:9/events")
    notifier = Notifier(FakeClient(closed), bridge, settings, lambda: False)  # type: ignore[arg-type]
    shown: list[tuple[str, str]] = []
    notifier.notified.connect(lambda title, body: shown.append((title, body)))
    bridge.inboundReceived.emit(7, 1)  # a "1" confirming a reminder: the ticket stays closed
    await notifier.settle()
    assert shown == [] and notifier.total_unread == 0


async def test_privacy_hides_the_text_and_can_be_turned_off(settings: DeskSettings) -> None:
    assert settings.privacy  # the default: a reception screen may be seen by patients
    notifier, bridge, shown = _notifier(settings, [False])
    bridge.inboundReceived.emit(7, 1)
    await notifier.settle()
    assert all(SECRET not in part for note in shown for part in note)
    settings.privacy = False
    bridge.inboundReceived.emit(7, 1)
    await notifier.settle()
    assert shown[-1] == ("Maria Souza", SECRET)
    settings.notifications = False
    bridge.inboundReceived.emit(7, 1)
    await notifier.settle()
    assert len(shown) == 2


def _locked_window(qtbot: Any, now: list[float], minutes: int) -> tuple[QWidget, IdleLock, Any]:
    window = QWidget()
    window.resize(500, 400)
    qtbot.addWidget(window)
    window.show()
    client = FakeClient()
    lock = IdleLock(window, client, "ana", lambda: minutes, clock=lambda: now[0])  # type: ignore[arg-type]
    return window, lock, client


async def test_the_idle_lock_covers_the_window_after_the_configured_time(qtbot: Any) -> None:
    now = [1000.0]
    window, lock, _ = _locked_window(qtbot, now, minutes=3)
    now[0] += 3 * 60 - 1
    lock.check()
    assert not lock.locked
    now[0] += 1
    lock.check()
    assert lock.locked and lock.panel is not None
    assert lock.panel.isVisible() and lock.panel.geometry() == window.rect()
    lock.stop()


async def test_input_postpones_the_lock(qtbot: Any) -> None:
    now = [0.0]
    window, lock, _ = _locked_window(qtbot, now, minutes=5)
    now[0] += 200
    qtbot.keyClick(window, "a")
    now[0] += 200
    lock.check()
    assert not lock.locked  # 200 s since the last key, not 400
    lock.stop()


async def test_only_the_right_password_unlocks(qtbot: Any) -> None:
    now = [0.0]
    _window, lock, client = _locked_window(qtbot, now, minutes=5)
    lock.lock()
    panel = lock.panel
    assert panel is not None
    panel.password.setText("errada")
    lock.try_unlock()
    await lock.settle()
    assert lock.locked and panel.error.text() == "Usuário ou senha incorretos."
    assert client.token == "old"
    panel.password.setText("certa")
    lock.try_unlock()
    await lock.settle()
    assert not lock.locked and client.token == "new"
    lock.stop()


async def test_settings_page_writes_settings_and_hides_clinic_rules(
    qtbot: Any, settings: DeskSettings
) -> None:
    page = SettingsPage(settings, admin=True)
    qtbot.addWidget(page)
    page.idle.setValue(9)
    page.language.setCurrentIndex(page.language.findData("en"))
    page.privacy.setChecked(False)
    assert (settings.idle_minutes, settings.language, settings.privacy) == (9, "en", False)
    receptionist = SettingsPage(settings, admin=False)
    qtbot.addWidget(receptionist)
    receptionist.show()
    assert not receptionist.policy.isVisible() and receptionist.sound.isVisible()
