"""Above the inbox tabs: the filter bar (fila, número, etiqueta, Meus) and the search results.

The filters become the query of ``GET /tickets`` (``queue``, ``channel``, ``tag``, ``mine``;
``TicketListQuery`` in ``app/api/schemas_tickets.py``). Search asks ``GET /search`` and lists
message hits and contact hits newest first; "Carregar mais" follows the cursors the engine
returned (``messages_next_before`` / ``contacts_next_before``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
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
from app.ui.client_types import ContactHit, MessageHit, SearchPage
from app.ui.qtutil import named
from app.ui.tasks import TaskSet
from app.ui.texts import error_text, with_phone

HIT_ROLE = Qt.ItemDataRole.UserRole + 20
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"


class FilterBar(QWidget):
    """Queue, channel, tag and "Meus"; emits the ``GET /tickets`` filters when one changes."""

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = named(QComboBox(), "filterQueue")
        self.queue.addItem(self.tr("Todas as filas"), None)
        self.channel = named(QComboBox(), "filterChannel")
        self.channel.addItem(self.tr("Todos os números"), None)
        self.tag = named(QLineEdit(), "filterTag")
        self.tag.setPlaceholderText(self.tr("Etiqueta"))
        self.tag.setClearButtonEnabled(True)
        self.mine = named(QCheckBox(self.tr("Meus")), "filterMine")
        self.mine.setToolTip(self.tr("Só os atendimentos atribuídos a mim"))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w, stretch in ((self.queue, 2), (self.channel, 2), (self.tag, 1), (self.mine, 0)):
            row.addWidget(w, stretch)
        self.queue.currentIndexChanged.connect(self._emit)
        self.channel.currentIndexChanged.connect(self._emit)
        self.tag.editingFinished.connect(self._tag_done)
        self.mine.toggled.connect(self._emit)
        self._last: dict[str, Any] = {}

    def filters(self) -> dict[str, Any]:
        """The query parameters of the current choice (absent filters are left out)."""
        chosen = {
            "queue": self.queue.currentData(),
            "channel": self.channel.currentData(),
            "tag": self.tag.text().strip() or None,
            "mine": True if self.mine.isChecked() else None,
        }
        return {k: v for k, v in chosen.items() if v is not None}

    def set_queues(self, queues: dict[int, tuple[str, str]]) -> None:
        _refill(self.queue, {q: name for q, (name, _colour) in queues.items()})
        self._emit_if_changed()

    def set_channels(self, labels: dict[int, str]) -> None:
        _refill(self.channel, labels)
        self._emit_if_changed()

    def _emit_if_changed(self) -> None:
        """A chosen queue or number that no longer exists falls back to "all": say so."""
        if self._last and self.filters() != self._last:
            self._emit()

    def _tag_done(self) -> None:
        if self.filters() != self._last:
            self._emit()

    def _emit(self, *_args: Any) -> None:
        self._last = self.filters()
        self.changed.emit(self._last)


def _refill(combo: QComboBox, choices: dict[int, str]) -> None:
    """Replace the choices after the "all" entry, keeping the current one if it remains."""
    current = combo.currentData()
    combo.blockSignals(True)
    while combo.count() > 1:
        combo.removeItem(1)
    for key, label in sorted(choices.items(), key=lambda kv: kv[1].lower()):
        combo.addItem(label, key)
    combo.setCurrentIndex(max(0, combo.findData(current)) if current is not None else 0)
    combo.blockSignals(False)


class SearchResults(QWidget):
    """Hits of one search; a click on a message opens its ticket, on a contact its latest one."""

    ticketChosen = Signal(int)
    contactChosen = Signal(int)

    def __init__(self, client: DeskClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.query = ""
        self._cursors: tuple[int | None, int | None] = (None, None)
        self._seen: set[tuple[str, int]] = set()
        self._tasks = TaskSet()
        self.list = named(QListWidget(), "searchResults")
        self.list.setWordWrap(True)
        self.list.itemClicked.connect(self._chosen)
        self.status = named(QLabel(), "searchStatus")
        self.status.setWordWrap(True)
        self.more = named(QPushButton(self.tr("Carregar mais")), "searchMore")
        self.more.clicked.connect(self._load_more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.more)

    def search(self, query: str) -> None:
        """Start a new search (the previous hits are dropped)."""
        self.query = query.strip()
        self.list.clear()
        self._seen.clear()
        self._cursors = (None, None)
        self.more.hide()
        self.status.setText(self.tr("Buscando…"))
        self._spawn(self._load(self.query, None, None))

    def _load_more(self) -> None:
        msgs, contacts = self._cursors
        self.more.setEnabled(False)
        self._spawn(self._load(self.query, msgs, contacts))

    async def _load(self, query: str, before: int | None, contacts_before: int | None) -> None:
        try:
            page = await self.client.search(query, before, contacts_before)
        except ClinicDeskError as exc:
            self.status.setText(error_text(exc))
            return
        finally:
            self.more.setEnabled(True)
        if query == self.query:
            self._show(page, first=before is None and contacts_before is None)

    def _show(self, page: SearchPage, first: bool) -> None:
        if first or self._cursors[1] is not None:  # a complete contact list is not repeated
            for contact in page.contacts:
                self._add(("contact", contact.contact_id), self._contact_text(contact))
        for hit in page.messages:
            self._add(("ticket", hit.ticket_id, hit.message_id), self._hit_text(hit))
        self._cursors = (page.messages_next, page.contacts_next)
        self.more.setVisible(page.messages_next is not None or page.contacts_next is not None)
        found = self.list.count()
        self.status.setText(
            self.tr("Nada encontrado.")
            if not found
            else self.tr("Resultados: %1").replace("%1", str(found))
        )

    def _add(self, key: tuple[Any, ...], text: str) -> None:
        seen = (str(key[0]), int(key[-1]))
        if seen in self._seen:
            return
        self._seen.add(seen)
        item = QListWidgetItem(text)
        item.setData(HIT_ROLE, (key[0], key[1]))
        self.list.addItem(item)

    def _contact_text(self, hit: ContactHit) -> str:
        name = hit.display_name or self.tr("Paciente sem nome")
        return self.tr("👤 %1").replace("%1", with_phone(name, hit.phone_e164))

    def _hit_text(self, hit: MessageHit) -> str:
        when = hit.sent_at.astimezone().strftime("%d/%m %H:%M")
        head = self.tr("Atendimento #%1 · %2").replace("%1", str(hit.ticket_id)).replace("%2", when)
        snippet = hit.snippet.replace(MARK_OPEN, "«").replace(MARK_CLOSE, "»")
        return f"{head}\n{snippet}"

    def _chosen(self, item: QListWidgetItem) -> None:
        kind, ident = item.data(HIT_ROLE)
        (self.ticketChosen if kind == "ticket" else self.contactChosen).emit(int(ident))

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        await self._tasks.settle()
