"""Cópias de segurança: figures from the status, the 26 h alert, "Fazer cópia agora"
(one call, button disabled while it runs, the result or the error in Portuguese), and the page
only for admins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtWidgets import QListWidget

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.backups_page import BackupsPage, relative_text
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_types import BackupStatus, BranchRole, Me, backup_status_of
from app.ui.login import LoginResult
from app.ui.main_window import MainWindow

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def status(**changes: Any) -> BackupStatus:
    """What ``GET /backups`` answers, parsed by the real client parser."""
    body: dict[str, Any] = {
        "status": {
            "last_success": {"at": "2026-11-23T15:00:00+00:00", "archive": "/b/one.cdbk"},
            "last_failure": {"at": "2026-11-22T05:30:00+00:00", "code": "backup.target_failed"},
            "last_verify": {"at": "2026-11-23T15:00:10+00:00", "archive": "/b/one.cdbk"},
            "last_restore_test": None,
            "next_run": "2026-11-24T05:30:00+00:00",
            "targets": [{"path": "/b", "free_bytes": 12_345_000_000},
                        {"path": "/usb", "free_bytes": None}],
            "has_backup_key": True,
        },
        "archives": [{"path": "/b/one.cdbk"}, {"path": "/b/two.cdbk"}],
    }  # fmt: skip
    body["status"].update(changes)
    return backup_status_of(body)


class FakeClient:
    """Answers the two backup calls; ``run_backup`` waits for ``release`` when given one."""

    def __init__(self, fail: ErrorCode | None = None) -> None:
        self.runs = 0
        self.fail = fail
        self.release: asyncio.Event | None = None
        self.current = status()

    async def backups(self) -> BackupStatus:
        return self.current

    async def run_backup(self) -> str:
        self.runs += 1
        if self.release is not None:
            await self.release.wait()
        if self.fail is not None:
            raise ClinicDeskError(self.fail, path="/usb", error="No space left on device")
        self.current = status(last_success={"at": NOW.isoformat(), "archive": "/b/new.cdbk"})
        return "/b/new.cdbk"


def _page(qtbot: Any, client: FakeClient) -> BackupsPage:
    page = BackupsPage(client, clock=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show()  # showing the page loads the status
    return page


async def test_the_page_shows_the_figures_of_the_status(qtbot: Any) -> None:
    page = _page(qtbot, FakeClient())
    await page.settle()
    local = datetime(2026, 11, 23, 15, 0, tzinfo=UTC).astimezone()
    shown = {key: label.text() for key, label in page.fields.items()}
    assert shown["success"] == f"{local:%d/%m/%Y %H:%M} (há 3 horas)"
    assert shown["archive"] == "/b/one.cdbk"
    assert shown["next"].endswith("(em 11 horas)")
    assert shown["restore"] == "Nunca"
    assert shown["failure"].endswith("(há 36 horas)\nNão foi possível gravar no destino: disco "
                                     "cheio, desconectado ou sem permissão.")  # fmt: skip
    assert shown["targets"] == "/b — 12,3 GB livres\n/usb — espaço livre desconhecido"
    assert shown["archives"] == "2"
    assert page.freshness.property("alert") is False
    assert page.freshness.text() == "As cópias estão em dia."
    assert relative_text(NOW - timedelta(hours=50), NOW) == "há 2 dias"


async def test_a_backup_older_than_26_hours_is_an_alert(qtbot: Any) -> None:
    client = FakeClient()
    old = (NOW - timedelta(hours=26, minutes=1)).isoformat()
    client.current = status(last_success={"at": old, "archive": "/b/one.cdbk"})
    page = _page(qtbot, client)
    await page.settle()
    assert page.freshness.property("alert") is True
    assert "mais de 26 horas" in page.freshness.text()
    assert "#FCE8E6" in page.freshness.styleSheet()
    client.current = status(last_success=None)
    page.refresh()
    await page.settle()
    assert page.freshness.property("alert") is True
    assert page.fields["success"].text() == "Nunca"


async def test_back_up_now_runs_once_disables_the_button_and_shows_the_archive(
    qtbot: Any,
) -> None:
    client = FakeClient()
    client.release = asyncio.Event()
    page = _page(qtbot, client)
    await page.settle()
    page.run_button.click()
    page.run_button.click()  # a second click while it runs does nothing
    await asyncio.sleep(0)
    assert client.runs == 1
    assert not page.run_button.isEnabled()
    assert page.progress.isVisible() and page.progress.maximum() == 0  # indeterminate
    assert page.result.text().startswith("Copiando…")
    client.release.set()
    await page.settle()
    assert client.runs == 1
    assert page.run_button.isEnabled() and not page.progress.isVisible()
    assert page.result.text() == "Cópia feita e conferida: /b/new.cdbk"
    assert page.fields["archive"].text() == "/b/new.cdbk"  # refreshed after the run
    assert page.fields["success"].text().endswith("(agora há pouco)")


async def test_a_running_backup_shows_its_step_and_the_button_waits(qtbot: Any) -> None:
    client = FakeClient()
    client.current = status(running={"step": "media", "index": 2, "total": 5})
    page = _page(qtbot, client)  # the nightly backup is running as the page opens
    await page.settle()
    assert page.result.text() == "Etapa 2 de 5: Copiando fotos e documentos…"
    assert (page.progress.maximum(), page.progress.value()) == (5, 1)
    assert page.progress.isVisible() and not page.run_button.isEnabled()
    assert page.poll.isActive()  # its next steps are asked for every second
    client.current = status()
    page.refresh()
    await page.settle()
    assert not page.progress.isVisible() and page.run_button.isEnabled()
    assert not page.poll.isActive() and page.result.text() == ""


async def test_back_up_now_shows_the_steps_then_the_outcome(qtbot: Any) -> None:
    client = FakeClient()
    client.release = asyncio.Event()
    page = _page(qtbot, client)
    await page.settle()
    page.run_button.click()
    client.current = status(running={"step": "verifying", "index": 5, "total": 5})
    await page.refresh_now()  # what the poll timer does each second
    assert page.result.text() == "Etapa 5 de 5: Conferindo a cópia…"
    client.release.set()
    await page.settle()
    assert page.result.text() == "Cópia feita e conferida: /b/new.cdbk"
    # a poll answered after the run ended shows the step, and the next one the outcome again
    page.show_status(status(running={"step": "verifying", "index": 5, "total": 5}))
    page.show_status(status())
    assert page.result.text() == "Cópia feita e conferida: /b/new.cdbk"


async def test_a_failed_run_shows_the_reason_in_portuguese(qtbot: Any) -> None:
    client = FakeClient(fail=ErrorCode.BACKUP_IN_PROGRESS)
    page = _page(qtbot, client)
    await page.settle()
    page.run_button.click()
    await page.settle()
    assert page.result.text() == "Já há uma cópia em andamento. Aguarde ela terminar."
    assert page.run_button.isEnabled()
    client.fail = ErrorCode.ENGINE_UNREACHABLE
    page.run_button.click()
    await page.settle()
    assert page.result.text().startswith("Não foi possível conectar ao serviço ClinicDesk")
    assert client.runs == 2


async def _sidebar(qtbot: Any, role: str) -> tuple[list[str], MainWindow, DeskClient]:
    client = DeskClient("http://127.0.0.1:9")  # nothing answers; the pages show as built
    me = Me(1, "ana", "Ana", False, (BranchRole(1, "Centro", role),))
    window = MainWindow(client, EventBridge(client.events_url), LoginResult(me, None))
    qtbot.addWidget(window)
    sidebar = window.findChild(QListWidget, "sidebar")
    return [sidebar.item(i).text() for i in range(sidebar.count())], window, client


async def test_the_page_is_only_for_admins(qtbot: Any) -> None:
    items, window, client = await _sidebar(qtbot, "receptionist")
    assert "Cópias de segurança" not in items
    assert not window.findChildren(BackupsPage)
    await client.close()
    items, window, client = await _sidebar(qtbot, "admin")
    assert items[-1] == "Cópias de segurança"
    assert len(window.findChildren(BackupsPage)) == 1
    await client.close()
