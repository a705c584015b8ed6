"""The conversation's message list: a small list model and a delegate that paints bubbles.

Incoming bubbles sit left (white), outgoing right (green), each with its time and, for
outgoing ones, the ack ticks: ✓ sent, ✓✓ delivered, blue ✓✓ read. A send that failed or needs
review shows a red line with "Tentar de novo"; clicking the bubble asks for a retry.
Attachments show a file line (icon, name, size) with "Abrir" and "Salvar"; images also show
their thumbnail, which the model asks for (``loader``) only when a bubble is painted, i.e.
visible. A refused file shows "Arquivo não recebido (tipo não permitido)".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics, QImage, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.client_types import Message
from app.ui.texts import kind_text, send_status_text

AnyIndex = QModelIndex | QPersistentModelIndex
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 10
PAD, GAP, MAX_FRACTION = 10, 6, 0.68
IN_BG, OUT_BG, READ_BLUE, FAIL_RED = "#FFFFFF", "#D9FDD3", "#34B7F1", "#D93025"
LINK_BLUE = "#027EB5"
THUMB_W, THUMB_H = 220, 160


class MessageModel(QAbstractListModel):
    """The bubbles of one ticket, oldest first; merged by message id."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[Message] = []
        self._thumbs: dict[str, QImage] = {}
        self.loader: Callable[[str], None] | None = None  # asked for a missing thumbnail

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == MESSAGE_ROLE:
            return item
        if role == Qt.ItemDataRole.DisplayRole:
            if item.kind == "reaction":  # the emoji alone would read as a message
                return QCoreApplication.translate("Chat", "Reagiu com %1").replace(
                    "%1", item.body or ""
                )
            return item.body or item.media_name or ""
        if role == Qt.ItemDataRole.DecorationRole and item.media_sha256 and item.has_thumbnail:
            return self._thumbnail(item.media_sha256)
        return None

    def _thumbnail(self, sha256: str) -> QImage | None:
        image = self._thumbs.get(sha256)
        if image is None and self.loader is not None:
            self.loader(sha256)  # the view paints this bubble: now it is worth fetching
        return image

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
                old = self._items[row]  # a fresher event may know more than an older page
                self._items[row] = replace(
                    m,
                    outbox_id=m.outbox_id or old.outbox_id,
                    send_status=m.send_status or old.send_status,
                )
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


@dataclass(frozen=True, slots=True)
class BubbleLayout:
    """Where each part of one bubble goes (None: the bubble has no such part)."""

    bubble: QRect
    text: QRect
    thumb: QRect | None
    file: QRect | None
    open: QRect | None
    save: QRect | None
    problem: QRect | None
    footer: QRect


def size_text(size: int | None) -> str:
    """ "820 KB", "1,4 MB" (Brazilian decimal comma)."""
    if not size:
        return ""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


class BubbleDelegate(QStyledItemDelegate):
    """Paints one message as a chat bubble. A click on "Abrir"/"Salvar" (or a thumbnail) asks
    for the file; a click on a failed send asks for a retry."""

    retryRequested = Signal(int, bool)  # outbox_id, needs confirmation (NEEDS_REVIEW)
    mediaRequested = Signal(object, str)  # Message, "open" | "save"

    def _layout(self, option: QStyleOptionViewItem, m: Message) -> BubbleLayout:
        fm = QFontMetrics(option.font)
        inner = int(option.rect.width() * MAX_FRACTION) - 2 * PAD
        line = fm.height()
        text, problem = self._text(m), self._problem_text(m)
        flags = int(Qt.TextFlag.TextWordWrap)
        body = fm.boundingRect(QRect(0, 0, inner, 10_000), flags, text) if text else QRect()
        prob = fm.boundingRect(QRect(0, 0, inner, 10_000), flags, problem) if problem else QRect()
        thumb_h = THUMB_H if m.has_thumbnail and m.media_sha256 else 0
        has_file = bool(m.media_sha256) or m.media_refused
        has_actions = bool(m.media_sha256) and not m.media_refused
        widths = [body.width(), prob.width(), fm.horizontalAdvance("00:00 ✓✓✓") + 8]
        widths += [THUMB_W] if thumb_h else []
        # +12: fallback glyphs (emoji) may be wider when painted than measured here
        widths += [min(inner, fm.horizontalAdvance(self._file_text(m)) + 12)] if has_file else []
        w = max(widths) + 2 * PAD
        heights = (thumb_h, line if has_file else 0, line if has_actions else 0)
        h = sum(heights) + body.height() + prob.height() + line + 2 * PAD - 4
        left = option.rect.left() + GAP if m.direction == "in" else option.rect.right() - GAP - w
        bubble = QRect(left, option.rect.top() + GAP // 2, w, h)
        return self._place(bubble, fm, m, heights, (body.height(), prob.height()))

    def _place(
        self, bubble: QRect, fm: QFontMetrics, m: Message,
        heights: tuple[int, int, int], text_heights: tuple[int, int],
    ) -> BubbleLayout:  # fmt: skip
        """Stack the parts top to bottom inside ``bubble``."""
        x, y, width = bubble.left() + PAD, bubble.top() + PAD - 2, bubble.width() - 2 * PAD
        rects: list[QRect | None] = []
        for h in (*heights, *text_heights):
            rects.append(QRect(x, y, width, h) if h else None)
            y += h
        thumb, file, actions, text, problem = rects
        open_r = save_r = None
        if actions is not None:
            open_w = fm.horizontalAdvance(self._open_label()) + 4
            open_r = QRect(actions.left(), actions.top(), open_w, actions.height())
            save_w = fm.horizontalAdvance(self._save_label()) + 4
            save_r = QRect(open_r.right() + 16, actions.top(), save_w, actions.height())
        footer = QRect(x, bubble.bottom() - PAD - fm.height() + 2, width, fm.height())
        text_rect = text if text is not None else QRect(x, y, width, 0)
        return BubbleLayout(bubble, text_rect, thumb, file, open_r, save_r, problem, footer)

    @staticmethod
    def _text(m: Message) -> str:
        if m.body:
            return m.body
        if m.media_sha256 or m.media_refused:
            return ""  # the file line says it
        return QCoreApplication.translate("Chat", "(mensagem sem texto)")

    @staticmethod
    def _file_text(m: Message) -> str:
        if m.media_refused:
            return QCoreApplication.translate("Chat", "⚠ Arquivo não recebido (tipo não permitido)")
        name = m.media_name or QCoreApplication.translate("Chat", "Anexo")
        icon = kind_text(m.kind).split(" ")[0] if m.kind != "text" else "📎"
        size = size_text(m.media_size)
        return f"{icon} {name}" + (f" · {size}" if size else "")

    @staticmethod
    def _open_label() -> str:
        return QCoreApplication.translate("Chat", "Abrir")

    @staticmethod
    def _save_label() -> str:
        return QCoreApplication.translate("Chat", "Salvar")

    @staticmethod
    def _problem(m: Message) -> bool:
        return m.send_status in ("failed", "needs_review") or m.ack == "failed"

    def _problem_text(self, m: Message) -> str:
        if not self._problem(m):
            return ""
        status = send_status_text(m.send_status or "failed")
        if m.outbox_id is None:
            return status
        return f"{status} ↻ {QCoreApplication.translate('Chat', 'Tentar de novo')}"

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        m = index.data(MESSAGE_ROLE)
        if m is None:
            return QSize(0, 0)
        return QSize(option.rect.width(), self._layout(option, m).bubble.height() + GAP)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        m: Message | None = index.data(MESSAGE_ROLE)
        if m is None:
            return
        lay = self._layout(option, m)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor("#E2E2E2"))
        painter.setBrush(QColor(IN_BG if m.direction == "in" else OUT_BG))
        painter.drawRoundedRect(lay.bubble, 8, 8)
        if lay.thumb is not None:  # asking for the image is what fetches it: only when shown
            self._paint_thumb(painter, lay.thumb, index.data(Qt.ItemDataRole.DecorationRole))
        self._paint_file(painter, lay, m)
        painter.setPen(QColor("#111B21"))
        painter.drawText(lay.text, int(Qt.TextFlag.TextWordWrap), self._text(m))
        if lay.problem is not None:
            painter.setPen(QColor(FAIL_RED))
            painter.drawText(lay.problem, int(Qt.TextFlag.TextWordWrap), self._problem_text(m))
        self._paint_footer(painter, option, lay.footer, m)
        painter.restore()

    @staticmethod
    def _paint_thumb(painter: QPainter, box: QRect, image: Any) -> None:
        if not isinstance(image, QImage) or image.isNull():
            painter.fillRect(box.adjusted(0, 2, 0, -4), QColor("#E9EDEF"))
            return
        scaled = image.scaled(box.width(), box.height() - 6, Qt.AspectRatioMode.KeepAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)  # fmt: skip
        painter.drawImage(box.left(), box.top() + 2, scaled)

    def _paint_file(self, painter: QPainter, lay: BubbleLayout, m: Message) -> None:
        if lay.file is not None:
            painter.setPen(QColor(FAIL_RED if m.media_refused else "#111B21"))
            fm = painter.fontMetrics()
            label = fm.elidedText(
                self._file_text(m), Qt.TextElideMode.ElideMiddle, lay.file.width()
            )
            painter.drawText(lay.file, int(Qt.AlignmentFlag.AlignVCenter), label)
        if lay.open is not None and lay.save is not None:
            painter.setPen(QColor(LINK_BLUE))
            painter.drawText(lay.open, int(Qt.AlignmentFlag.AlignVCenter), self._open_label())
            painter.drawText(lay.save, int(Qt.AlignmentFlag.AlignVCenter), self._save_label())

    def _paint_footer(
        self, painter: QPainter, option: QStyleOptionViewItem, line: QRect, m: Message
    ) -> None:
        fm = QFontMetrics(option.font)
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

    def editorEvent(
        self, event: QEvent, model: Any, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        m: Message | None = index.data(MESSAGE_ROLE)
        if m is None or event.type() != QEvent.Type.MouseButtonRelease:
            return False
        assert isinstance(event, QMouseEvent)
        return self.click(m, self._layout(option, m), event.position().toPoint())

    def click(self, m: Message, lay: BubbleLayout, at: QPoint) -> bool:
        """Act on a click at ``at``: open/save a file, or retry a failed send."""
        for rect, action in ((lay.open, "open"), (lay.thumb, "open"), (lay.save, "save")):
            if rect is not None and rect.contains(at):
                self.mediaRequested.emit(m, action)
                return True
        if self._problem(m) and m.outbox_id is not None and lay.bubble.contains(at):
            self.retryRequested.emit(m.outbox_id, m.send_status == "needs_review")
            return True
        return False


def messages_palette(widget: QWidget) -> None:
    """The chat wallpaper colour behind the bubbles."""
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.Base, QColor("#EFEAE2"))
    widget.setPalette(pal)
