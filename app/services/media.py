"""Media in the pipeline: receive a patient's file, record its rows, hand it out to who may see it.

Blob files are written **before** the transaction that records them (the writer thread never does
file work); a blob whose rows never commit is an orphan until a sweep exists (docs/MEDIA.md).
Every function that touches files is blocking: the async callers run it in ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.media import (
    GIF,
    JPEG,
    M4A,
    MAX_ANY_BYTES,
    MP3,
    MP4,
    OGG,
    PDF,
    PNG,
    WEBP,
    BlobRef,
    MediaKind,
    detect_type,
    safe_display_name,
)
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Store, Tx
from app.services.ports_media import MediaBlobs, MediaUse
from app.services.ticket_access import scope_for

log = logging.getLogger(__name__)
B64_INVALID = "media_b64_invalid"  # quarantine reason: the transport sent broken base64
FALLBACK_NAME = "arquivo"
_EXTENSIONS = {t.mime: t.ext for t in (JPEG, PNG, WEBP, GIF, PDF, OGG, MP3, M4A, MP4)}


class MediaDecodeError(Exception):
    """The base64 text of an attachment is not valid base64 (the event is quarantined)."""


@dataclass(frozen=True, slots=True)
class ReceivedMedia:
    """What became of an attachment: stored (``ref``, maybe ``thumb``) or refused (``error``).

    ``name`` is the safe display name and ``size`` the decoded size, in both cases.
    """

    name: str
    size: int
    ref: BlobRef | None = None
    thumb: BlobRef | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A blob's plaintext ready to download (patient data: never log it)."""

    data: bytes
    mime: str
    name: str


def decode_b64(text: str) -> bytes:
    """Strict base64 (no line breaks, no stray characters); raises :class:`MediaDecodeError`."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise MediaDecodeError(B64_INVALID) from None


def display_name(declared: str | None, ref: BlobRef | None) -> str:
    """The safe name to show; a nameless file gets ``arquivo`` plus its detected extension."""
    if declared:
        return safe_display_name(declared, FALLBACK_NAME)
    return FALLBACK_NAME + (_EXTENSIONS.get(ref.mime, "") if ref is not None else "")


def store_media(blobs: MediaBlobs, data: bytes) -> tuple[BlobRef, BlobRef | None]:
    """Put ``data`` (checked by content) and, for an image, its thumbnail. Blocking.

    Raises ``INVALID_INPUT`` (``field="media"``) for empty, unsupported or oversized content.
    """
    ref = blobs.put(data)
    media_type = detect_type(data)
    is_image = media_type is not None and media_type.kind is MediaKind.IMAGE
    return ref, _thumbnail(blobs, ref.sha256) if is_image else None


def _thumbnail(blobs: MediaBlobs, sha256: str) -> BlobRef | None:
    """The image's thumbnail, or None: a thumbnail is a convenience, and a crafted image that
    trips the decoder must not cost the patient's message (nor stall the channel)."""
    try:
        return blobs.thumbnail(sha256)
    except Exception as err:
        log.warning("thumbnail not made", extra={"code": f"media.thumbnail:{type(err).__name__}"})
        return None


def receive_media(blobs: MediaBlobs, b64: str, declared_name: str | None) -> ReceivedMedia:
    """Decode, check and store an inbound attachment. Blocking (decoding, crypto, files).

    Broken base64 raises :class:`MediaDecodeError`; a refused file (unsupported type, too large,
    empty) is a :class:`ReceivedMedia` with ``error`` set and no blob: the message is kept.
    """
    refused_name = display_name(declared_name, None)
    if len(b64) > (MAX_ANY_BYTES // 3 + 1) * 4:  # too big to be accepted: not even decoded
        return ReceivedMedia(refused_name, len(b64) * 3 // 4, error="too_large")
    data = decode_b64(b64)
    try:
        ref, thumb = store_media(blobs, data)
    except ClinicDeskError as err:
        if err.code is not ErrorCode.INVALID_INPUT:
            raise  # store trouble: not durable, the worker delivers the event again
        return ReceivedMedia(refused_name, len(data), error=str(err.params.get("reason")))
    return ReceivedMedia(display_name(declared_name, ref), ref.size, ref, thumb)


def record_blobs(tx: Tx, ref: BlobRef, thumb: BlobRef | None, at: datetime) -> None:
    """The ``media_blobs`` rows of a stored blob and its thumbnail (idempotent per content)."""
    if thumb is not None:
        tx.messaging.add_media_blob(thumb, None, at)
    tx.messaging.add_media_blob(ref, thumb.sha256 if thumb else None, at)


def thumbnail_name(name: str) -> str:
    """``exame.png`` → ``exame-miniatura.jpg`` (thumbnails are always JPEG)."""
    stem = PurePath(name).stem or FALLBACK_NAME
    return safe_display_name(f"{stem}-miniatura.jpg", FALLBACK_NAME)


class MediaService:
    """Authorised downloads of stored media (``GET /media/{sha256}``)."""

    def __init__(self, store: Store, blobs: MediaBlobs, auditor: Auditor) -> None:
        self._store, self.blobs, self._auditor = store, blobs, auditor

    async def open(self, actor: Actor, sha256: str, *, thumbnail: bool = False) -> MediaFile:
        """The blob ``sha256`` (or its thumbnail) if ``actor`` may see a ticket that uses it.

        NOT_FOUND for a malformed, unknown or invisible blob alike (existence is not revealed).
        The read is audited.
        """
        sha = sha256.lower()
        found = await self._store.transaction(lambda tx: self._allowed(tx, actor, sha, thumbnail))
        target, mime, name = found
        data = await asyncio.to_thread(self.blobs.get, target)
        return MediaFile(data, mime, name)

    def _allowed(self, tx: Tx, actor: Actor, sha: str, thumbnail: bool) -> tuple[str, str, str]:
        blob = tx.messaging.media_blob(sha)
        use = _visible_use(tx, actor, tx.messaging.media_uses(sha)) if blob else None
        if blob is None or use is None or (thumbnail and blob.thumb_sha256 is None):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="media")
        name = use.media_name or display_name(None, BlobRef(sha, blob.size, blob.mime))
        details = {"ticket_id": use.ticket_id, "thumbnail": thumbnail}
        target = AuditTarget("message", use.message_id, use.branch_id)
        self._auditor.record(tx, actor, "media.read", target, **details)
        if thumbnail and blob.thumb_sha256 is not None:
            return blob.thumb_sha256, "image/jpeg", thumbnail_name(name)
        return sha, blob.mime, name


def _visible_use(tx: Tx, actor: Actor, uses: list[MediaUse]) -> MediaUse | None:
    """The first use of a blob on a ticket ``actor`` may see (ticket_access rules)."""
    scope = None
    for use in uses:
        if use.ticket_id is None or not actor.can(Permission.HANDLE_TICKETS, use.branch_id):
            continue
        scope = scope or scope_for(tx, actor)
        if tx.messaging.ticket_visible(use.ticket_id, scope):
            return use
    return None
