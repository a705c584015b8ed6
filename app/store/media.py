"""Encrypted, content-addressed media store: ``media/<ab>/<sha256>``.

Each blob is named by the SHA-256 of its plaintext and encrypted with AES-256-GCM under a key
derived for that blob alone (HKDF-SHA256 of the media key, salt = the digest). File layout::

    b"CDM1" | nonce (12 bytes, random) | ciphertext | GCM tag (16 bytes)

The AAD is ``b"CDM1" + digest``, so a blob moved to another name, or edited, fails to open.
Plaintext never touches the disk: type detection and thumbnails work in memory. See
``docs/MEDIA.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.media import BlobRef, MediaKind, check_media, detect_type
from app.infra.atomic import atomic_write_bytes, fsync_dir

if TYPE_CHECKING:
    from PIL.Image import Image as PilImage

MEDIA_KEY_INFO = b"clinicdesk media v1"
BLOB_KEY_INFO = b"clinicdesk media blob v1"
MAGIC = b"CDM1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
THUMB_MAX_PX = 320
THUMB_QUALITY = 80
THUMB_MAX_PIXELS = 50_000_000  # refuse to decode larger images (decompression bombs)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _hkdf(key: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(key)


def derive_media_key(dek: bytes) -> bytes:
    """The media key: HKDF-SHA256 of the data key with its own ``info``; never the DEK itself."""
    if len(dek) != KEY_BYTES:
        raise ValueError("the data key must be 32 bytes")
    return _hkdf(dek, None, MEDIA_KEY_INFO)


def _corrupt() -> ClinicDeskError:
    return ClinicDeskError(ErrorCode.STORE_WRONG_KEY, entity="media")


class MediaStore:
    """Put, get, thumbnail and delete encrypted media blobs under ``root``.

    ``key`` is the media key from :func:`derive_media_key`. Safe for several threads: writes are
    atomic renames, and two writers of the same content write the same plaintext.
    """

    def __init__(self, root: Path, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("the media key must be 32 bytes")
        self._root = root
        self._key = key

    @classmethod
    def from_dek(cls, root: Path, dek: bytes) -> MediaStore:
        """A store keyed by the media key derived from the data key ``dek``."""
        return cls(root, derive_media_key(dek))

    # --- paths and keys --------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        """Where the blob named ``sha256`` lives (``root/ab/<sha256>``); validates the name."""
        if not _SHA256_HEX.fullmatch(sha256):
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="sha256")
        return self._root / sha256[:2] / sha256

    def _blob_key(self, digest: bytes) -> bytes:
        return _hkdf(self._key, digest, BLOB_KEY_INFO)

    def _ensure_dir(self, directory: Path) -> None:
        """Create ``directory`` (and the root) 0700, whatever the umask."""
        for path in (self._root, directory):
            if not path.is_dir():
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                if os.name != "nt":
                    path.chmod(0o700)

    # --- public API ------------------------------------------------------------------------

    def put(self, data: bytes) -> BlobRef:
        """Store ``data`` (type checked by content, size-limited); idempotent per content."""
        media_type = check_media(data)
        digest = hashlib.sha256(data).digest()
        ref = BlobRef(sha256=digest.hex(), size=len(data), mime=media_type.mime)
        path = self.path_for(ref.sha256)
        if path.is_file():
            return ref
        self._ensure_dir(path.parent)
        atomic_write_bytes(path, self._encrypt(digest, data), mode=0o600)
        return ref

    def get(self, sha256: str) -> bytes:
        """The plaintext of blob ``sha256``; refuses a tampered blob or a wrong key.

        Raises ``NOT_FOUND`` if absent, ``STORE_WRONG_KEY`` if authentication or the digest fails.
        """
        path = self.path_for(sha256)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="media") from None
        data = self._decrypt(bytes.fromhex(sha256), blob)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise _corrupt()
        return data

    def exists(self, sha256: str) -> bool:
        """Whether blob ``sha256`` is stored."""
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> bool:
        """Remove blob ``sha256`` (LGPD erasure); ``False`` if it was not there."""
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        with contextlib.suppress(OSError):  # not empty: other blobs share the shard
            path.parent.rmdir()
        return True

    def thumbnail(self, sha256: str) -> BlobRef | None:
        """A JPEG thumbnail (at most 320 px a side) of image blob ``sha256``, stored as a blob.

        ``None`` for non-images and for images Pillow cannot decode safely.
        """
        data = self.get(sha256)
        media_type = detect_type(data)
        if media_type is None or media_type.kind is not MediaKind.IMAGE:
            return None
        jpeg = _make_thumbnail(data)
        return None if jpeg is None else self.put(jpeg)

    # --- crypto ----------------------------------------------------------------------------

    def _encrypt(self, digest: bytes, data: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._blob_key(digest)).encrypt(nonce, data, MAGIC + digest)
        return MAGIC + nonce + sealed

    def _decrypt(self, digest: bytes, blob: bytes) -> bytes:
        header = len(MAGIC) + NONCE_BYTES
        if len(blob) < header + TAG_BYTES or not blob.startswith(MAGIC):
            raise _corrupt()
        nonce, sealed = blob[len(MAGIC) : header], blob[header:]
        try:
            return AESGCM(self._blob_key(digest)).decrypt(nonce, sealed, MAGIC + digest)
        except InvalidTag:
            raise _corrupt() from None


def _make_thumbnail(data: bytes) -> bytes | None:
    """JPEG bytes of a thumbnail of image ``data``, all in memory; ``None`` if undecodable."""
    from PIL import Image, ImageOps  # lazily: only thumbnails need Pillow (optional dependency)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                if opened.width * opened.height > THUMB_MAX_PIXELS:
                    return None
                image = ImageOps.exif_transpose(opened) or opened
                image.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX))
                rgb = _flatten(image)
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue()


def _flatten(image: PilImage) -> PilImage:
    """``image`` as RGB, transparent areas on white (JPEG has no alpha)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
