"""Ports of the media pipeline: the encrypted blob store and the ``media_blobs`` rows.

``MediaBlobs`` is implemented by :class:`app.store.media.MediaStore` (files, blocking: call it
through ``asyncio.to_thread``); ``MediaRepo`` is part of ``Tx.messaging``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.domain.media import BlobRef


class MediaBlobs(Protocol):
    """The encrypted, content-addressed blob store (blocking file work)."""

    def put(self, data: bytes) -> BlobRef:
        """Store ``data`` (type checked by content, size-limited); idempotent per content."""
        ...

    def get(self, sha256: str) -> bytes:
        """The plaintext of blob ``sha256``; NOT_FOUND if absent, STORE_WRONG_KEY if tampered."""
        ...

    def thumbnail(self, sha256: str) -> BlobRef | None:
        """A stored JPEG thumbnail of image blob ``sha256``; None for anything else."""
        ...


@dataclass(frozen=True, slots=True)
class MediaBlobRecord:
    """A ``media_blobs`` row: metadata of one stored blob."""

    sha256: str
    size: int
    mime: str
    thumb_sha256: str | None


@dataclass(frozen=True, slots=True)
class MediaUse:
    """A message that references a blob, with what an access check and a download need."""

    message_id: int
    ticket_id: int | None
    branch_id: int
    media_name: str | None
    media_mime: str | None


class MediaRepo(Protocol):
    """``media_blobs`` rows and the messages that reference them."""

    def add_media_blob(self, ref: BlobRef, thumb_sha256: str | None, at: datetime) -> bool:
        """Record a blob once per content; True if the row is new. A known blob gains the
        thumbnail if it had none; nothing else changes."""
        ...

    def media_blob(self, sha256: str) -> MediaBlobRecord | None: ...

    def media_uses(self, sha256: str) -> list[MediaUse]:
        """Every message whose ``media_sha256`` is ``sha256``, oldest first."""
        ...
