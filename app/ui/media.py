"""Attachments in the desk: thumbnails, opening and saving files, sending a file.

Everything goes through :class:`DeskClient` (authorised ``GET /media/{sha}`` and
``/thumbnail``); the desk never reads the engine's media folder. Decoding a thumbnail, writing
a file and encoding one in base64 run in a worker thread (``asyncio.to_thread``) so the UI
thread only awaits. "Abrir" writes the file to a private temporary folder of this session and
hands it to the system (``QDesktopServices``): the desk has no player of its own (PySide6
essentials has no QtMultimedia), so audio plays in the system's player.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.tasks import TaskSet

log = logging.getLogger(__name__)
ATTACHMENT_MAX = 10 * 1024 * 1024  # the engine's cap on an outbound file (routes_media.py)


def decode_image(data: bytes) -> QImage:
    """A QImage of ``data`` (null when unreadable); safe off the UI thread."""
    image = QImage()
    image.loadFromData(data)
    return image


class ThumbnailCache(QObject):
    """Thumbnails by digest: each fetched once, decoded off the UI thread, kept LRU."""

    ready = Signal(str, QImage)

    def __init__(
        self, fetch: Callable[[str], Awaitable[bytes]], size: int = 200, parent: Any = None
    ) -> None:
        super().__init__(parent)
        self._fetch, self._size = fetch, size
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._asked: set[str] = set()  # fetching now, or failed (not asked again this session)
        self._tasks = TaskSet()

    def get(self, sha256: str) -> QImage | None:
        """The image if known; otherwise start fetching it (``ready`` follows) and say None."""
        image = self._images.get(sha256)
        if image is not None:
            self._images.move_to_end(sha256)
            return image
        if sha256 not in self._asked:
            self._asked.add(sha256)
            self._tasks.spawn(self._load(sha256))
        return None

    async def _load(self, sha256: str) -> None:
        try:
            data = await self._fetch(sha256)
        except ClinicDeskError as exc:
            log.info("thumbnail failed", extra={"code": exc.code.value})
            return
        image = await asyncio.to_thread(decode_image, data)
        if image.isNull():
            return
        self._asked.discard(sha256)
        self._images[sha256] = image
        while len(self._images) > self._size:
            self._images.popitem(last=False)
        self.ready.emit(sha256, image)

    async def settle(self) -> None:
        await self._tasks.settle()


def safe_name(name: str | None, fallback: str) -> str:
    """A file name without folders (a patient's file name is untrusted)."""
    base = Path((name or "").replace("\\", "/")).name.strip(". ")
    return base or fallback


class TempFiles:
    """This session's private folder for files opened with the system (removed on close)."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def path_for(self, sha256: str, name: str) -> Path:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="clinicdesk-")
        folder = Path(self._dir.name) / sha256[:12]
        folder.mkdir(exist_ok=True)
        return folder / name

    def cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


async def write_file(path: Path, data: bytes) -> None:
    await asyncio.to_thread(path.write_bytes, data)


def open_with_system(path: Path) -> bool:
    """Hand a file to the system's viewer or player."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _read_b64(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > ATTACHMENT_MAX:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason="too_large")
    if not data:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason="empty")
    return base64.b64encode(data).decode("ascii")


async def file_as_base64(path: Path) -> str:
    """The file's bytes in base64, read off the UI thread; refuses what the engine would
    (over 10 MB, empty) before sending anything. An unreadable file is ``input.invalid``."""
    try:
        if path.stat().st_size > ATTACHMENT_MAX:  # don't even read a huge file
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason="too_large")
        return await asyncio.to_thread(_read_b64, path)
    except OSError:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason="unreadable") from None
