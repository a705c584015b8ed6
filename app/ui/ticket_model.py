"""The inbox table model: ticket ids only, rows fetched lazily, only changed rows repainted.

Anki's browser model is the template (``qt/aqt/browser/table/model.py``): the model's truth is
an ordered list of ticket ids; full rows live in a small LRU cache. The view asks for more ids
with ``canFetchMore``/``fetchMore`` (one keyset page of ``GET /tickets`` at a time), and a row
evicted from the cache is fetched again only when the view paints it. Every fetch runs as a
task on the qasync loop; ``data()`` never waits: it shows a placeholder until the row arrives.

Bridge events update one row at a time: a changed ticket is re-read and ``dataChanged`` is
emitted only when something visible changed; a ticket that left this tab's status is removed;
a new or active ticket moves to the top (most recent activity first, like the API's order).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from app.domain.errors import ClinicDeskError
from app.ui.client_types import Ticket, TicketPage
from app.ui.tasks import TaskSet
from app.ui.texts import kind_text

log = logging.getLogger(__name__)
AnyIndex = QModelIndex | QPersistentModelIndex
ID_ROLE = Qt.ItemDataRole.UserRole + 1
UNREAD_ROLE = Qt.ItemDataRole.UserRole + 2
COLOR_ROLE = Qt.ItemDataRole.UserRole + 3
PREVIEW_ROLE = Qt.ItemDataRole.UserRole + 4
COL_CONTACT, COL_WAITING, COL_QUEUE = range(3)


class TicketSource(Protocol):
    """What the model needs from the engine (``DeskClient`` satisfies it)."""

    async def tickets(
        self, status: str | None, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> TicketPage: ...

    async def ticket(self, ticket_id: int) -> Ticket: ...


def waiting_text(since: datetime, now: datetime) -> str:
    """ "agora", "12 min", "3 h", "2 d": how long since the last activity."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return QCoreApplication.translate("Inbox", "agora")
    if minutes < 60:
        return QCoreApplication.translate("Inbox", "%1 min").replace("%1", str(minutes))
    if minutes < 48 * 60:
        return QCoreApplication.translate("Inbox", "%1 h").replace("%1", str(minutes // 60))
    return QCoreApplication.translate("Inbox", "%1 d").replace("%1", str(minutes // (24 * 60)))


class TicketTableModel(QAbstractTableModel):
    """The tickets of one inbox tab (status ``pending``, ``open`` or ``closed``)."""

    def __init__(
        self,
        source: TicketSource,
        status: str,
        *,
        page_size: int = 50,
        cache_size: int = 500,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._source, self.status = source, status
        self._page_size, self._cache_size = page_size, cache_size
        self._ids: list[int] = []
        self._known: set[int] = set()  # the ids in _ids, for O(1) membership
        self._rows: OrderedDict[int, Ticket] = OrderedDict()
        self._cursor: str | None = None
        self._exhausted = False
        self._loading = False
        self._missing: set[int] = set()
        self._queues: dict[int, tuple[str, str]] = {}  # id -> (name, colour)
        self._tasks = TaskSet()
        self._channel_labels: dict[int, str] = {}
        self.filters: dict[str, Any] = {}
        self.me_id: int | None = None  # the logged-in user, for the "Meus" filter

    # ---- Qt model API -------------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted and not self._loading

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._loading = True
            self._spawn(self._next_page())

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        names = (
            QCoreApplication.translate("Inbox", "Paciente"),
            QCoreApplication.translate("Inbox", "Espera"),
            QCoreApplication.translate("Inbox", "Fila"),
        )
        return names[section] if 0 <= section < len(names) else None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        ticket_id = self._ids[index.row()]
        if role == ID_ROLE:
            return ticket_id
        ticket = self._row(ticket_id)
        if ticket is None:
            loading = QCoreApplication.translate("Inbox", "Carregando…")
            return loading if role == Qt.ItemDataRole.DisplayRole and index.column() == 0 else None
        return self._value(ticket, index.column(), role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ---- what a row shows ---------------------------------------------------------------------

    def _value(self, t: Ticket, column: int, role: int) -> Any:
        if role == UNREAD_ROLE:
            return t.unread_count
        if role == PREVIEW_ROLE:
            return self._preview(t)
        if role == COLOR_ROLE:
            return QColor(self._queues.get(t.queue_id or -1, ("", "#9CA3AF"))[1])
        return self._display(t, column) if role == Qt.ItemDataRole.DisplayRole else None

    def _preview(self, t: Ticket) -> str:
        """The newest message's start (its kind for media without text; "Você: " when the
        clinic wrote it, "Automática: " for an automatic reply); the channel's name for a
        ticket without messages."""
        text = t.preview or (kind_text(t.last_kind) if t.last_kind != "text" else "")
        if not text:
            return self._channel_labels.get(t.channel_id, "")
        if t.last_direction == "out" and t.last_automatic:
            return QCoreApplication.translate("Inbox", "Automática: %1").replace("%1", text)
        if t.last_direction == "out":
            return QCoreApplication.translate("Inbox", "Você: %1").replace("%1", text)
        return text

    def _display(self, t: Ticket, column: int) -> str:
        if column == COL_CONTACT:
            return t.contact_name or QCoreApplication.translate("Inbox", "Paciente sem nome")
        if column == COL_WAITING:
            return waiting_text(t.last_activity_at, datetime.now(UTC))
        return self._queues.get(t.queue_id or -1, ("", ""))[0]

    def set_queues(self, queues: dict[int, tuple[str, str]]) -> None:
        """Queue names and colours by id; repaints the queue column."""
        self._queues = dict(queues)
        if self._ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, 2))

    def set_channel_labels(self, labels: dict[int, str]) -> None:
        """Channel names by id (shown under the contact until previews exist)."""
        if labels != self._channel_labels:
            self._channel_labels = dict(labels)
            if self._ids:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, 0))

    def ticket_id(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def cached(self, ticket_id: int) -> Ticket | None:
        return self._rows.get(ticket_id)

    def latest_of_contact(self, contact_id: int) -> Ticket | None:
        """The most recent loaded ticket of a contact (search hits name contacts, not tickets)."""
        found = [t for t in self._rows.values() if t.contact_id == contact_id]
        return max(found, key=lambda t: t.last_activity_at) if found else None

    def set_filters(self, filters: dict[str, Any]) -> None:
        """Show only tickets matching ``filters`` (``GET /tickets`` parameters); reloads."""
        if filters != self.filters:
            self.filters = dict(filters)
            self.reload()

    def row_of(self, ticket_id: int) -> int | None:
        if ticket_id not in self._known:
            return None
        try:
            return self._ids.index(ticket_id)
        except ValueError:
            return None

    # ---- cache --------------------------------------------------------------------------------

    def _row(self, ticket_id: int) -> Ticket | None:
        ticket = self._rows.get(ticket_id)
        if ticket is not None:
            self._rows.move_to_end(ticket_id)
            return ticket
        if not self._missing:
            asyncio.get_running_loop().call_soon(self._fetch_missing)
        self._missing.add(ticket_id)
        return None

    def _remember(self, tickets: Iterable[Ticket]) -> None:
        for t in tickets:
            self._rows[t.id] = t
            self._rows.move_to_end(t.id)
        while len(self._rows) > self._cache_size:
            self._rows.popitem(last=False)

    def _fetch_missing(self) -> None:
        wanted, self._missing = self._missing, set()
        self._spawn(self._load_rows(sorted(wanted)))

    async def _load_rows(self, ids: list[int]) -> None:
        for ticket_id in ids:  # one at a time: only rows on screen are ever missing
            try:
                ticket = await self._source.ticket(ticket_id)
            except ClinicDeskError:
                continue
            self._apply(ticket)

    # ---- loading pages ------------------------------------------------------------------------

    async def _next_page(self) -> None:
        try:
            page = await self._source.tickets(
                self.status, self._cursor, self._page_size, **self.filters
            )
        except ClinicDeskError as exc:
            log.info("inbox page failed", extra={"code": exc.code.value})
            return
        finally:
            self._loading = False
        self._append(page)

    def _append(self, page: TicketPage) -> None:
        new = [t for t in page.items if t.id not in self._known]
        self._cursor, self._exhausted = page.next_cursor, page.next_cursor is None
        self._remember(page.items)
        if new:
            first = len(self._ids)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._ids.extend(t.id for t in new)
            self._known.update(t.id for t in new)
            self.endInsertRows()

    def reload(self) -> None:
        """Forget everything and fetch the first page again (after a reconnect or a filter)."""
        self.beginResetModel()
        self._ids, self._rows, self._missing = [], OrderedDict(), set()
        self._known = set()
        self._cursor, self._exhausted = None, False
        self.endResetModel()
        self.fetchMore()

    # ---- bridge events ------------------------------------------------------------------------

    def ticket_touched(self, ticket_id: int) -> None:
        """A bridge event named this ticket: re-read it and update only its row."""
        if ticket_id > 0:
            self._spawn(self._refresh(ticket_id))

    async def _refresh(self, ticket_id: int) -> None:
        try:
            ticket = await self._source.ticket(ticket_id)
        except ClinicDeskError:
            return
        self._apply(ticket)

    def place(self, ticket: Ticket) -> None:
        """A fresh copy of a ticket from elsewhere (the inbox reads each event's ticket once)."""
        self._apply(ticket)

    def forget(self, ticket_id: int) -> None:
        """Drop a ticket the user can no longer see."""
        self._remove(self.row_of(ticket_id))

    def _apply(self, ticket: Ticket) -> None:
        """Place a fresh copy of ``ticket``: update, move to the top, insert, or remove."""
        row = self.row_of(ticket.id)
        if ticket.status != self.status or not self._matches(ticket):
            self._remove(row)
            return
        old = self._rows.get(ticket.id)
        self._remember([ticket])
        if row is None:
            self._insert_top(ticket.id)
        elif old is not None and old.last_activity_at < ticket.last_activity_at and row > 0:
            self._move_top(row)
        elif old != ticket:
            self.dataChanged.emit(self.index(row, 0), self.index(row, 2))

    def _matches(self, t: Ticket) -> bool:
        """Whether ``t`` passes the filters (an event's ticket may belong to another queue)."""
        f = self.filters
        return (
            f.get("queue") in (None, t.queue_id)
            and f.get("channel") in (None, t.channel_id)
            and (not f.get("tag") or f["tag"] in t.tags)
            and (not f.get("mine") or self.me_id is None or t.assignee_id == self.me_id)
        )

    def _remove(self, row: int | None) -> None:
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        gone = self._ids.pop(row)
        self._known.discard(gone)
        self._rows.pop(gone, None)
        self.endRemoveRows()

    def _insert_top(self, ticket_id: int) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._ids.insert(0, ticket_id)
        self._known.add(ticket_id)
        self.endInsertRows()

    def _move_top(self, row: int) -> None:
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), 0)
        self._ids.insert(0, self._ids.pop(row))
        self.endMoveRows()
        self.dataChanged.emit(self.index(0, 0), self.index(0, 2))

    # ---- tasks --------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def settle(self) -> None:
        """Wait until every fetch this model started has finished (tests, shutdown)."""
        while self._tasks or self._missing:
            if self._missing:
                await asyncio.sleep(0)
            await self._tasks.settle()
