"""Composition of the desk: app, loop, client, bridge, login, main window (``run_desk``).

The desk is a client of the engine: it gets the engine's URL (from ``engine.json`` of the data
directory, or from the demo), logs in, and from then on talks to the engine only through
:class:`DeskClient` (HTTP) and :class:`EventBridge` (``/events``). Closing the window ends the
desk only; the engine and WhatsApp keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication, QWidget

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.app import make_app
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.desk_settings import DeskSettings
from app.ui.login import LoginDialog, LoginResult, branch_choices
from app.ui.main_window import MainWindow
from app.ui.start_dialog import queue_choices

log = logging.getLogger(__name__)
AUTOLOGIN_WAIT_S = 60.0
SHOT_NAMES = (
    "login.png", "inbox.png", "conversation.png", "contacts.png", "channels.png", "painel.png",
    "reminders.png", "clinic.png", "clinic_queues.png", "clinic_replies.png",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeskOptions:
    """How to run the desk.

    ``autologin`` (user, password) skips the dialog (the demo). ``screenshot`` is a PNG path
    for the main window, or an existing directory that receives one picture per main screen
    (``SHOT_NAMES``); then the desk exits after
    ``quit_after`` seconds (default 8).
    """

    engine_url: str
    username: str = ""
    autologin: tuple[str, str] | None = None
    screenshot: Path | None = None
    quit_after: float | None = None
    language: str | None = None


def run_desk(options: DeskOptions) -> int:
    """Run the desk until its window closes (or the screenshot is taken); the exit code."""
    app, translators = make_app(
        options.language or os.environ.get("CLINICDESK_LANG") or DeskSettings().language
    )
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            code: int = loop.run_until_complete(Desk(app, options).run())
            return code
    finally:
        del translators


class Desk:
    """One desk session: owns the client, the bridge and the windows."""

    def __init__(self, app: QApplication, options: DeskOptions) -> None:
        self.app, self.options = app, options
        self.client = DeskClient(options.engine_url, workstation=socket.gethostname())
        self.bridge = EventBridge(self.client.events_url)
        self.client.on_token = self.bridge.set_token
        self.window: MainWindow | None = None

    async def run(self) -> int:
        try:
            login = await self._log_in()
            if login is None:
                return 1
            self.window = await self.open_main(login)
            if self.options.screenshot is not None:
                return await self._screenshots(self.window)
            closing = _until(self.window.closed.connect)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing, self.options.quit_after)
            return 0
        finally:
            await self.bridge.stop()
            await self.client.close()

    async def _log_in(self) -> LoginResult | None:
        if self.options.autologin is not None:
            return await self._autologin(*self.options.autologin)
        dialog = LoginDialog(self.client, self.options.username)
        dialog.show()
        dialog.check_engine()
        await _until(dialog.finished.connect)
        return dialog.result_

    async def _autologin(self, username: str, password: str) -> LoginResult | None:
        """Log in without a dialog (demo), waiting for the engine to answer first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AUTOLOGIN_WAIT_S
        while loop.time() < deadline:
            try:
                me = await self.client.login(username, password)
            except ClinicDeskError as exc:
                if exc.code is not ErrorCode.ENGINE_UNREACHABLE:
                    raise
                await asyncio.sleep(0.5)
                continue
            branches = await branch_choices(self.client, me)
            return LoginResult(me, branches[0] if branches else None)
        return None

    async def open_main(self, login: LoginResult) -> MainWindow:
        """Build and show the main window, start the event stream, load the first data."""
        window = MainWindow(self.client, self.bridge, login)
        self.client.on_auth_lost = lambda: log.info("session lost", extra={"code": "auth"})
        assert self.client.token is not None
        self.bridge.start(self.client.token)
        window.show()
        window.refresh_channels()
        for model in window.inbox.models.values():
            model.fetchMore()
        with contextlib.suppress(ClinicDeskError):
            branches = await branch_choices(self.client, login.me)
            window.set_branch_names({b.id: b.name for b in branches})
        if login.branch is not None:
            await self._load_branch_data(window, login.branch.id)
        return window

    async def _load_branch_data(self, window: MainWindow, branch_id: int) -> None:
        with contextlib.suppress(ClinicDeskError):
            queues = await self.client.queues(branch_id)
            window.inbox.set_queues({q.id: (q.name, q.color) for q in queues})
            me = window.login.me
            roles = {b.branch_id: b.role for b in me.branches}
            receptionist = not me.super_admin and roles.get(branch_id) == "receptionist"
            window.inbox.start_queues = queue_choices(queues, receptionist)
        with contextlib.suppress(ClinicDeskError):
            replies = await self.client.quick_replies(branch_id)
            window.inbox.conversation.set_quick_replies({q.shortcut: q.body for q in replies})

    # ---- screenshots --------------------------------------------------------------------------

    async def _screenshots(self, window: MainWindow) -> int:
        """Wait ``quit_after`` seconds of live demo, then save the picture(s) and stop."""
        await asyncio.sleep(self.options.quit_after or 8.0)
        await window.settle()
        target = self.options.screenshot
        assert target is not None
        if not target.is_dir():
            window.inbox.open_first()
            await _pause(window)
            return 0 if save(window, target) else 1
        return 0 if await self._all_screens(window, target) else 1

    async def _all_screens(self, window: MainWindow, folder: Path) -> bool:
        ok = save(window, folder / "inbox.png")
        if window.inbox.open_first():
            await _pause(window)
            ok = save(window, folder / "conversation.png") and ok
        ok = await self._contacts_screen(window, folder) and ok
        start = window.inbox.open_start("(11) 91234-5678")
        await _pause(window)
        ok = save(start, folder / "new_conversation.png") and ok
        start.reject()
        for page, name in ((2, "channels.png"), (3, "painel.png"), (4, "reminders.png")):
            window.show_page(page)
            await _pause(window)
            ok = save(window, folder / name) and ok
        ok = await self._reminder_screen(window, folder) and ok
        ok = await self._clinic_screens(window, folder) and ok
        dialog = LoginDialog(DeskClient(self.options.engine_url), "ana1")
        dialog.show()
        await _pause(window)
        ok = save(dialog, folder / "login.png") and ok
        dialog.close()
        await dialog.client.close()
        return ok

    async def _reminder_screen(self, window: MainWindow, folder: Path) -> bool:
        """ "Novo lembrete" for the first demo patient, asking for confirmation."""
        dialog = window.reminders_page.open_new()
        dialog.finder.setText("maria")
        dialog.search_now()
        await _pause(window)
        if dialog.found.count():
            dialog.found.item(0).setSelected(True)
        dialog.text.setPlainText(dialog.text.placeholderText())
        dialog.ask.setChecked(True)
        await _pause(window)
        ok = save(dialog, folder / "new_reminder.png")
        dialog.reject()
        return ok

    async def _contacts_screen(self, window: MainWindow, folder: Path) -> bool:
        """Contatos with the first patient whose name starts "Maria" (a demo patient) open."""
        page = window.contacts_page
        window.show_page(window.stack.indexOf(page))
        page.finder.setText("maria")
        page.search_now()
        await _pause(window)
        if page.results.count():
            page.results.setCurrentRow(0)
            await _pause(window)
        return save(window, folder / "contacts.png")

    async def _clinic_screens(self, window: MainWindow, folder: Path) -> bool:
        """Clínica's three tabs (admins and supervisors only have the page)."""
        page = window.clinic_page
        if page is None:
            return True
        window.show_page(window.stack.indexOf(page))
        await _pause(window)
        await page.settle()
        ok = save(window, folder / "clinic.png")
        for tab, name in ((page.queues, "clinic_queues.png"), (page.replies, "clinic_replies.png")):
            page.tabs.setCurrentWidget(tab)
            await _pause(window)
            await page.settle()
            ok = save(window, folder / name) and ok
        return ok


def save(widget: QWidget, path: Path) -> bool:
    """A PNG of ``widget`` as it is on screen (works offscreen too)."""
    return bool(widget.grab().save(str(path), "PNG"))


async def _pause(window: MainWindow) -> None:
    """Let pending fetches land and Qt lay out and paint before a grab."""
    for _ in range(3):
        await window.settle()
        await asyncio.sleep(0.3)


async def _until(connect: Callable[[Callable[..., None]], object]) -> None:
    """Wait (without blocking the loop) until the signal behind ``connect`` fires once."""
    done = asyncio.get_running_loop().create_future()

    def fire(*_args: object) -> None:
        if not done.done():
            done.set_result(None)

    connect(fire)
    await done
