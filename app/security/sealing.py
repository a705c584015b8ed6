"""Sealing a file at rest with AES-256-GCM (the WhatsApp device store of a channel).

A sealed file is ``MAGIC | nonce (12) | ciphertext+tag``; the associated data binds it to its
purpose and owner (e.g. one channel), so a sealed file copied over another channel's is refused
like a tampered one. Keys come from the data key (DEK) through HKDF-SHA256: the engine keeps
only :class:`DeviceStoreKeys` (a root derived from the DEK, never the DEK) and hands each worker
the one key of its channel. See docs/SECURITY.md, "WhatsApp device store sealed at rest".
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import atomic_write_bytes

KEY_BYTES = 32
NONCE_BYTES = 12
MAGIC = b"CDSEAL1\n"
ROOT_INFO = b"clinicdesk device-store root v1"
CHANNEL_INFO = b"clinicdesk device-store channel v1:"
_WIPE_CHUNK = 1 << 20


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


class DeviceStoreKeys:
    """Derives each channel's device-store key; holds a DEK-derived root, not the DEK."""

    def __init__(self, root: bytes) -> None:
        if len(root) != KEY_BYTES:
            raise ValueError("the root key must be 32 bytes")
        self._root = root

    @classmethod
    def from_dek(cls, dek: bytes) -> DeviceStoreKeys:
        """The keys of the installation whose data key is ``dek``."""
        if len(dek) != KEY_BYTES:
            raise ValueError("the data key must be 32 bytes")
        return cls(_hkdf(dek, ROOT_INFO))

    def root_for_backup(self) -> bytes:
        """The root key, for a backup archive only: the archive is itself sealed with the
        backup key, and a restore (new DEK) needs the old root to re-seal device stores."""
        return self._root

    def for_channel(self, channel: str) -> bytes:
        """The key sealing ``channel``'s device store (HKDF info names the channel)."""
        return _hkdf(self._root, CHANNEL_INFO + channel.encode("utf-8"))

    def __repr__(self) -> str:  # never show key material
        return "DeviceStoreKeys(<hidden>)"


def _refused(reason: str) -> ClinicDeskError:
    return ClinicDeskError(ErrorCode.DEVICE_STORE_UNREADABLE, reason=reason)


def seal_bytes(data: bytes, key: bytes, aad: bytes) -> bytes:
    """``data`` encrypted under ``key`` with a fresh random nonce, bound to ``aad``."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, MAGIC + aad)


def unseal_bytes(blob: bytes, key: bytes, aad: bytes) -> bytes:
    """The plaintext of ``blob``; ``DEVICE_STORE_UNREADABLE`` when it was altered, belongs to
    another owner (``aad``) or ``key`` is not the one that sealed it."""
    if len(blob) < len(MAGIC) + NONCE_BYTES + 16 or not blob.startswith(MAGIC):
        raise _refused("not_sealed")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], MAGIC + aad)
    except InvalidTag:
        raise _refused("wrong_key_or_tampered") from None


def seal_to(path: Path, data: bytes, key: bytes, aad: bytes) -> None:
    """Write ``data`` sealed to ``path`` atomically (0600): a crash leaves the old or the new."""
    atomic_write_bytes(path, seal_bytes(data, key, aad))


def unseal_from(path: Path, key: bytes, aad: bytes) -> bytes | None:
    """The plaintext sealed in ``path``; None when there is no such file."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    return unseal_bytes(blob, key, aad)


def wipe_file(path: Path) -> None:
    """Overwrite ``path`` with zeros, flush, then delete it; a missing file is fine.

    Best effort: on SSDs, copy-on-write or journaling file systems the old blocks may survive
    the overwrite (docs/SECURITY.md says what this does and does not protect).
    """
    try:
        size = path.stat().st_size
        with path.open("r+b") as fh:
            for done in range(0, size, _WIPE_CHUNK):
                fh.write(bytes(min(_WIPE_CHUNK, size - done)))
            fh.flush()
            os.fsync(fh.fileno())
    except FileNotFoundError:
        return
    except OSError:
        pass  # unwritable: still try to delete it
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
