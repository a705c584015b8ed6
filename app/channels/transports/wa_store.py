"""A WhatsApp channel's device store: sealed at rest, plaintext only while its worker runs.

whatsmeow keeps the linked device's keys in a plain SQLite file (WHATSAPP_ENGINES.md §1.3).
Here that file lives only in ``<private_dir>/live/`` while the channel runs; at rest there is
only ``<private_dir>/whatsapp-device.sealed`` (AES-256-GCM, app.security.sealing). Snapshots
use SQLite's backup API, so a seal taken while whatsmeow writes is still a consistent database.

A plaintext copy found at start is a crash leftover: it is wiped, never trusted (plaintext is
not authenticated; an attacker could have planted it), and the sealed copy is used instead.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import atomic_write_bytes
from app.security.fsperms import make_private_dir
from app.security.sealing import KEY_BYTES, seal_to, unseal_from, wipe_file

log = logging.getLogger(__name__)

SEALED_NAME = "whatsapp-device.sealed"  # the only form backups may carry
LIVE_DIR = "live"  # plaintext while running; never backed up
DB_NAME = "device.sqlite"
_AAD_PREFIX = b"clinicdesk whatsapp device store v1:"
_BUSY_MS = 5000


class DeviceStore:
    """The sealed and live forms of one channel's whatsmeow database."""

    def __init__(self, private_dir: str | Path, channel: str, key: bytes | None) -> None:
        self._dir = Path(private_dir)
        self._key = key
        self._aad = _AAD_PREFIX + channel.encode("utf-8")
        self.sealed_path = self._dir / SEALED_NAME
        self.live_dir = self._dir / LIVE_DIR
        self.db_path = self.live_dir / DB_NAME

    def _require_key(self) -> bytes:
        if self._key is None or len(self._key) != KEY_BYTES:
            raise ClinicDeskError(ErrorCode.DEVICE_STORE_UNREADABLE, reason="no_key")
        return self._key

    def open(self) -> None:
        """Wipe leftover plaintext, then decrypt the sealed store (if any) into ``live/``.

        Raises ``DEVICE_STORE_UNREADABLE`` (sealed copy left untouched) when the key is
        missing or wrong, or the file was altered.
        """
        key = self._require_key()
        self.wipe_live()
        plain = unseal_from(self.sealed_path, key, self._aad)
        make_private_dir(self.live_dir)
        if plain is not None:
            atomic_write_bytes(self.db_path, plain)

    def has_credentials(self) -> bool:
        """Whether the live database holds a linked device (no device: a person must pair)."""
        if not self.db_path.exists():
            return False
        try:
            with contextlib.closing(self._connect_ro()) as db:
                row = db.execute("SELECT count(*) FROM whatsmeow_device").fetchone()
        except sqlite3.Error:
            return False
        return bool(row and row[0])

    def _connect_ro(self) -> sqlite3.Connection:
        uri = self.db_path.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=_BUSY_MS / 1000)

    def snapshot(self) -> bytes | None:
        """A consistent image of the live database (None when there is none)."""
        if not self.db_path.exists():
            return None
        with (
            contextlib.closing(self._connect_ro()) as src,
            contextlib.closing(sqlite3.connect(":memory:")) as mem,
        ):
            src.backup(mem)
            return mem.serialize()

    def seal(self) -> bool:
        """Seal the current live database over the sealed copy; False when there is none.

        A database without a device never replaces a sealed one (a pairing that failed must
        not cost the old credentials; logout removes the sealed copy itself).
        """
        key = self._require_key()
        if not self.has_credentials() and self.sealed_path.exists():
            return False
        try:
            image = self.snapshot()
        except sqlite3.Error as exc:
            log.warning("device store snapshot failed", extra={"code": type(exc).__name__})
            return False
        if image is None:
            return False
        seal_to(self.sealed_path, image, key, self._aad)
        return True

    def close(self) -> None:
        """Seal the live database (when there is one), then wipe the plaintext."""
        try:
            self.seal()
        finally:
            self.wipe_live()

    def wipe_live(self) -> None:
        """Overwrite and delete every plaintext file (database, journal, WAL) and the folder."""
        if not self.live_dir.is_dir():
            return
        for path in self.live_dir.iterdir():
            if path.is_file():
                wipe_file(path)
        with contextlib.suppress(OSError):  # at rest the channel folder holds the sealed file only
            self.live_dir.rmdir()

    def fresh_live(self) -> None:
        """An empty live folder for a new pairing (the sealed copy stays until it is replaced)."""
        self.wipe_live()
        make_private_dir(self.live_dir)

    def destroy(self) -> None:
        """Logout: wipe the plaintext and the sealed copy (a person must pair again)."""
        self.wipe_live()
        wipe_file(self.sealed_path)


def reseal_device_store(path: Path, channel: str, old_key: bytes, new_key: bytes) -> None:
    """Re-seal a sealed device store under ``new_key`` (a restore that changed the DEK).

    Keys are per channel: ``DeviceStoreKeys.from_dek(dek).for_channel(channel)``. Raises
    ``DEVICE_STORE_UNREADABLE`` if ``old_key`` does not open it; the file is then unchanged.
    """
    aad = _AAD_PREFIX + channel.encode("utf-8")
    plain = unseal_from(path, old_key, aad)
    if plain is not None:
        seal_to(path, plain, new_key, aad)
