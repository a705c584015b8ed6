"""Media rules, pure: which files we accept (judged by content), how big, and safe display names.

The declared MIME type and the file name that come with a WhatsApp attachment are never trusted:
:func:`detect_type` looks only at the leading bytes ("magic numbers"). Anything it does not
recognise is refused, so an executable renamed ``exame.pdf`` never reaches the desk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import ClinicDeskError, ErrorCode


class MediaKind(StrEnum):
    """Broad kind of a media file; each kind has its own size limit."""

    IMAGE = "image"
    DOCUMENT = "document"
    AUDIO = "audio"
    VIDEO = "video"


MB = 1024 * 1024

# WhatsApp-like limits (WhatsApp caps documents at 100 MB and voice/audio at 16 MB; we allow
# images up to 16 MB for originals sent "as photo" in HD and video up to 64 MB).
MAX_BYTES: dict[MediaKind, int] = {
    MediaKind.IMAGE: 16 * MB,
    MediaKind.DOCUMENT: 100 * MB,
    MediaKind.AUDIO: 16 * MB,
    MediaKind.VIDEO: 64 * MB,
}
MAX_ANY_BYTES = max(MAX_BYTES.values())

MAX_DISPLAY_NAME = 120
_MAX_SUFFIX = 10  # a longer "extension" is not kept whole when a name is shortened


@dataclass(frozen=True, slots=True)
class MediaType:
    """A recognised file type: its MIME type, kind and usual extension."""

    mime: str
    kind: MediaKind
    ext: str


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A stored blob: the SHA-256 of its plaintext (hex), plaintext size and detected MIME."""

    sha256: str
    size: int
    mime: str


JPEG = MediaType("image/jpeg", MediaKind.IMAGE, ".jpg")
PNG = MediaType("image/png", MediaKind.IMAGE, ".png")
WEBP = MediaType("image/webp", MediaKind.IMAGE, ".webp")
GIF = MediaType("image/gif", MediaKind.IMAGE, ".gif")
PDF = MediaType("application/pdf", MediaKind.DOCUMENT, ".pdf")
OGG = MediaType("audio/ogg", MediaKind.AUDIO, ".ogg")
MP3 = MediaType("audio/mpeg", MediaKind.AUDIO, ".mp3")
M4A = MediaType("audio/mp4", MediaKind.AUDIO, ".m4a")
MP4 = MediaType("video/mp4", MediaKind.VIDEO, ".mp4")

_PREFIXES: tuple[tuple[bytes, MediaType], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
    (b"OggS\x00", OGG),  # capture pattern + stream structure version 0 (voice notes: Opus)
    (b"ID3", MP3),
)
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B "})


def _riff_webp(head: bytes) -> MediaType | None:
    """``RIFF<size>WEBP``."""
    return WEBP if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else None


def _iso_bmff(head: bytes) -> MediaType | None:
    """MP4 family: a first box of type ``ftyp``; the major brand tells audio (M4A) from video."""
    if head[4:8] != b"ftyp" or len(head) < 12:
        return None
    return M4A if head[8:12] in _AUDIO_BRANDS else MP4


def _mpeg_frame(head: bytes) -> MediaType | None:
    """An MP3 without ID3 tag: 11-bit frame sync, a valid MPEG version and layer (not AAC)."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    return MP3 if version != 0b01 and layer != 0b00 else None


def detect_type(data: bytes) -> MediaType | None:
    """The type of ``data`` judged by its leading bytes only, or ``None`` if not allowed."""
    head = data[:16]
    for prefix, media_type in _PREFIXES:
        if head.startswith(prefix):
            return media_type
    for probe in (_riff_webp, _iso_bmff, _mpeg_frame):
        found = probe(head)
        if found is not None:
            return found
    return None


def _refuse(reason: str) -> ClinicDeskError:
    return ClinicDeskError(ErrorCode.INVALID_INPUT, field="media", reason=reason)


def check_media(data: bytes) -> MediaType:
    """The detected type of ``data``; refuses empty, unknown and oversized content.

    Raises ``INVALID_INPUT`` with ``field="media"`` and ``reason`` one of ``empty``,
    ``unsupported_type`` or ``too_large``.
    """
    if not data:
        raise _refuse("empty")
    if len(data) > MAX_ANY_BYTES:
        raise _refuse("too_large")
    media_type = detect_type(data)
    if media_type is None:
        raise _refuse("unsupported_type")
    if len(data) > MAX_BYTES[media_type.kind]:
        raise _refuse("too_large")
    return media_type


# Control (Cc), format (Cf: RTL overrides, zero-width joiners, BOM), surrogates, private use,
# unassigned: none belongs in a name shown to staff.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACES = re.compile(r"\s+")


def _clean_chars(text: str) -> str:
    """NFC, line breaks and tabs to spaces, drop invisible/control characters, collapse spaces."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text))
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in _DROP_CATEGORIES)
    return _SPACES.sub(" ", kept).strip()


def _shorten(name: str, limit: int) -> str:
    """Cut ``name`` to ``limit`` characters, keeping a short extension intact."""
    if len(name) <= limit:
        return name
    dot = name.rfind(".")
    suffix = name[dot:] if dot > 0 and len(name) - dot <= _MAX_SUFFIX else ""
    return name[: limit - len(suffix)].rstrip(" .") + suffix


def safe_display_name(name: str | None, fallback: str = "arquivo") -> str:
    """A file name safe to show and to offer on download.

    Keeps only the last path component (``/`` or ``\\``), removes control, bidi-override and
    zero-width characters, strips leading and trailing dots and spaces (no hidden files) and
    limits the result to 120 characters. An empty result becomes ``fallback``.
    """
    raw = name or ""
    base = re.split(r"[/\\]", raw)[-1]
    cleaned = _clean_chars(base).strip(" .")
    if not cleaned:
        cleaned = fallback
    return _shorten(cleaned, MAX_DISPLAY_NAME)
