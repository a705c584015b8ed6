"""Contatos: find a patient by name or phone number, see who they are (phone, whether they
refused reminders) and their tickets; a click on a ticket the user may see opens it in
Atendimentos. Each result shows the patient's number, so namesakes are told apart.
Supervisors and admins may save the patient's data for an LGPD request ("Exportar dados do
paciente…": a password-protected ZIP; the password is shown once, to be given separately);
admins may erase it ("Apagar dados do paciente…", after typing APAGAR).

Search goes through ``GET /search`` (the same accent-insensitive index as the inbox, scoped to
what the user may see); the profile through ``GET /contacts/{id}``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ClinicDeskError
from app.ui.client import DeskClient
from app.ui.client_contact import ContactProfile
from app.ui.contact_panel import TICKET_ROLE, earlier_item
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text, phone_text, with_phone

CONTACT_ROLE = Qt.ItemDataRole.UserRole + 2
DOCUMENTS = QStandardPaths.StandardLocation.DocumentsLocation
CONFIRM_WORD = "APAGAR"
SEARCH_PAUSE_MS = 250


class ContactsPage(QWidget):
    """The Contatos page (see the module docstring)."""

    ticketRequested = Signal(int)
    startRequested = Signal(str)  # write to this number ("Nova conversa", prefilled)

    def __init__(
        self, client: DeskClient, parent: QWidget | None = None, *, can_export: bool = False,
        can_erase: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.client = client
        self.can_export = can_export  # supervisors and admins (the engine checks it again)
        self.can_erase = can_erase  # admins only (idem)
        self.contact_id: int | None = None  # the patient on the right-hand side
        self._tasks = TaskSet()
        self._next: int | None = None
        self._query = ""
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self._timer.timeout.connect(self.search_now)
        self._build()
        self.show_profile(None)

    def _build(self) -> None:
        self.finder = named(QLineEdit(), "contactFind")
        self.finder.setPlaceholderText(self.tr("Buscar paciente pelo nome ou telefone"))
        self.finder.setClearButtonEnabled(True)
        self.finder.textChanged.connect(lambda _t: self._timer.start())
        self.results = named(QListWidget(), "contactResults")
        self.results.currentItemChanged.connect(self._picked)
        self.more = named(QPushButton(self.tr("Mostrar mais")), "moreContacts")
        self.more.hide()
        self.more.clicked.connect(self.load_more)
        self.notice = named(
            QLabel(self.tr("Digite um nome ou telefone para buscar.")), "contactNotice"
        )
        left = QVBoxLayout()
        for widget in (self.finder, self.notice, self.results, self.more):
            left.addWidget(widget)
        row = QHBoxLayout(self)
        row.addLayout(left, 2)
        row.addWidget(self._profile_box(), 3)

    def _profile_box(self) -> QWidget:
        box = QWidget()
        self.name = named(QLabel(), "contactPageName")
        self.name.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.phone = named(QLabel(), "contactPagePhone")
        self.opted_out = named(QLabel(), "contactPageOptOut")
        self.opted_out.setStyleSheet("color: #B06000;")
        self.tickets = named(QListWidget(), "contactPageTickets")
        self.tickets.itemActivated.connect(self._open_ticket)
        self.tickets.itemClicked.connect(self._open_ticket)
        self.start = named(QPushButton(self.tr("Iniciar conversa")), "contactStart")
        self.start.clicked.connect(lambda _c=False: self.startRequested.emit(self.phone.text()))
        self.export = named(QPushButton(self.tr("Exportar dados do paciente…")), "contactExport")
        self.export.setToolTip(
            self.tr("Tudo o que a clínica guarda deste paciente, para um pedido da LGPD")
        )
        self.export.clicked.connect(self.ask_export)
        self.erase = named(QPushButton(self.tr("Apagar dados do paciente…")), "contactErase")
        self.erase.setStyleSheet("color: #B3261E;")
        self.erase.clicked.connect(self.ask_erase)
        self.export_notice = named(QLabel(), "contactExportNotice")
        self.export_notice.setWordWrap(True)
        self.export_notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tickets_title = QLabel(self.tr("Atendimentos do paciente"))
        self.tickets_title.setStyleSheet("font-weight: 600; margin-top: 12px;")
        layout = QVBoxLayout(box)
        for widget in (self.name, self.phone, self.opted_out):
            layout.addWidget(widget)
        row = QHBoxLayout()  # a button of its own size, not the column's width
        row.addWidget(self.start)
        row.addWidget(self.export)
        row.addWidget(self.erase)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.export_notice)
        layout.addWidget(self.tickets_title)
        layout.addWidget(self.tickets, 1)
        return box

    # ---- search -------------------------------------------------------------------------------

    def search_now(self) -> None:
        """Search for what is typed (a new list)."""
        self._query = self.finder.text().strip()
        self._next = None
        self.results.clear()
        self.more.hide()
        if not self._query:
            self.notice.setText(self.tr("Digite um nome ou telefone para buscar."))
            return
        self._tasks.spawn(self._search(self._query, None))

    def load_more(self) -> None:
        if self._next is not None:
            self._tasks.spawn(self._search(self._query, self._next))

    async def _search(self, query: str, before: int | None) -> None:
        try:
            page = await self.client.search(query, contacts_before=before)
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))
            return
        if query != self._query:
            return  # typed on: a newer search answers
        for hit in page.contacts:
            name = hit.display_name or self.tr("Paciente sem nome")
            item = QListWidgetItem(with_phone(name, hit.phone_e164))
            item.setData(CONTACT_ROLE, hit.contact_id)
            self.results.addItem(item)
        self._next = page.contacts_next
        self.more.setVisible(page.contacts_next is not None)
        empty = self.tr("Nenhum paciente encontrado.")
        self.notice.setText("" if self.results.count() else empty)

    # ---- profile ------------------------------------------------------------------------------

    def _picked(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            self._tasks.spawn(self._load(int(item.data(CONTACT_ROLE))))

    async def _load(self, contact_id: int) -> None:
        try:
            profile = await self.client.contact(contact_id)
        except ClinicDeskError as exc:
            self.notice.setText(error_text(exc))
            return
        self.show_profile(profile)

    def show_profile(self, profile: ContactProfile | None) -> None:
        """Fill the right-hand side (empty without a patient)."""
        self.tickets.clear()
        self.export_notice.clear()
        self.contact_id = profile.id if profile is not None else None
        self.export.setVisible(self.can_export and profile is not None)
        self.erase.setVisible(self.can_erase and profile is not None)
        shown = profile is not None
        for widget in (self.phone, self.tickets_title, self.tickets):
            widget.setVisible(shown)
        self.start.setVisible(profile is not None and profile.phone_e164 is not None)
        self.opted_out.setVisible(profile is not None and profile.opted_out_at is not None)
        if profile is None:
            self.name.setText(self.tr("Escolha um paciente na lista"))
            return
        self.name.setText(profile.display_name or self.tr("Paciente sem nome"))
        self.phone.setText(phone_text(profile.phone_e164))
        if profile.opted_out_at is not None:
            day = profile.opted_out_at.astimezone().strftime("%d/%m/%Y")
            since = self.tr("Não quer receber lembretes (desde %1)")
            self.opted_out.setText(since.replace("%1", day))
        for row in profile.tickets:
            self.tickets.addItem(earlier_item(row))

    def _open_ticket(self, item: QListWidgetItem) -> None:
        ticket_id = item.data(TICKET_ROLE)
        if isinstance(ticket_id, int):
            self.ticketRequested.emit(ticket_id)

    # ---- LGPD export -------------------------------------------------------------------------

    def ask_export(self) -> None:
        """Ask where to save the chosen patient's data, then fetch it there."""
        if self.contact_id is None:
            return
        name = f"dados-do-paciente-{self.contact_id}.zip"
        start = str(Path(QStandardPaths.writableLocation(DOCUMENTS)) / name)
        chosen, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Salvar os dados do paciente"), start, self.tr("Arquivo ZIP (*.zip)")
        )
        if chosen:
            self.export_to(Path(chosen))

    def export_to(self, target: Path) -> None:
        """Save the chosen patient's archive to ``target``; the password is shown once."""
        if self.contact_id is not None:
            self.export.setEnabled(False)
            self.export_notice.setText(self.tr("Preparando o arquivo…"))
            self._tasks.spawn(self._export(self.contact_id, target))

    async def _export(self, contact_id: int, target: Path) -> None:
        try:
            password = await self.client.export_contact(contact_id, target)
        except ClinicDeskError as exc:
            self.export_notice.setText(error_text(exc))
        except OSError:
            self.export_notice.setText(self.tr("Não foi possível salvar o arquivo nessa pasta."))
        else:
            text = self.tr(
                "Arquivo salvo em %1. Senha: %2\nEntregue a senha ao paciente por outro meio "
                "(ligação ou pessoalmente), nunca junto com o arquivo. Ele abre com 7-Zip, "
                "WinRAR ou um aplicativo de arquivos ZIP no celular."
            )
            self.export_notice.setText(text.replace("%1", target.name).replace("%2", password))
        finally:
            self.export.setEnabled(True)

    # ---- LGPD erasure ------------------------------------------------------------------------

    def ask_erase(self) -> None:
        """Ask the admin to type APAGAR: an erasure cannot be undone."""
        if self.contact_id is None:
            return
        typed, ok = QInputDialog.getText(
            self, self.tr("Apagar dados do paciente"),
            self.tr("As mensagens, fotos, documentos, lembretes e números deste paciente serão "
                    "apagados para sempre (LGPD). As conversas ficam, vazias, nos relatórios.\n"
                    "Digite APAGAR para confirmar."),
        )  # fmt: skip
        if ok and typed.strip().upper() == CONFIRM_WORD:
            self.erase_confirmed()

    def erase_confirmed(self) -> None:
        """Erase the chosen patient's data (the admin confirmed)."""
        if self.contact_id is not None:
            self.erase.setEnabled(False)
            self._tasks.spawn(self._erase(self.contact_id))

    async def _erase(self, contact_id: int) -> None:
        try:
            messages, files = await self.client.erase_contact(contact_id)
        except ClinicDeskError as exc:
            self.export_notice.setText(error_text(exc))
            self.erase.setEnabled(True)
            return
        self.erase.setEnabled(True)
        self._drop_result(contact_id)
        self.show_profile(None)
        done = self.tr("Dados do paciente apagados: %1 mensagens e %2 arquivos.")
        self.notice.setText(done.replace("%1", str(messages)).replace("%2", str(files)))

    def _drop_result(self, contact_id: int) -> None:
        for row in range(self.results.count()):
            if self.results.item(row).data(CONTACT_ROLE) == contact_id:
                self.results.takeItem(row)
                return

    async def settle(self) -> None:
        self._timer.stop()  # a search still waiting for a pause in typing is dropped
        await self._tasks.settle()
