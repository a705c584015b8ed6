"""Backups of one open installation: run (snapshot → sealed archive → targets), verify, list,
retention, the weekly restore test, and the status shown by ``clinicdesk status`` and the API.

Every public method here blocks (file and database work); the engine calls them through
:func:`asyncio.to_thread`. One backup at a time per installation (BACKUP_IN_PROGRESS).
The status (last success and failure, last verify, last restore test: times, paths and codes)
lives in the encrypted store, as the global setting ``backup.status``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlcipher3

from app import __version__
from app.backup.archive import Header, SealingWriter
from app.backup.ledger import entries_of, write_ledger
from app.backup.restore import restore_opened
from app.backup.retention import Retention, to_keep
from app.backup.snapshot import (
    DEVICE_ROOT,
    MANIFEST_FORMAT,
    MEDIA_KEY,
    SNAPSHOT_CIPHER,
    DatabasePart,
    Progress,
    export_database,
    file_sha256,
    write_content,
)
from app.backup.targets import (
    Opener,
    archive_name,
    copy_to,
    exclusive_open,
    free_bytes,
    list_archives,
    partial_file,
)
from app.backup.verify import Opened, open_file
from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.security import recovery_key
from app.security.fsperms import make_private_dir
from app.security.keystore import KeyStore
from app.security.protectors import FileMachineProtector
from app.store.store import Store

log = logging.getLogger(__name__)
SETTINGS_FILE = "backup.json"
STATUS_KEY = "backup.status"  # a global setting (branch 0) in the encrypted store


def _quiet(_step: str) -> None:
    return None


def _wait_read_open(read_open: threading.Event, export: Future[Any]) -> None:
    """Until the export's read transaction is open; raises the export's error if it failed
    before that."""
    while not read_open.wait(0.05):
        if export.done():
            export.result()
            return


@dataclass(frozen=True)
class BackupSettings:
    """Targets, schedule and retention (``<data dir>/backup.json`` overrides the defaults)."""

    targets: tuple[Path, ...]
    nightly_at: str = "02:30"  # local time of the engine's machine, HH:MM
    restore_test_weekday: int = 6  # Sunday (Monday = 0)
    retention: Retention = field(default_factory=Retention)
    scheduled: bool = True  # false: no engine jobs (backups only on demand)

    @classmethod
    def load(cls, data_dir: DataDir) -> BackupSettings:
        """The settings file's values over the defaults (targets default to ``backups/``)."""
        path = data_dir.root / SETTINGS_FILE
        raw: dict[str, Any] = {}
        if path.is_file():
            try:
                raw = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                raise ClinicDeskError(ErrorCode.INVALID_INPUT, field=SETTINGS_FILE) from None
        targets = tuple(Path(t) for t in raw.get("targets", [])) or (data_dir.backups,)
        keep = raw.get("retention", {})
        return cls(
            targets,
            str(raw.get("nightly_at", "02:30")),
            int(raw.get("restore_test_weekday", 6)),
            Retention(**{k: int(v) for k, v in keep.items()}),
            bool(raw.get("scheduled", True)),
        )

    def nightly_time(self) -> tuple[int, int]:
        """(hour, minute) of the nightly run; INVALID_INPUT for anything but HH:MM."""
        try:
            hour, minute = (int(part) for part in self.nightly_at.split(":"))
        except ValueError:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="nightly_at") from None
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="nightly_at")
        return hour, minute


def _settings_or_defaults(data_dir: DataDir) -> BackupSettings:
    """The settings file, or the defaults (logged) if it cannot be used: a typo in
    ``backup.json`` must not stop the engine; ``backup run`` still writes somewhere."""
    try:
        return BackupSettings.load(data_dir)
    except (ClinicDeskError, ValueError, TypeError, AttributeError):
        log.warning("%s ignored: defaults apply", SETTINGS_FILE, extra={"code": "backup.settings"})
        return BackupSettings((data_dir.backups,))


class StoreStatus:
    """The backup status in the encrypted store (global setting :data:`STATUS_KEY`).

    Each update is one read-modify-write transaction on the store's single writer, so
    concurrent jobs (a backup and a restore test) never lose each other's fields.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def read(self) -> dict[str, Any]:
        return self._store.read_sync(_status_of)

    def update(self, **fields: object) -> None:
        def work(tx: Any) -> None:
            merged = {**_status_of(tx), **fields}
            tx.messaging.set_setting(0, STATUS_KEY, merged, datetime.now(UTC))

        self._store.transaction_sync(work)


def _status_of(tx: Any) -> dict[str, Any]:
    value = tx.messaging.setting(0, STATUS_KEY)
    return value if isinstance(value, dict) else {}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class RunState:
    """Where a running backup is: its step (``snapshot``, ``media``, ``channels``,
    ``database``, ``copying``, ``verifying``), the step's number and how many there are."""

    step: str
    index: int
    total: int
    started_at: str


class BackupService:
    """Backups of the installation open as ``store`` (see the module docstring)."""

    def __init__(
        self,
        data_dir: DataDir,
        store: Store,
        keystore: KeyStore,
        media_key: bytes,
        *,
        settings: BackupSettings | None = None,
        device_root: bytes | None = None,
    ) -> None:
        self.data_dir, self._store, self._keystore = data_dir, store, keystore
        self._keys = {MEDIA_KEY: media_key} | ({DEVICE_ROOT: device_root} if device_root else {})
        self.settings = settings or _settings_or_defaults(data_dir)
        self.status_file = StoreStatus(store)
        self._running = threading.Lock()
        self.opener: Opener = exclusive_open  # tests inject a failing writer (full disk)
        self.next_run: Callable[[], datetime | None] = lambda: None  # set by the engine's jobs
        self.state: RunState | None = None  # the running backup's step (status, the desk)

    # --- run ----------------------------------------------------------------------------

    def run(
        self, target: Path | None = None, progress: Progress = _quiet, *, verify: bool = True
    ) -> Path:
        """Make one archive, write it to every target (or only ``target``), verify the first
        copy (unless ``verify`` is False: the benchmark times it apart), apply retention;
        returns the first copy's path. Failures are recorded in the status and re-raised; a
        failed run leaves no archive that looks valid."""
        if not self._running.acquire(blocking=False):
            raise ClinicDeskError(ErrorCode.BACKUP_IN_PROGRESS)
        try:
            targets = (target,) if target else self.settings.targets
            total = 4 + (len(targets) - 1) + (1 if verify else 0)
            return self._run_recorded(targets, self._tracked(progress, total), verify)
        finally:
            self.state = None
            self._running.release()

    def _tracked(self, progress: Progress, total: int) -> Progress:
        """``progress`` that also keeps :attr:`state` (one step per call, in order)."""
        started = now_iso()

        def step(name: str) -> None:
            index = self.state.index + 1 if self.state else 1
            # "copying to FOLDER": the step, not the path (the status is shown to admins)
            self.state = RunState(name.split(" ", 1)[0], min(index, total), total, started)
            progress(name)

        return step

    def _run_recorded(self, targets: tuple[Path, ...], progress: Progress, verify: bool) -> Path:
        started = now_iso()
        try:
            paths = self._make_archive(targets, progress)
            if verify:
                progress("verifying")
                self._verify_or_set_aside(paths)
        except ClinicDeskError as exc:
            self.status_file.update(last_failure={"at": started, "code": exc.code.value})
            log.warning("backup failed", extra={"code": exc.code.value})
            raise
        self.status_file.update(last_success={"at": started, "archive": str(paths[0])})
        for folder in targets:
            self.apply_retention(folder)
        log.info("backup done", extra={"code": "backup.done"})
        return paths[0]

    def _make_archive(self, targets: tuple[Path, ...], progress: Progress) -> list[Path]:
        backup_key = self._keystore.unlock_backup_key()
        header = Header.new(
            backup_key, self._keystore.backup_recovery_envelope(), now_iso(), __version__
        )
        name = archive_name(datetime.now(UTC), secrets.token_hex(4))
        with self._staging() as staging, ThreadPoolExecutor(1, "clinicdesk-backup") as pool:
            progress("snapshot")
            snap_file, read_open = staging / "snap.db", threading.Event()
            export = pool.submit(
                self._snapshot, snap_file, header.keys(backup_key)[1], header, read_open.set
            )
            _wait_read_open(read_open, export)
            with partial_file(targets[0], name, self.opener) as out:
                writer = SealingWriter(out, header, backup_key)

                def database() -> DatabasePart:
                    manifest = export.result()
                    # The export's core is free: hash the file and seal the archive's chunks on
                    # threads of their own while this one copies the file into the tar.
                    digest = pool.submit(file_sha256, snap_file)
                    writer.use_thread()
                    return DatabasePart(snap_file, manifest, digest.result)

                try:
                    write_content(writer, self.data_dir, self._keys, database, progress)
                    writer.close()
                finally:
                    writer.abort()
        paths = [targets[0] / name]
        for folder in targets[1:]:
            progress(f"copying to {folder}")
            paths.append(copy_to(paths[0], folder, self.opener))
        self._write_ledgers(targets, backup_key)
        return paths

    def _write_ledgers(self, targets: tuple[Path, ...], backup_key: bytes) -> None:
        """The erasure ledger beside the archives (``app.backup.ledger``)."""
        entries = self._store.read_sync(entries_of)
        for folder in targets:
            try:
                write_ledger(folder, entries, backup_key)
            except OSError as exc:
                raise ClinicDeskError(
                    ErrorCode.BACKUP_TARGET_FAILED, path=str(folder), error=str(exc)
                ) from exc

    def refresh_ledgers(self) -> int:
        """After an erasure: rewrite the ledger in every configured target folder that is
        reachable now (a USB drive that is not plugged in gets it at the next backup); how
        many folders were written."""
        if not self._keystore.has_backup_key():
            return 0
        backup_key = self._keystore.unlock_backup_key()
        entries = self._store.read_sync(entries_of)
        written = 0
        for folder in self.settings.targets:
            try:
                write_ledger(folder, entries, backup_key)
                written += 1
            except OSError:
                log.warning("erasure ledger not written", extra={"code": "backup.ledger"})
        return written

    def _verify_or_set_aside(self, paths: list[Path]) -> None:
        """Verify the first copy; if it fails, rename every copy to ``*.failed`` so that no
        archive that failed verification is listed or restored as a good one."""
        try:
            self._verify_recorded(paths[0])
        except ClinicDeskError:
            for path in paths:
                with contextlib.suppress(OSError):
                    path.rename(path.with_name(path.name + ".failed"))
            raise

    def _snapshot(
        self, snap_file: Path, db_key: bytes, header: Header, read_open: Callable[[], None]
    ) -> dict[str, object]:
        conn = self._store.dedicated_connection()
        try:
            snap = export_database(conn, snap_file, db_key, read_open)
        except (OSError, sqlcipher3.Error) as exc:  # staging full or unwritable
            raise ClinicDeskError(
                ErrorCode.BACKUP_TARGET_FAILED, path=str(snap_file.parent), error=str(exc)
            ) from exc
        finally:
            conn.close()
        return {
            "format": MANIFEST_FORMAT,
            "app_version": __version__,
            "schema_revision": snap.schema_revision,
            "created_at": header.created_at,
            "counts": snap.counts,
            "audit_head": snap.audit_head,
            "backup_key_id": header.backup_key_id,
            "snapshot_cipher": dict(SNAPSHOT_CIPHER),
            # Issue 6 will seal the device stores; until then they are copied as they are
            # (inside this encrypted archive).
            "channel_stores_sealed": False,
        }

    @contextlib.contextmanager
    def _staging(self) -> Iterator[Path]:
        make_private_dir(self.data_dir.backups)
        folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.data_dir.backups))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # --- verify, list, retention -----------------------------------------------------------

    def verify(self, archive: Path, progress: Progress = _quiet) -> dict[str, object]:
        """Fully verify ``archive`` with this installation's backup key (machine protector)."""
        return self._verify_recorded(archive, progress)

    def _verify_recorded(self, archive: Path, progress: Progress = _quiet) -> dict[str, object]:
        with self.opened(archive, progress, keep_media=False) as opened:
            report = opened.report()
        self.status_file.update(last_verify={"at": now_iso(), "archive": str(archive)})
        return report

    @contextlib.contextmanager
    def opened(
        self, archive: Path, progress: Progress = _quiet, *, keep_media: bool = True
    ) -> Iterator[Opened]:
        """The archive decrypted and verified in a private temporary folder (wiped after);
        without ``keep_media`` the media are only hashed (a verify)."""
        key = self._keystore.unlock_backup_key()
        with self._staging() as folder:
            yield open_file(archive, key, folder, progress, keep_media=keep_media)

    def archives(self) -> list[dict[str, object]]:
        """Every archive in the targets (partials are never listed), oldest first."""
        return list_rows(self.settings.targets, self.last_verified())

    def apply_retention(self, folder: Path) -> list[Path]:
        """Delete the archives of ``folder`` that the retention policy does not keep."""
        archives = list_archives(folder)
        keep = to_keep((a.created for a in archives), self.settings.retention)
        removed = [a.path for a in archives if a.created not in keep]
        for path in removed:
            path.unlink(missing_ok=True)
        return removed

    # --- restore test and status ---------------------------------------------------------------

    def restore_test(self) -> dict[str, object]:
        """Verify the newest archive and restore it into a temporary folder (a throwaway
        recovery key and machine key), check the result opens, then wipe it all."""
        archives = [a for t in self.settings.targets for a in list_archives(t)]
        if not archives:
            raise ClinicDeskError(ErrorCode.NOT_FOUND, entity="backup archive")
        newest = max(archives, key=lambda a: a.created).path
        backup_key = self._keystore.unlock_backup_key()
        with self.opened(newest) as opened, self._staging() as sandbox:
            machine = FileMachineProtector(sandbox / "keys")
            restore_opened(opened, sandbox / "data", recovery_key.generate(), backup_key, machine)
        self.status_file.update(last_restore_test={"at": now_iso(), "archive": str(newest)})
        return {"archive": str(newest), "ok": True}

    def last_verified(self) -> str | None:
        """The path of the archive verified last, if any."""
        verified = self.status_file.read().get("last_verify") or {}
        return verified.get("archive") if isinstance(verified, dict) else None

    def status(self) -> dict[str, object]:
        """Last success/failure, verify and restore test, next run, free space per target."""
        current = self.status_file.read()
        return {
            "last_success": current.get("last_success"),
            "last_failure": current.get("last_failure"),
            "last_verify": current.get("last_verify"),
            "last_restore_test": current.get("last_restore_test"),
            "next_run": _iso(self.next_run()),
            "targets": [
                {"path": str(t), "free_bytes": free_bytes(t)} for t in self.settings.targets
            ],
            "has_backup_key": self._keystore.has_backup_key(),
            "running": dataclasses.asdict(self.state) if self.state else None,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def list_rows(targets: tuple[Path, ...], verified: str | None) -> list[dict[str, object]]:
    """The archives of ``targets`` for ``backup list`` / the API; ``verified`` is the path of
    the last verified archive, if known."""
    rows: list[dict[str, object]] = []
    for folder in targets:
        for item in list_archives(folder):
            rows.append({
                "path": str(item.path),
                "created_at": item.created.isoformat(),
                "size": item.size,
                "readable": item.header_ok,
                "last_verified": str(item.path) == verified,
            })  # fmt: skip
    return rows
