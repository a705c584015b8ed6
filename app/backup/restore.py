"""Restoring an archive into a data directory, e.g. on a new PC with only the recovery key.

Order: refuse a folder an engine uses → open the archive's backup key with the recovery key →
decrypt and fully verify into a staging folder next to the target → build the new installation
there (a NEW data key wrapped for this machine and the same recovery key; the database re-keyed
to it; media re-encrypted under the new media key; channel folders copied) → only then move it
into place. An existing installation is never written over: with ``replace`` it is renamed
aside (``<name>.replaced-<time>``) and kept, so a mistaken restore can be undone by hand.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlcipher3

from app.backup.archive import header_of
from app.backup.ledger import Erased, read_ledger, replay
from app.backup.snapshot import Progress
from app.backup.verify import Opened, open_file
from app.channels.transports.wa_store import SEALED_NAME, reseal_device_store
from app.config import DataDir
from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import fsync_dir
from app.infra.lock import SingleInstanceLock, is_locked_by_other
from app.security.fsperms import make_private_dir
from app.security.keystore import KeyStore, open_backup_envelope
from app.security.protectors import MachineProtector, RecoveryProtector
from app.security.recovery_key import RecoveryKey
from app.security.sealing import DeviceStoreKeys
from app.store.db import STORE_CIPHER
from app.store.media import MediaStore
from app.store.store import Store


def _quiet(_step: str) -> None:
    return None


log = logging.getLogger(__name__)


@dataclass
class RestoreReport:
    """What was restored; channels that will reconnect and those that need pairing (why)."""

    data_dir: str
    created_at: str
    rows: int
    media: int
    replaced: str | None = None
    channels: list[dict[str, object]] = field(default_factory=list)
    # the erasure ledger beside the archive: none, read (and replayed), or unreadable
    ledger: str = "none"
    erasures_replayed: int = 0

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def check_target(root: Path, *, replace: bool) -> bool:
    """Refuse a folder an engine runs on, and a non-empty folder without ``replace``.
    Returns True when there is something to replace."""
    data_dir = DataDir(root)
    if is_locked_by_other(data_dir.engine_lock):
        raise ClinicDeskError(ErrorCode.RESTORE_DIR_IN_USE, path=str(root))
    occupied = root.exists() and (not root.is_dir() or any(root.iterdir()))
    if occupied and not replace:
        raise ClinicDeskError(ErrorCode.RESTORE_DIR_NOT_EMPTY, path=str(root))
    return occupied


def backup_key_from_recovery(archive: Path, rk: RecoveryKey) -> bytes:
    """The archive's backup key, opened from its header with the recovery key."""
    header = header_of(archive)
    try:
        return open_backup_envelope(header.recovery_envelope, RecoveryProtector(rk))
    except ClinicDeskError as exc:
        if exc.code is ErrorCode.RECOVERY_KEY_WRONG:
            raise ClinicDeskError(ErrorCode.BACKUP_WRONG_KEY, reason="recovery_key") from None
        raise ClinicDeskError(ErrorCode.BACKUP_ARCHIVE_INVALID, reason="header") from None


def restore_archive(
    archive: Path,
    root: Path,
    rk: RecoveryKey,
    machine: MachineProtector,
    *,
    replace: bool = False,
    progress: Progress = _quiet,
) -> RestoreReport:
    """Restore ``archive`` into ``root`` (see the module docstring). On any failure nothing in
    ``root`` has changed and the staging folder is removed."""
    root = root.absolute()
    occupied = check_target(root, replace=replace)
    backup_key = backup_key_from_recovery(archive, rk)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.restoring-", dir=root.parent))
    try:
        make_private_dir(staging)
        opened = open_file(archive, backup_key, staging / "archive", progress)
        progress("restoring")
        ledger, state = _ledger_beside(archive, backup_key)
        report = restore_opened(opened, staging / "data", rk, backup_key, machine, erased=ledger)
        report.ledger = state
        report.replaced = _move_into_place(staging / "data", root, occupied)
        report.data_dir = str(root)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ledger_beside(archive: Path, backup_key: bytes) -> tuple[list[Erased], str]:
    """The erasure ledger next to ``archive`` and how it was found. A damaged one does not
    stop a restore (a lost PC must come back), but the report says so: the erasures must
    then be repeated by hand."""
    try:
        found = read_ledger(archive.parent, backup_key)
    except ClinicDeskError:
        log.warning("erasure ledger unreadable", extra={"code": "restore.ledger"})
        return [], "unreadable"
    return (found, "read") if found is not None else ([], "none")


def restore_opened(
    opened: Opened, root: Path, rk: RecoveryKey, backup_key: bytes, machine: MachineProtector,
    *, erased: list[Erased] | None = None,
) -> RestoreReport:  # fmt: skip
    """Build a new installation in the NEW folder ``root`` from a verified archive (opened
    with its media); patients of ``erased`` that the archive still holds are erased again
    before anything else opens the store."""
    if not opened.media_kept:
        raise ValueError("restore needs the archive's media")  # a programming error
    data_dir = DataDir(root)
    make_private_dir(root)
    dek = KeyStore(data_dir, machine).create_restored(rk, backup_key)
    _rekey_into(opened, data_dir, dek)
    _forget_backup_status(data_dir, dek)  # opens with the new key; older schema migrated
    media = _reencrypt_media(opened, data_dir, dek)
    replayed = _replay(data_dir, dek, erased or [])
    _copy_channels(opened.folder / "channels", data_dir.channels)
    _reseal_device_stores(opened, data_dir, dek)
    rows = sum(int(n) for n in opened.manifest["counts"].values())
    report = RestoreReport(str(root), opened.manifest["created_at"], rows, media)
    report.channels = channel_outlook(data_dir, dek)
    report.erasures_replayed = replayed
    return report


def _replay(data_dir: DataDir, dek: bytes, erased: list[Erased]) -> int:
    if not erased:
        return 0
    store = Store.open(data_dir, dek, migrate=True)
    try:
        return replay(store, erased, MediaStore.from_dek(data_dir.media, dek).delete)
    finally:
        store.close()


def _forget_backup_status(data_dir: DataDir, dek: bytes) -> None:
    """The archive carries the old installation's backup bookkeeping (its archives, its
    verifies); the restored one starts with none: its first backup is still to come."""
    store = Store.open(data_dir, dek, migrate=True)
    try:
        store.transaction_sync(lambda tx: tx.conn.exec_driver_sql(
            "DELETE FROM settings WHERE branch_id = 0 AND key = 'backup.status'"))  # fmt: skip
    finally:
        store.close()


def _rekey_into(opened: Opened, data_dir: DataDir, dek: bytes) -> None:
    """Copy the verified database into a new file under the new data key and the store's own
    SQLCipher settings (the archive's copy may use others: SNAPSHOT_CIPHER), then move it into
    the new data directory (never over an existing file)."""
    staged = opened.folder / "restored.db"
    conn = sqlcipher3.connect(str(opened.db))
    try:
        conn.execute(f"PRAGMA key = \"x'{opened.db_key.hex()}'\"")
        for name, value in opened.cipher:  # checked against known settings by verify
            conn.execute(f"PRAGMA {name} = {value}")
        conn.execute("ATTACH DATABASE ? AS restored KEY ?", (str(staged), f"x'{dek.hex()}'"))
        for name, value in STORE_CIPHER:  # not inherited from the snapshot's settings
            conn.execute(f"PRAGMA restored.{name} = {value}")
        conn.execute("SELECT sqlcipher_export('restored')").fetchall()
        conn.execute("DETACH DATABASE restored")
    finally:
        conn.close()
    if data_dir.db.exists():
        raise ClinicDeskError(ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(data_dir.db))
    shutil.move(staged, data_dir.db)
    data_dir.db.chmod(0o600)


def _reencrypt_media(opened: Opened, data_dir: DataDir, dek: bytes) -> int:
    """Blobs are sealed under the old installation's media key; the new data key has its own."""
    source_root = opened.folder / "media"
    old = MediaStore(source_root, opened.media_key())
    new = MediaStore.from_dek(data_dir.media, dek)
    count = 0
    for path in sorted(source_root.glob("*/*")) if source_root.is_dir() else []:
        new.put(old.get(path.name))
        count += 1
    return count


def _reseal_device_stores(opened: Opened, data_dir: DataDir, dek: bytes) -> None:
    """Device stores are sealed under keys from the old data key; the new one has its own.
    A store that does not open with the archive's key is left as it is: its channel then
    reports ``device_store_unreadable`` and asks to be paired again."""
    old_root = opened.device_root()
    if old_root is None:
        return
    old, new = DeviceStoreKeys(old_root), DeviceStoreKeys.from_dek(dek)
    for sealed in sorted(data_dir.channels.glob(f"*/{SEALED_NAME}")):
        channel = sealed.parent.name
        with contextlib.suppress(ClinicDeskError):
            reseal_device_store(sealed, channel, old.for_channel(channel), new.for_channel(channel))


def _copy_channels(source: Path, target: Path) -> None:
    if not source.is_dir():
        return
    make_private_dir(target)
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(folder, target / folder.name)
        make_private_dir(target / folder.name)


def channel_outlook(data_dir: DataDir, dek: bytes) -> list[dict[str, object]]:
    """Per channel: ``reconnect`` when its device store came back (the worker reconnects with
    it, or reports ``logged_out`` if WhatsApp no longer accepts it), else ``pair`` with reason
    ``not_paired`` (the worker finds no credentials and asks for a QR scan)."""
    store = Store.open(data_dir, dek, migrate=False)
    try:
        rows = store.read_sync(lambda tx: tx.conn.exec_driver_sql(
            "SELECT id, name, enabled FROM channels ORDER BY id").fetchall())  # fmt: skip
    finally:
        store.close()
    outlook = []
    for channel_id, name, enabled in rows:
        folder = data_dir.channels / str(channel_id)
        has_store = folder.is_dir() and any(folder.iterdir())
        outlook.append({
            "id": channel_id,
            "name": name,
            "enabled": bool(enabled),
            "expect": "reconnect" if has_store else "pair",
            "reason": None if has_store else Reason.NOT_PAIRED.value,
        })  # fmt: skip
    return outlook


def _move_into_place(built: Path, root: Path, occupied: bool) -> str | None:
    """Rename the finished installation to ``root``; an occupied ``root`` is renamed aside
    first, under its engine lock (POSIX) so no engine starts on it meanwhile."""
    aside = None
    if occupied:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = root.with_name(f"{root.name}.replaced-{stamp}")
        _rename_unused(root, aside)
    elif root.is_dir():
        root.rmdir()  # empty (checked): Windows cannot rename over a directory
    built.rename(root)
    fsync_dir(root.parent)
    return str(aside) if aside else None


def _rename_unused(root: Path, aside: Path) -> None:
    if os.name == "nt" or not root.is_dir():
        # Windows cannot rename a folder while a file in it is open (the lock file): the check
        # in check_target is the guard there.
        if is_locked_by_other(DataDir(root).engine_lock):
            raise ClinicDeskError(ErrorCode.RESTORE_DIR_IN_USE, path=str(root))
        root.rename(aside)
        return
    with SingleInstanceLock(DataDir(root).engine_lock):
        root.rename(aside)
