"""Cópias de segurança (admins): the backup status and "Fazer cópia agora".

Data: ``GET /backups`` (loaded whenever the page is shown) and ``POST /backups/run``. The run
answers only when the archive is written and verified and the API has no progress stream, so
the page shows an indeterminate bar and "Copiando…" meanwhile; the await runs on the qasync
loop, so the window stays responsive. A last success older than STALE_AFTER is shown as an
alert (RELIABILITY_SECURITY B6: daily RPO, alert after 26 h).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client import DeskClient
from app.ui.client_types import BackupStatus
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(hours=26)
POLL_MS = 1_000
ALERT_STYLE = (
    "background: #FCE8E6; color: #A50E0E; border-radius: 6px; padding: 8px; font-weight: bold;"
)
OK_STYLE = "background: #E6F4EA; color: #0D652D; border-radius: 6px; padding: 8px;"
FAILURE_STYLE = "color: #A50E0E;"
BUTTON_STYLE = (
    "QPushButton { background: #0B7A6F; color: white; border: none; border-radius: 6px;"
    " padding: 8px 18px; font-weight: bold; }"
    " QPushButton:disabled { background: #B0BEC5; }"
)


def _span(seconds: int) -> str:
    """ "3 horas", "1 dia", "5 minutos" (the largest whole unit)."""
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours >= 48:  # "há 36 horas" says more than "há 1 dia" next to a 26-hour alert
        one, many, n = (
            QCoreApplication.translate("Backups", "1 dia"),
            QCoreApplication.translate("Backups", "%1 dias"),
            days,
        )
    elif hours:
        one, many, n = (
            QCoreApplication.translate("Backups", "1 hora"),
            QCoreApplication.translate("Backups", "%1 horas"),
            hours,
        )
    else:
        one, many, n = (
            QCoreApplication.translate("Backups", "1 minuto"),
            QCoreApplication.translate("Backups", "%1 minutos"),
            max(1, minutes),
        )
    return one if n == 1 else many.replace("%1", str(n))


def relative_text(when: datetime, now: datetime) -> str:
    """ "há 3 horas" for the past, "em 8 horas" for the future, "agora há pouco" within 1 min."""
    seconds = int((now - when).total_seconds())
    if abs(seconds) < 60:
        return QCoreApplication.translate("Backups", "agora há pouco")
    if seconds > 0:
        return QCoreApplication.translate("Backups", "há %1").replace("%1", _span(seconds))
    return QCoreApplication.translate("Backups", "em %1").replace("%1", _span(-seconds))


def moment_text(when: datetime | None, now: datetime) -> str:
    """ "23/11/2026 15:40 (há 3 horas)" in the desk's local time; "Nunca" when None."""
    if when is None:
        return QCoreApplication.translate("Backups", "Nunca")
    local = when.astimezone()
    return f"{local:%d/%m/%Y %H:%M} ({relative_text(when, now)})"


def size_text(free: int | None) -> str:
    """Free space in GB (one decimal, comma as in pt-BR), or "espaço livre desconhecido"."""
    if free is None:
        return QCoreApplication.translate("Backups", "espaço livre desconhecido")
    gb = f"{free / 1e9:.1f}".replace(".", ",")
    return QCoreApplication.translate("Backups", "%1 GB livres").replace("%1", gb)


def step_text(step: str) -> str:
    """What a running backup is doing, in plain Portuguese (``step`` from ``GET /backups``)."""
    texts = {
        "snapshot": QCoreApplication.translate("Backups", "Preparando a cópia dos dados…"),
        "media": QCoreApplication.translate("Backups", "Copiando fotos e documentos…"),
        "channels": QCoreApplication.translate("Backups", "Copiando as conexões do WhatsApp…"),
        "database": QCoreApplication.translate("Backups", "Copiando as conversas…"),
        "copying": QCoreApplication.translate("Backups", "Gravando nos outros destinos…"),
        "verifying": QCoreApplication.translate("Backups", "Conferindo a cópia…"),
    }
    return texts.get(step, QCoreApplication.translate("Backups", "Copiando…"))


def backup_error_text(code: str | ErrorCode | None) -> str:
    """Why a backup failed, in plain Portuguese; other codes get the desk's usual text."""
    try:
        known = ErrorCode(code) if code else None
    except ValueError:
        known = None
    if known is None:
        return QCoreApplication.translate("Errors", "Algo deu errado. Tente de novo.")
    texts: dict[ErrorCode, str] = {
        ErrorCode.BACKUP_TARGET_FAILED: QCoreApplication.translate(
            "Backups",
            "Não foi possível gravar no destino: disco cheio, desconectado ou sem permissão.",
        ),
        ErrorCode.BACKUP_VERIFY_FAILED: QCoreApplication.translate(
            "Backups", "A cópia foi gravada, mas não passou na conferência e foi descartada."
        ),
        ErrorCode.BACKUP_ARCHIVE_INVALID: QCoreApplication.translate(
            "Backups", "A cópia gravada está danificada e foi descartada."
        ),
        ErrorCode.BACKUP_WRONG_KEY: QCoreApplication.translate(
            "Backups", "A chave das cópias deste computador não confere."
        ),
        ErrorCode.BACKUP_KEY_MISSING: QCoreApplication.translate(
            "Backups", "Este computador ainda não tem a chave das cópias. Chame o suporte técnico."
        ),
        ErrorCode.BACKUP_IN_PROGRESS: QCoreApplication.translate(
            "Backups", "Já há uma cópia em andamento. Aguarde ela terminar."
        ),
        ErrorCode.NOT_FOUND: QCoreApplication.translate(
            "Backups", "Ainda não há nenhuma cópia para testar."
        ),
    }
    return texts.get(known) or error_text(known)


class BackupsPage(QWidget):
    """The admins' backup page; never waits on the network (every call is an await)."""

    def __init__(
        self, client: DeskClient, parent: QWidget | None = None, clock: Any = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.now = clock or (lambda: datetime.now(UTC))
        self.status: BackupStatus | None = None
        self.own_run = False  # "Fazer cópia agora" awaits the engine
        self.outcome, self.outcome_style = "", ""  # how this page's last run ended
        self._tasks = TaskSet()
        self._build()
        # While a backup runs (this page's or the nightly one), its step is polled: the API
        # has no progress stream, and GET /backups is cheap.
        self.poll = QTimer(self, interval=POLL_MS)
        self.poll.timeout.connect(self._poll_due)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        head = named(QLabel(self.tr("Cópias de segurança")), "backupsTitle")
        head.setStyleSheet("font-size: 18px; font-weight: bold;")
        layout.addWidget(head)
        self.freshness = named(QLabel(), "backupFreshness")
        self.freshness.setWordWrap(True)
        layout.addWidget(self.freshness)
        layout.addWidget(self._details())
        layout.addWidget(self._run_row())
        layout.addStretch(1)

    def _details(self) -> QFrame:
        box = named(QFrame(), "backupDetails")
        box.setStyleSheet(
            "QFrame#backupDetails { background: white; border: 1px solid #DADCE0; "
            "border-radius: 8px; }"
        )
        form = QFormLayout(box)
        self.fields: dict[str, QLabel] = {}
        rows = (
            ("success", self.tr("Última cópia bem-sucedida")),
            ("archive", self.tr("Arquivo")),
            ("next", self.tr("Próxima cópia automática")),
            ("verify", self.tr("Última conferência")),
            ("restore", self.tr("Último teste de restauração")),
            ("failure", self.tr("Última falha")),
            ("targets", self.tr("Destinos")),
            ("archives", self.tr("Cópias guardadas")),
        )
        for key, caption in rows:
            value = named(QLabel("—"), f"backup_{key}")
            value.setWordWrap(True)
            self.fields[key] = value
            form.addRow(QLabel(caption), value)
        return box

    def _run_row(self) -> QWidget:
        row = QWidget()
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 8, 0, 0)
        self.run_button = named(QPushButton(self.tr("Fazer cópia agora")), "backupRun")
        self.run_button.setStyleSheet(BUTTON_STYLE)
        self.run_button.clicked.connect(self.run_now)
        self.progress = named(QProgressBar(), "backupProgress")
        self.progress.setRange(0, 0)  # indeterminate: the API reports no progress
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(320)
        self.progress.hide()
        line = QHBoxLayout()
        line.addWidget(self.run_button)
        line.addWidget(self.progress)
        line.addStretch(1)
        layout.addLayout(line)
        self.result = named(QLabel(), "backupResult")
        self.result.setWordWrap(True)
        layout.addWidget(self.result)
        return row

    # ---- data ---------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        self._spawn(self._load())

    async def refresh_now(self) -> None:
        """Load the status and show it (awaited: what :meth:`refresh` starts)."""
        await self._load()

    async def _load(self) -> None:
        try:
            status = await self.client.backups()
        except ClinicDeskError as exc:
            log.info("backup status failed", extra={"code": exc.code.value})
            self.freshness.setText(backup_error_text(exc.code))
            self.freshness.setStyleSheet(ALERT_STYLE)
            return
        self.show_status(status)

    def show_status(self, s: BackupStatus) -> None:
        """Fill the figures and the freshness banner from ``s``."""
        self.status, now = s, self.now()
        self.fields["success"].setText(moment_text(s.last_success_at, now))
        self.fields["archive"].setText(s.last_archive or "—")
        self.fields["next"].setText(
            moment_text(s.next_run, now) if s.next_run else self.tr("Não agendada")
        )
        self.fields["verify"].setText(moment_text(s.last_verify_at, now))
        self.fields["restore"].setText(moment_text(s.last_restore_test_at, now))
        self._show_failure(s, now)
        self.fields["targets"].setText(
            "\n".join(f"{path} — {size_text(free)}" for path, free in s.targets) or "—"
        )
        self.fields["archives"].setText(str(s.archives))
        self._show_freshness(s, now)
        self._show_running(s.running)

    def _show_running(self, running: tuple[str, int, int] | None) -> None:
        """A running backup's step on a bar of steps; the button waits until it ends."""
        self.run_button.setEnabled(running is None and not self.own_run)
        if running is None:
            if not self.own_run:
                self.progress.hide()
                self.poll.stop()
                if self.result.property("stage"):  # a step shown last: the run's outcome now
                    self.result.setText(self.outcome)
                    self.result.setStyleSheet(self.outcome_style)
                    self.result.setProperty("stage", False)
            return
        step, index, total = running
        self.progress.setRange(0, total)
        self.progress.setValue(index - 1)
        self.progress.show()
        stage = self.tr("Etapa %1 de %2:").replace("%1", str(index)).replace("%2", str(total))
        self.result.setStyleSheet("")
        self.result.setText(f"{stage} {step_text(step)}")
        self.result.setProperty("stage", True)
        if not self.poll.isActive():
            self.poll.start()

    def _poll_due(self) -> None:
        if self.isVisible():
            self.refresh()

    def _show_failure(self, s: BackupStatus, now: datetime) -> None:
        label = self.fields["failure"]
        if s.last_failure_at is None:
            label.setText(self.tr("Nenhuma"))
            label.setStyleSheet("")
            return
        label.setText(
            f"{moment_text(s.last_failure_at, now)}\n{backup_error_text(s.last_failure_code)}"
        )
        recent = s.last_success_at is None or s.last_failure_at > s.last_success_at
        label.setStyleSheet(FAILURE_STYLE if recent else "")

    def is_stale(self, s: BackupStatus, now: datetime) -> bool:
        """No successful backup, or the last one is older than STALE_AFTER (B6)."""
        return s.last_success_at is None or now - s.last_success_at > STALE_AFTER

    def _show_freshness(self, s: BackupStatus, now: datetime) -> None:
        if s.last_success_at is None:
            text = self.tr("Nenhuma cópia de segurança foi feita ainda. Faça uma agora.")
        elif self.is_stale(s, now):
            text = self.tr(
                "A última cópia tem mais de 26 horas. Confira o destino e faça uma cópia agora."
            )
        else:
            text = self.tr("As cópias estão em dia.")
        self.freshness.setText(text)
        self.freshness.setStyleSheet(ALERT_STYLE if self.is_stale(s, now) else OK_STYLE)
        self.freshness.setProperty("alert", self.is_stale(s, now))

    # ---- back up now --------------------------------------------------------------------------

    def run_now(self) -> None:
        """Start a backup; the button stays disabled until the engine answers."""
        if not self.run_button.isEnabled():
            return
        self.run_button.setEnabled(False)
        self.own_run = True
        self.progress.setRange(0, 0)  # until the first step is known
        self.progress.show()
        self.result.setStyleSheet("")
        self.result.setText(self.tr("Copiando… Isso pode levar alguns minutos."))
        self.poll.start()
        self._spawn(self._run())

    async def _run(self) -> None:
        try:
            archive = await self.client.run_backup()
        except ClinicDeskError as exc:
            log.info("backup run failed", extra={"code": exc.code.value})
            self.outcome, self.outcome_style = backup_error_text(exc.code), FAILURE_STYLE
        else:
            self.outcome = self.tr("Cópia feita e conferida: %1").replace("%1", archive)
            self.outcome_style = ""
        finally:
            self.result.setText(self.outcome)
            self.result.setStyleSheet(self.outcome_style)
            self.result.setProperty("stage", False)
            self.own_run = False
            self.poll.stop()
            self.progress.hide()
            self.run_button.setEnabled(True)
        await self._load()

    # ---- plumbing -----------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        await self._tasks.settle()
