"""Clínica (admins and supervisors): how a branch answers patients, set from the desk.

Three tabs per branch. "Horário e mensagens": the clinic's name (``{clinica}``), business hours
(a weekly grid, :mod:`app.ui.clinic_hours`), the out-of-hours reply, the reopen window, the
menu's first line and the time zone; admins of the branch save them (only the fields that
changed: ``PATCH /branches/{id}/settings``), supervisors see them read-only. "Filas" (admins):
:mod:`app.ui.clinic_queues`. "Respostas rápidas": :mod:`app.ui.clinic_replies`.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.auto_texts import DEFAULTS as AUTO_TEXTS
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.tickets import DEFAULT_REOPEN_WINDOW
from app.ui import client_clinic
from app.ui.client import DeskClient
from app.ui.client_clinic import BranchSettings
from app.ui.client_types import Me
from app.ui.clinic_hours import HoursGrid
from app.ui.clinic_queues import QueuesTab
from app.ui.clinic_replies import RepliesTab
from app.ui.qtutil import ERROR_STYLE, named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text

log = logging.getLogger(__name__)
DEFAULT_REOPEN_MINUTES = int(DEFAULT_REOPEN_WINDOW.total_seconds() // 60)
MAX_REOPEN_MINUTES = 30 * 24 * 60  # the engine's limit (BranchService)
OK_STYLE = "color: #0D652D;"
ZONES = (  # Brazil's time zones, the usual one first
    ("America/Sao_Paulo", "Brasília, São Paulo, Rio, Sul, Goiás, Minas"),
    ("America/Bahia", "Salvador"),
    ("America/Fortaleza", "Fortaleza, Natal, São Luís, Teresina"),
    ("America/Recife", "Recife, João Pessoa"),
    ("America/Maceio", "Maceió, Aracaju"),
    ("America/Belem", "Belém, Macapá"),
    ("America/Araguaina", "Palmas, Araguaína"),
    ("America/Manaus", "Manaus"),
    ("America/Cuiaba", "Cuiabá"),
    ("America/Campo_Grande", "Campo Grande"),
    ("America/Porto_Velho", "Porto Velho"),
    ("America/Boa_Vista", "Boa Vista"),
    ("America/Rio_Branco", "Rio Branco"),
    ("America/Noronha", "Fernando de Noronha"),
)
ADMIN_ROLES, MANAGER_ROLES = ("admin", "super_admin"), ("admin", "super_admin", "supervisor")


def settings_error_text(error: ClinicDeskError) -> str:
    """Why the settings were not saved, naming the field when the engine did."""
    field = error.params.get("field")
    if error.code is not ErrorCode.INVALID_INPUT or not field:
        return error_text(error)
    texts = {
        "hours": QCoreApplication.translate("ClinicPage", "Confira o horário de atendimento."),
        "timezone": QCoreApplication.translate("ClinicPage", "Fuso horário desconhecido."),
        "out_of_hours_message": QCoreApplication.translate(
            "ClinicPage", "A mensagem fora do horário é longa demais."
        ),
        "menu_header": QCoreApplication.translate(
            "ClinicPage", "A primeira linha do menu é longa demais."
        ),
        "clinic_name": QCoreApplication.translate(
            "ClinicPage", "O nome da clínica é longo demais (até 120 caracteres)."
        ),
    }
    if field in AUTO_TEXTS:
        return QCoreApplication.translate(
            "ClinicPage", "Uma das mensagens automáticas é longa demais (até 1000 caracteres)."
        )
    return texts.get(str(field), error_text(error))


class SettingsForm(QWidget):
    """The branch's settings; Salvar sends only what changed since they were loaded."""

    def __init__(self, client: DeskClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.branch_id, self.editable = client, 0, False
        self.baseline: dict[str, Any] = {}
        self._tasks = TaskSet()
        self._build()

    def _build(self) -> None:
        self.clinic_name = named(QLineEdit(), "settingsClinicName")
        self.clinic_name.setPlaceholderText(self.tr("Usado em {clinica} nas mensagens"))
        self.grid = named(HoursGrid(), "settingsHours")
        self.out_of_hours = named(QPlainTextEdit(), "settingsOutOfHours")
        self.out_of_hours.setPlaceholderText(
            self.tr("Em branco: nenhuma resposta automática fora do horário.")
        )
        self.out_of_hours.setFixedHeight(80)
        self.reopen = named(QSpinBox(), "settingsReopen")
        self.reopen.setRange(0, MAX_REOPEN_MINUTES)
        self.reopen.setSuffix(self.tr(" min"))
        self.reopen.setMaximumWidth(160)
        self.menu_header = named(QLineEdit(), "settingsMenuHeader")
        self.menu_header.setPlaceholderText(self.tr("Em branco: a frase padrão do ClinicDesk"))
        self.timezone = named(QComboBox(), "settingsTimezone")
        for zone, cities in ZONES:
            self.timezone.addItem(cities, zone)
        form = QFormLayout()
        form.addRow(self.tr("Nome da clínica"), self.clinic_name)
        form.addRow(self.tr("Horário de atendimento"), self.grid)
        form.addRow(self.tr("Mensagem fora do horário"), self.out_of_hours)
        form.addRow(
            self.tr("Reabrir a conversa se o paciente\nescrever de novo em até"), self.reopen
        )
        form.addRow(self.tr("Primeira linha do menu"), self.menu_header)
        form.addRow(self.tr("Fuso horário"), self.timezone)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self._texts_box())
        layout.addLayout(self._save_row())
        layout.addStretch(1)

    def _texts_box(self) -> QGroupBox:
        """The automatic texts, each blank for the default (shown as the placeholder)."""
        box = QGroupBox(self.tr("Mensagens automáticas"))
        form = QFormLayout(box)
        self.texts: dict[str, QLineEdit] = {}
        for key, label in self._text_labels():
            self.texts[key] = named(QLineEdit(), f"settingsText_{key}")
            form.addRow(label, self.texts[key])
        return box

    def _text_labels(self) -> list[tuple[str, str]]:
        return [
            (
                "confirmation_prompt",
                self.tr("Pergunta no fim de um lembrete\nque pede confirmação"),
            ),
            ("confirmed_reply", self.tr("Resposta a quem confirma (1)")),
            ("declined_reply", self.tr("Resposta a quem pede para remarcar (2)")),
            ("opt_out_reply", self.tr("Resposta a SAIR")),
            ("opt_in_reply", self.tr("Resposta a VOLTAR")),
        ]

    def _save_row(self) -> QHBoxLayout:
        self.save_button = named(QPushButton(self.tr("Salvar")), "settingsSave")
        self.save_button.clicked.connect(self.save)
        self.result = named(QLabel(), "settingsResult")
        self.result.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.result, 1)
        return row

    def show_branch(self, branch_id: int, editable: bool) -> None:
        """Load this branch's settings; only admins of the branch may change them."""
        self.branch_id, self.editable = branch_id, editable
        self._tasks.spawn(self._load())

    async def _load(self) -> None:
        branch_id = self.branch_id
        try:
            settings = await client_clinic.branch_settings(self.client, branch_id)
        except ClinicDeskError as exc:
            log.info("branch settings failed", extra={"code": exc.code.value})
            self.say(error_text(exc), ERROR_STYLE)
            return
        if branch_id != self.branch_id:  # another branch was chosen meanwhile: its load wins
            return
        self.fill(settings)
        self.say("", "")

    def fill(self, s: BranchSettings) -> None:
        """Show ``s``; what is shown now is what Salvar compares against."""
        self.clinic_name.setText(s.clinic_name or "")
        self.grid.set_hours(s.business_hours)
        self.out_of_hours.setPlainText(s.out_of_hours_message or "")
        reopen = s.reopen_window_minutes
        self.reopen.setValue(DEFAULT_REOPEN_MINUTES if reopen is None else reopen)
        self.menu_header.setText(s.menu_header or "")
        for key, edit in self.texts.items():
            edit.setText(s.texts.get(key) or "")
            edit.setPlaceholderText(s.defaults.get(key, ""))  # what blank sends
        if self.timezone.findData(s.timezone) < 0:  # set elsewhere (CLI): keep it offered
            self.timezone.addItem(s.timezone, s.timezone)
        self.timezone.setCurrentIndex(self.timezone.findData(s.timezone))
        self.baseline = self.values()
        for widget in (self.clinic_name, self.grid, self.out_of_hours, self.reopen,
                       self.menu_header, self.timezone, self.save_button,
                       *self.texts.values()):  # fmt: skip
            widget.setEnabled(self.editable)
        self.save_button.setVisible(self.editable)

    def values(self) -> dict[str, Any]:
        """The form as the API's fields."""
        return {
            "clinic_name": self.clinic_name.text().strip(),
            "hours": self.grid.typed(),
            "out_of_hours_message": self.out_of_hours.toPlainText().strip(),
            "reopen_window_minutes": self.reopen.value(),
            "menu_header": self.menu_header.text().strip(),
            "timezone": self.timezone.currentData(),
        } | {key: edit.text().strip() for key, edit in self.texts.items()}

    def changes(self) -> dict[str, Any]:
        """The fields that differ from what was loaded ("" clears a text)."""
        return {k: v for k, v in self.values().items() if v != self.baseline.get(k)}

    def save(self) -> None:
        """Send the changes, unless the hours are impossible or nothing changed."""
        problem = self.grid.problem()
        if problem:
            self.say(problem, ERROR_STYLE)
            return
        change = self.changes()
        if not change:
            self.say(self.tr("Nada foi alterado."), "")
            return
        self._tasks.spawn(self._save(change))

    async def _save(self, change: dict[str, Any]) -> None:
        self.save_button.setEnabled(False)
        try:
            saved = await client_clinic.configure_branch(self.client, self.branch_id, change)
        except ClinicDeskError as exc:
            self.say(settings_error_text(exc), ERROR_STYLE)
            return
        finally:
            self.save_button.setEnabled(self.editable)
        self.fill(saved)
        self.say(self.tr("Salvo. Vale para as próximas mensagens dos pacientes."), OK_STYLE)

    def say(self, text: str, style: str) -> None:
        self.result.setText(text)
        self.result.setStyleSheet(style)

    async def settle(self) -> None:
        await self._tasks.settle()


class ClinicPage(QWidget):
    """The branch chooser and the three tabs."""

    def __init__(self, client: DeskClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.me = client, me
        self.branches: list[tuple[int, str]] = []
        self._tasks = TaskSet()
        head = QLabel(self.tr("Clínica"))
        head.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.branch = named(QComboBox(), "clinicBranch")
        self.branch.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.branch.currentIndexChanged.connect(self._branch_chosen)
        top = QHBoxLayout()
        top.addWidget(head)
        top.addStretch(1)
        top.addWidget(self.branch)
        self.form = SettingsForm(client)
        self.replies = RepliesTab(client)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.tabs = named(QTabWidget(), "clinicTabs")
        self.queues = QueuesTab(client)
        self.tabs.addTab(scroll, self.tr("Horário e mensagens"))
        self.tabs.addTab(self.queues, self.tr("Filas"))
        self.tabs.addTab(self.replies, self.tr("Respostas rápidas"))
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._tasks.spawn(self._load_branches())  # each time: a branch may have been added

    async def _load_branches(self) -> None:
        """The branches this user manages (every branch for a super admin)."""
        if self.me.super_admin:
            try:
                found = [(b.id, b.name) for b in await self.client.branches()]
            except ClinicDeskError as exc:
                self.form.say(error_text(exc), ERROR_STYLE)
                return
        else:
            found = [(b.branch_id, b.branch_name) for b in self.me.branches
                     if b.role in MANAGER_ROLES]  # fmt: skip
        self.show_branches(found)

    def show_branches(self, branches: list[tuple[int, str]]) -> None:
        """Offer ``branches``; the branch on screen stays chosen while it is still offered."""
        if branches == self.branches:
            return
        self.branches = branches
        self.branch.blockSignals(True)
        self.branch.clear()
        for branch_id, name in branches:
            self.branch.addItem(name, branch_id)
        self.branch.blockSignals(False)
        self.branch.setVisible(len(branches) > 1)
        kept = self.branch.findData(self.form.branch_id)
        if kept >= 0:
            self._select(self.form.branch_id)
        elif branches:
            self._branch_chosen(0)

    def _branch_chosen(self, index: int) -> None:
        branch_id = self.branch.itemData(index)
        if branch_id is None or branch_id == self.form.branch_id:
            return
        if self.form.editable and self.form.changes() and not self.confirm_discard():
            self._select(self.form.branch_id)  # stay on the branch being edited
            return
        admin = self.administers(branch_id)
        self.form.show_branch(branch_id, admin)
        self.replies.show_branch(branch_id)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.queues), admin)  # members: admins only
        if admin:
            self.queues.show_branch(branch_id, self.branch.itemText(index))

    def _select(self, branch_id: int) -> None:
        self.branch.blockSignals(True)
        self.branch.setCurrentIndex(self.branch.findData(branch_id))
        self.branch.blockSignals(False)

    def confirm_discard(self) -> bool:
        """Ask before another branch replaces unsaved changes (tests replace this)."""
        answer = QMessageBox.question(
            self,
            self.tr("Alterações não salvas"),
            self.tr("As alterações do horário e das mensagens não foram salvas. Descartar?"),
        )
        return answer == QMessageBox.StandardButton.Yes

    @staticmethod
    def shown_to(me: Me) -> bool:
        """Admins and supervisors (of any branch) have this page."""
        return me.super_admin or any(b.role in MANAGER_ROLES for b in me.branches)

    def administers(self, branch_id: int) -> bool:
        """Admins of the branch (and super admins) change its settings."""
        return self.me.super_admin or any(
            b.branch_id == branch_id and b.role in ADMIN_ROLES for b in self.me.branches
        )

    async def settle(self) -> None:
        await self._tasks.settle()
        await self.form.settle()
        await self.replies.settle()
        await self.queues.settle()
