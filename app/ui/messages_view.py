"""The conversation's message list: a small list model and a delegate that paints bubbles.

Incoming bubbles sit left (white), outgoing right (green), each with its time and, for
outgoing ones, the ack ticks: ✓ sent, ✓✓ delivered, blue ✓✓ read. A send that failed or needs
review shows a red line with "Tentar de novo"; clicking the bubble asks for a retry.
Attachments show their name; the thumbnail hook is :meth:`MessageModel.set_thumbnail`
(fed from ``GET /media/{sha}/thumbnail`` once that endpoint ships).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics, QImage, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.client import Message
from app.ui.texts import send_status_text

AnyIndex = QModelIndex | QPersistentModelIndex
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 10
PAD, GAP, MAX_FRACTION = 10, 6, 0.68
IN_BG, OUT_BG, READ_BLUE, FAIL_RED = "#FFFFFF", "#D9FDD3", "#34B7F1", "#D93025"


class MessageModel(QAbstractListModel):
    """The bubbles of one ticket, oldest first; merged by message id."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[Message] = []
        self._thumbs: dict[str, QImage] = {}

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == MESSAGE_ROLE:
            return item
        if role == Qt.ItemDataRole.DisplayRole:
            return item.body or item.media_name or ""
        if role == Qt.ItemDataRole.DecorationRole and item.media_sha256:
            return self._thumbs.get(item.media_sha256)
        return None

    def clear(self) -> None:
        self.beginResetModel()
        self._items = []
        self.endResetModel()

    def merge(self, messages: list[Message]) -> None:
        """Add new messages and update known ones (by id), keeping time order."""
        by_id = {m.id: i for i, m in enumerate(self._items)}
        fresh = []
        for m in messages:
            row = by_id.get(m.id)
            if row is None:
                fresh.append(m)
            elif self._items[row] != m:
                old = self._items[row]
                self._items[row] = replace(m, outbox_id=old.outbox_id, send_status=old.send_status)
                self.dataChanged.emit(self.index(row), self.index(row))
        if fresh:
            self._insert(sorted(fresh, key=lambda m: (m.sent_at, m.id)))

    def _insert(self, fresh: list[Message]) -> None:
        last = self._items[-1] if self._items else None
        if last is None or (fresh[0].sent_at, fresh[0].id) >= (last.sent_at, last.id):
            start = len(self._items)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            self._items.extend(fresh)
            self.endInsertRows()
            return
        self.beginResetModel()  # an older page or out-of-order arrival: rare, re-sort
        self._items = sorted([*self._items, *fresh], key=lambda m: (m.sent_at, m.id))
        self.endResetModel()

    def update_message(self, message_id: int, **changes: Any) -> bool:
        """Change fields of one message (ack, send status); repaint only its row."""
        for row, m in enumerate(self._items):
            if m.id == message_id:
                new = replace(m, **changes)
                if new != m:
                    self._items[row] = new
                    self.dataChanged.emit(self.index(row), self.index(row))
                return True
        return False

    def set_thumbnail(self, sha256: str, image: QImage) -> None:
        """Media hook: show ``image`` on every bubble carrying attachment ``sha256``."""
        self._thumbs[sha256] = image
        for row, m in enumerate(self._items):
            if m.media_sha256 == sha256:
                self.dataChanged.emit(self.index(row), self.index(row))

    def messages(self) -> list[Message]:
        return list(self._items)


def ticks(ack: str) -> tuple[str, str | None]:
    """The tick text and its colour (None: the muted text colour) for an ack."""
    if ack == "read":
        return "✓✓", READ_BLUE
    if ack == "delivered":
        return "✓✓", None
    if ack == "sent":
        return "✓", None
    if ack == "failed":
        return "!", FAIL_RED
    return "◷", None  # pending: a small clock


class BubbleDelegate(QStyledItemDelegate):
    """Paints one message as a chat bubble; a click on a failed one asks for a retry."""

    retryRequested = Signal(int, bool)  # outbox_id, needs confirmation (NEEDS_REVIEW)

    def _layout(self, option: QStyleOptionViewItem, m: Message) -> tuple[QRect, QRect]:
        """(bubble rect, text rect) inside the row ``option.rect``."""
        width = int(option.rect.width() * MAX_FRACTION)
        fm = QFontMetrics(option.font)
        text = self._text(m)
        flags = int(Qt.TextFlag.TextWordWrap)
        body = fm.boundingRect(QRect(0, 0, width - 2 * PAD, 10_000), flags, text)
        footer = fm.height() * (2 if self._problem(m) else 1)
        w = max(body.width(), fm.horizontalAdvance("00:00 ✓✓✓") + 8) + 2 * PAD
        h = body.height() + footer + 2 * PAD - 4
        left = option.rect.left() + GAP if m.direction == "in" else option.rect.right() - GAP - w
        bubble = QRect(left, option.rect.top() + GAP // 2, w, h)
        return bubble, bubble.adjusted(PAD, PAD - 2, -PAD, -footer - PAD + 2)

    @staticmethod
    def _text(m: Message) -> str:
        if m.body:
            return m.body
        if m.media_name or m.media_sha256:
            return "📎 " + (m.media_name or QCoreApplication.translate("Chat", "Anexo"))
        return QCoreApplication.translate("Chat", "(mensagem sem texto)")

    @staticmethod
    def _problem(m: Message) -> bool:
        return m.send_status in ("failed", "needs_review") or m.ack == "failed"

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        m = index.data(MESSAGE_ROLE)
        if m is None:
            return QSize(0, 0)
        bubble, _ = self._layout(option, m)
        return QSize(option.rect.width(), bubble.height() + GAP)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        m: Message | None = index.data(MESSAGE_ROLE)
        if m is None:
            return
        bubble, text_rect = self._layout(option, m)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor("#E2E2E2"))
        painter.setBrush(QColor(IN_BG if m.direction == "in" else OUT_BG))
        painter.drawRoundedRect(bubble, 8, 8)
        painter.setPen(QColor("#111B21"))
        painter.drawText(text_rect, int(Qt.TextFlag.TextWordWrap), self._text(m))
        self._paint_footer(painter, option, bubble, m)
        painter.restore()

    def _paint_footer(
        self, painter: QPainter, option: QStyleOptionViewItem, bubble: QRect, m: Message
    ) -> None:
        fm = QFontMetrics(option.font)
        line = QRect(bubble.left() + PAD, bubble.bottom() - PAD - fm.height() + 2,
                     bubble.width() - 2 * PAD, fm.height())  # fmt: skip
        muted = option.palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(muted)
        stamp = m.sent_at.astimezone().strftime("%H:%M")
        if m.direction == "out":
            tick, colour = ticks("failed" if self._problem(m) else m.ack)
            room = fm.horizontalAdvance("✓✓") + 4
            painter.drawText(line.adjusted(0, 0, -room, 0), int(Qt.AlignmentFlag.AlignRight), stamp)
            painter.setPen(QColor(colour) if colour else muted)
            painter.drawText(line, int(Qt.AlignmentFlag.AlignRight), tick)
        else:
            painter.drawText(line, int(Qt.AlignmentFlag.AlignRight), stamp)
        if self._problem(m):
            painter.setPen(QColor(FAIL_RED))
            retry = QCoreApplication.translate("Chat", "Tentar de novo")
            status = send_status_text(m.send_status or "failed")
            painter.drawText(line.translated(0, -fm.height()), 0, f"{status} ↻ {retry}")

    def editorEvent(
        self, event: QEvent, model: Any, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        m: Message | None = index.data(MESSAGE_ROLE)
        released = event.type() == QEvent.Type.MouseButtonRelease
        if m is None or not released or not self._problem(m) or m.outbox_id is None:
            return False
        assert isinstance(event, QMouseEvent)
        bubble, _ = self._layout(option, m)
        if bubble.contains(event.position().toPoint()):
            self.retryRequested.emit(m.outbox_id, m.send_status == "needs_review")
            return True
        return False


def messages_palette(widget: QWidget) -> None:
    """The chat wallpaper colour behind the bubbles."""
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.Base, QColor("#EFEAE2"))
    widget.setPalette(pal)
