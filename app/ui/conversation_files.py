"""The conversation's files: thumbnails, "Abrir"/"Salvar", and sending a file.

:class:`ConversationFiles` is the part of the conversation pane that deals with attachments,
kept apart so the pane stays about messages and ticket actions. Files are sent with
``POST /tickets/{id}/attachments`` (base64, a fresh ``client_key`` each, so a repeated request
never sends twice); size and type problems are shown in Portuguese (``texts.media_error_text``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QWidget

from app.domain.errors import ClinicDeskError
from app.ui.client import DeskClient
from app.ui.client_types import Message
from app.ui.media import (
    TempFiles,
    ThumbnailCache,
    file_as_base64,
    open_with_system,
    safe_name,
    write_file,
)
from app.ui.messages_view import MessageModel
from app.ui.texts import error_text, media_error_text


class Pane(Protocol):
    """What the files helper needs from the conversation pane."""

    def current_ticket_id(self) -> int | None: ...

    def show_notice(self, text: str | None) -> None: ...

    def spawn(self, coro: Any) -> None: ...

    def reload_messages(self, ticket_id: int) -> None: ...


def ask_save_path(parent: QWidget, suggested: str) -> str:
    path, _filter = QFileDialog.getSaveFileName(
        parent,
        QCoreApplication.translate("ConversationFiles", "Salvar arquivo"),
        str(Path.home() / suggested),
    )
    return path


def ask_open_paths(parent: QWidget) -> list[str]:
    title = QCoreApplication.translate("ConversationFiles", "Enviar arquivo")
    paths, _filter = QFileDialog.getOpenFileNames(parent, title)
    return list(paths)


class ConversationFiles(QObject):
    """Thumbnails (lazy, cached), file downloads and uploads of one conversation pane."""

    def __init__(self, client: DeskClient, pane: Pane, model: MessageModel, parent: QWidget):
        super().__init__(parent)
        self.client, self.pane, self.model, self.widget = client, pane, model, parent
        self.thumbs = ThumbnailCache(lambda sha: client.media(sha, thumbnail=True), parent=self)
        self.thumbs.ready.connect(model.set_thumbnail)
        model.loader = self._want_thumbnail
        self.temp = TempFiles()
        # The dialogs, replaceable in tests (a real QFileDialog would wait for a person).
        self.ask_save_path: Callable[[QWidget, str], str] = ask_save_path
        self.ask_open_paths: Callable[[QWidget], list[str]] = ask_open_paths
        self.opener: Callable[[Path], bool] = open_with_system

    def _want_thumbnail(self, sha256: str) -> None:
        image = self.thumbs.get(sha256)  # None: fetching now, ``ready`` follows
        if image is not None:  # known from another ticket: set it after this paint
            asyncio.get_running_loop().call_soon(self._set_thumbnail, sha256, image)

    def _set_thumbnail(self, sha256: str, image: QImage) -> None:
        self.model.set_thumbnail(sha256, image)

    # ---- downloads ----------------------------------------------------------------------------

    def media_action(self, message: Message, action: str) -> None:
        """ "open": fetch to a private temporary file and hand it to the system; "save": ask
        where, then fetch and write there."""
        sha = message.media_sha256
        if sha is None:
            return
        name = safe_name(message.media_name, f"arquivo-{sha[:8]}")
        if action == "save":
            target = self.ask_save_path(self.widget, name)
            if target:
                self.pane.spawn(self._download(sha, Path(target), open_after=False))
        else:
            self.pane.spawn(self._download(sha, self.temp.path_for(sha, name), open_after=True))

    async def _download(self, sha256: str, target: Path, open_after: bool) -> None:
        try:
            data = await self.client.media(sha256)
            await write_file(target, data)
        except ClinicDeskError as exc:
            self.pane.show_notice(error_text(exc))
            return
        except OSError:
            self.pane.show_notice(self.tr("Não foi possível gravar o arquivo nesse local."))
            return
        self.pane.show_notice(None)
        if open_after and not self.opener(target):
            self.pane.show_notice(self.tr("Nenhum programa deste computador abre este arquivo."))

    # ---- uploads ------------------------------------------------------------------------------

    def choose_and_send(self, caption: str | None = None) -> None:
        """The paperclip: pick files and send each."""
        for path in self.ask_open_paths(self.widget):
            self.send_file(Path(path), caption)
            caption = None  # the caption goes with the first file only

    def send_file(self, path: Path, caption: str | None = None) -> None:
        ticket_id = self.pane.current_ticket_id()
        if ticket_id is not None:
            self.pane.spawn(self._upload(ticket_id, path, caption))

    async def _upload(self, ticket_id: int, path: Path, caption: str | None) -> None:
        key = f"desk-file:{secrets.token_hex(8)}"
        try:
            data_b64 = await file_as_base64(path)
            name = safe_name(path.name, "arquivo")
            await self.client.send_attachment(ticket_id, data_b64, name, caption, key)
        except ClinicDeskError as exc:
            self.pane.show_notice(media_error_text(exc))
            return
        self.pane.show_notice(None)
        self.pane.reload_messages(ticket_id)

    async def settle(self) -> None:
        await self.thumbs.settle()

    def cleanup(self) -> None:
        self.temp.cleanup()
