""" "Novo lembrete": find the patient(s) by name, pick the number that sends, write the text
(with {nome}, {primeiro_nome} and {clinica} filled in per patient), choose when and how often,
and whether the patient is asked to confirm (1) or reschedule (2).

Several patients make a campaign (one reminder each, paced by the engine); users who may not
send campaigns (receptionists) choose one patient. Errors from the
engine are shown in the dialog in Portuguese; the dialog closes only once the engine accepted.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.client import DeskClient
from app.ui.client_reminders import NewReminder, RemindersApi
from app.ui.client_types import Channel, QuickReply
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text, with_phone

CONTACT_ROLE = Qt.ItemDataRole.UserRole + 1
REMINDER_PLACEHOLDERS = frozenset({"nome", "primeiro_nome", "clinica"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SEARCH_PAUSE_MS = 250  # wait for a pause in typing before asking the engine


def tomorrow_at_nine(now: datetime) -> datetime:
    """The default moment: tomorrow 09:00 local time (aware)."""
    local = now.astimezone()
    return datetime.combine(local.date() + timedelta(days=1), time(9, 0), local.tzinfo)


def reminder_templates(replies: list[QuickReply]) -> list[QuickReply]:
    """The quick replies a reminder can send as they are: only {nome}, {primeiro_nome} and
    {clinica} are filled in a reminder (a conversation's {atendente} or {protocolo} are not)."""
    return [r for r in replies if set(_PLACEHOLDER.findall(r.body)) <= REMINDER_PLACEHOLDERS]


class NewReminderDialog(QDialog):
    """Collects a :class:`NewReminder` and asks the engine to schedule it."""

    created = Signal(int)  # how many reminders were scheduled

    def __init__(
        self,
        client: DeskClient,
        api: RemindersApi,
        channels: list[Channel],
        parent: QWidget | None = None,
        *,
        campaigns: bool = True,
    ) -> None:
        super().__init__(parent)
        self.campaigns = campaigns  # False: one patient (receptionists: no campaigns)
        self.setWindowTitle(self.tr("Novo lembrete"))
        self.client, self.api = client, api
        self._tasks = TaskSet()
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self._search_timer.timeout.connect(self.search_now)
        self._branch_of = {c.id: c.branch_id for c in channels}
        self._build(channels)
        self.resize(520, 560)
        self.load_templates()

    def _build(self, channels: list[Channel]) -> None:
        self.finder = named(QLineEdit(), "reminderFind")
        self.finder.setPlaceholderText(self.tr("Digite o nome ou o telefone do paciente"))
        self.finder.textChanged.connect(lambda _t: self._search_timer.start())
        self.found = named(QListWidget(), "reminderPatients")
        self.found.setSelectionMode(
            QAbstractItemView.SelectionMode.MultiSelection
            if self.campaigns
            else QAbstractItemView.SelectionMode.SingleSelection
        )
        self.channel = named(QComboBox(), "reminderChannel")
        for c in channels:
            if c.enabled:
                self.channel.addItem(c.display_name, c.id)
        self.text = named(QPlainTextEdit(), "reminderText")
        self.text.setPlaceholderText(
            self.tr("Olá {primeiro_nome}, lembramos da sua consulta amanhã na {clinica}.")
        )
        self.when = named(QDateTimeEdit(), "reminderWhen")
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("dd/MM/yyyy HH:mm")
        default = tomorrow_at_nine(datetime.now().astimezone())
        self.when.setDateTime(QDateTime.fromSecsSinceEpoch(int(default.timestamp())))
        self.repeat = named(QComboBox(), "reminderRepeat")
        for label, days in self._repeats():
            self.repeat.addItem(label, days)
        self.ask = named(
            QCheckBox(
                self.tr(
                    "Pedir confirmação (o paciente responde 1 para confirmar ou 2 para remarcar)"
                )
            ),
            "reminderAsk",
        )
        self.template = named(QComboBox(), "reminderTemplate")
        self.template.addItem(self.tr("Escrever a mensagem"), None)
        self.template.activated.connect(self._use_template)
        self.channel.currentIndexChanged.connect(lambda _i: self.load_templates())
        self._layout()

    def _repeats(self) -> list[tuple[str, int | None]]:
        return [
            (self.tr("Uma vez"), None),
            (self.tr("Todo dia"), 1),
            (self.tr("Toda semana"), 7),
            (self.tr("A cada 30 dias"), 30),
        ]

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow(self.tr("Paciente"), self.finder)
        form.addRow("", self.found)
        form.addRow(self.tr("Número que envia"), self.channel)
        form.addRow(self.tr("Modelo"), self.template)
        form.addRow(self.tr("Mensagem"), self.text)
        form.addRow(self.tr("Quando"), self.when)
        form.addRow(self.tr("Repetir"), self.repeat)
        form.addRow("", self.ask)
        hint = QLabel(self.tr("{nome} e {clinica} viram o nome do paciente e o da clínica."))
        hint.setStyleSheet("color: #5F6368;")
        hint.setWordWrap(True)
        self.message = named(QLabel(), "reminderMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #D93025;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText(self.tr("Agendar"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    # ---- patients -----------------------------------------------------------------------------

    def search_now(self) -> None:
        """Look the typed patient up now, without waiting for a pause in typing."""
        query = self.finder.text().strip()
        if query:
            self._tasks.spawn(self._search(query))

    async def _search(self, query: str) -> None:
        try:
            page = await self.client.search(query)
        except ClinicDeskError as exc:
            self.message.setText(error_text(exc))
            return
        if query != self.finder.text().strip():
            return  # the user typed on: a newer search answers
        unnamed = self.tr("Paciente sem nome")
        self._show_hits(
            [
                (h.contact_id, with_phone(h.display_name or unnamed, h.phone_e164))
                for h in page.contacts
            ]
        )

    def _show_hits(self, hits: list[tuple[int, str]]) -> None:
        chosen = set(self.chosen_contacts())
        self.found.clear()
        for contact_id, name in hits:
            item = QListWidgetItem(name)
            item.setData(CONTACT_ROLE, contact_id)
            self.found.addItem(item)
            item.setSelected(contact_id in chosen)
        self.message.setText("" if hits else self.tr("Nenhum paciente encontrado."))

    def preset(self, contact_id: int, label: str, channel_id: int) -> None:
        """Start with this patient chosen and this number sending (from a conversation)."""
        self._show_hits([(contact_id, label)])
        self.found.item(0).setSelected(True)
        index = self.channel.findData(channel_id)
        if index >= 0:  # a paused number is not offered: the first one stays
            self.channel.setCurrentIndex(index)

    def chosen_contacts(self) -> list[int]:
        return [int(i.data(CONTACT_ROLE)) for i in self.found.selectedItems()]

    # ---- templates ----------------------------------------------------------------------------

    def load_templates(self) -> None:
        """Offer the sending number's branch's quick replies as ready texts."""
        branch_id = self._branch_of.get(self.channel.currentData())
        if branch_id is not None:
            self._tasks.spawn(self._templates(branch_id))

    async def _templates(self, branch_id: int) -> None:
        try:
            replies = await self.client.quick_replies(branch_id)
        except ClinicDeskError:
            replies = []  # writing the text by hand still works
        if branch_id != self._branch_of.get(self.channel.currentData()):
            return  # another number was chosen meanwhile: its list answers
        while self.template.count() > 1:
            self.template.removeItem(1)
        for reply in reminder_templates(replies):
            short = reply.body if len(reply.body) <= 50 else reply.body[:49] + "…"
            self.template.addItem(f"/{reply.shortcut} · {short}", reply.body)

    def _use_template(self, index: int) -> None:
        body = self.template.itemData(index)
        if isinstance(body, str):
            self.text.setPlainText(body)

    # ---- scheduling ---------------------------------------------------------------------------

    def request(self) -> NewReminder | None:
        """The reminder as filled in, or None (with the reason shown) when something lacks."""
        problem = self._missing()
        if problem:
            self.message.setText(problem)
            return None
        start = datetime.fromtimestamp(self.when.dateTime().toSecsSinceEpoch()).astimezone()
        return NewReminder(
            int(self.channel.currentData()), tuple(self.chosen_contacts()),
            self.text.toPlainText().strip(), start, self.repeat.currentData(),
            self.ask.isChecked(),
        )  # fmt: skip

    def _missing(self) -> str:
        if not self.chosen_contacts():
            return self.tr("Escolha pelo menos um paciente.")
        if self.channel.currentData() is None:
            return self.tr("Nenhum número conectado para enviar.")
        if not self.text.toPlainText().strip():
            return self.tr("Escreva a mensagem do lembrete.")
        return ""

    def submit(self) -> None:
        new = self.request()
        if new is not None:
            self.buttons.setEnabled(False)
            self._tasks.spawn(self._create(new))

    async def _create(self, new: NewReminder) -> None:
        try:
            made = await self.api.create(new)
        except ClinicDeskError as exc:
            self.message.setText(error_text(exc))
            self.buttons.setEnabled(True)
            return
        self.created.emit(len(made))
        self.accept()

    async def settle(self) -> None:
        self._search_timer.stop()  # a search still waiting for a pause in typing is dropped
        await self._tasks.settle()
