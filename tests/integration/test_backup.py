"""Backups on real SQLCipher files: round trip, keyed snapshot, tampering, wrong keys, a backup
during ingest, a full target, and no plaintext in archives (RELIABILITY_SECURITY §2.3 B1-B7)."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
import sqlcipher3

from app.backup import archive as archive_format
from app.backup import service as backup_service
from app.backup import snapshot as snapshot_module
from app.backup.jobs import CATCH_UP, NIGHTLY, BackupJobs
from app.backup.ledger import ledger_path
from app.backup.restore import restore_archive, restore_opened
from app.backup.service import BackupSettings, _settings_or_defaults
from app.backup.snapshot import SNAPSHOT_CIPHER, export_database
from app.backup.verify import open_file
from app.bootstrap import Core, FirstAdmin, init_installation, open_core, recover_installation
from app.channels.transports import wa_store
from app.config import DataDir
from app.domain.audit import verify_chain
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.lock import SingleInstanceLock
from app.security import recovery_key
from app.security.keystore import KeyStore
from app.security.protectors import FileMachineProtector
from app.security.recovery_key import RecoveryKey
from app.security.sealing import DeviceStoreKeys, seal_to, unseal_from
from app.store.db import PLAINTEXT_HEADER, Cipher
from tests.helpers.messaging import Desk, make_desk, patient
from tests.integration.conftest import (
    BRANCHES,
    PASSWORD,
    SUPER,
    FakeClock,
    Installation,
)
from tests.integration.test_media_store import pdf_bytes
from tests.integration.test_no_plaintext import CANARIES, hits_in

SMALL_CHUNK = 4096  # many chunks even for a small store, so "middle chunk" exists
BAD = {ErrorCode.BACKUP_ARCHIVE_INVALID, ErrorCode.BACKUP_VERIFY_FAILED, ErrorCode.BACKUP_WRONG_KEY}


@dataclass
class Clinic:
    """An installation opened like the engine opens it (with its backup service)."""

    root: Path
    key_dir: Path
    rk: RecoveryKey
    desk: Desk

    @property
    def core(self) -> Core:
        return self.desk.inst.core

    def backup(self, target: Path | None = None) -> Path:
        assert self.core.backups is not None
        return self.core.backups.run(target)

    def backup_key(self) -> bytes:
        return KeyStore(DataDir(self.root), FileMachineProtector(self.key_dir)).unlock_backup_key()


async def make_clinic(base: Path, messages: int = 12) -> Clinic:
    """Init, reopen with open_core, a channel with patients' messages (canary names), a
    canary PDF and a thumbnail-free image blob, and a device store for the channel."""
    root, key_dir = base / "data", base / "keys"
    machine = FileMachineProtector(key_dir)
    core, rk = await init_installation(root, FirstAdmin(SUPER, "Super", PASSWORD), machine=machine)
    core.close()
    core = open_core(root, machine=machine)
    local = core.local_actor()
    branch_ids = {name: (await core.branches.add(local, name)).id for name in BRANCHES}
    inst = Installation(core, root, key_dir, branch_ids, {})
    desk = await make_desk(inst, FakeClock())
    for n, canary in enumerate(CANARIES[:messages]):
        event = desk.event(
            chat=patient(n), text=f"consulta de {canary.name}", push_name=canary.name
        )
        await desk.ingest(event)
    await asyncio.to_thread(core.media.blobs.put, pdf_bytes(CANARIES[0].name.encode()))
    device = DataDir(root).channels / str(desk.channel_id)
    device.mkdir(parents=True)
    (device / "simulator-session.json").write_text('{"token": "t0k3n"}')
    return Clinic(root, key_dir, rk, desk)


@pytest.fixture
async def clinic(tmp_path: Path, key_dir: Path) -> Any:
    made = await make_clinic(tmp_path)
    yield made
    made.core.close()


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Clinic, Path]]:
    """One clinic and one archive in small chunks, shared by the read-only tests."""
    base = tmp_path_factory.mktemp("sealed")
    made = asyncio.run(make_clinic(base))
    patch = pytest.MonkeyPatch()
    patch.setattr(archive_format, "CHUNK_SIZE", SMALL_CHUNK)
    try:
        path = made.backup()
    finally:
        patch.undo()
    yield made, path
    made.core.close()


def table_rows(core: Core) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ordinary table (virtual FTS tables are checked through their
    shadow tables), sorted (some tables are WITHOUT ROWID), except the backup status: the
    backups' own bookkeeping, which a backup writes and a restore starts afresh."""

    def work(tx: Any) -> dict[str, list[tuple[Any, ...]]]:
        names = tx.conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            " AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {
            name: sorted(
                (
                    tuple(r)
                    for r in tx.conn.exec_driver_sql(f'SELECT * FROM "{name}"')
                    if not (name == "settings" and r[1] == backup_service.STATUS_KEY)
                ),
                key=repr,
            )
            for (name,) in names
        }

    return dict(core.store.read_sync(work))


def media_plaintexts(core: Core, root: Path) -> dict[str, bytes]:
    return {p.name: core.media.blobs.get(p.name) for p in sorted((root / "media").glob("*/*"))}


def audit(core: Core) -> Any:
    return core.store.read_sync(lambda tx: verify_chain(tx.audit.iter_rows()))


# --- round trip -------------------------------------------------------------------------


async def test_round_trip_restores_identical_data(clinic: Clinic, tmp_path: Path) -> None:
    archive = await asyncio.to_thread(clinic.backup)
    new_root, new_keys = tmp_path / "new-pc" / "data", tmp_path / "new-pc" / "keys"
    report = await asyncio.to_thread(
        restore_archive, archive, new_root, clinic.rk, FileMachineProtector(new_keys)
    )
    restored = open_core(new_root, machine=FileMachineProtector(new_keys))
    try:
        assert table_rows(restored) == table_rows(clinic.core)
        assert media_plaintexts(restored, new_root) == media_plaintexts(clinic.core, clinic.root)
        assert len(media_plaintexts(restored, new_root)) == 1
        before, after = audit(clinic.core), audit(restored)
        assert after.ok and (after.head_seq, after.head_hash) == (before.head_seq, before.head_hash)
    finally:
        restored.close()
    device = DataDir(new_root).channels / str(clinic.desk.channel_id) / "simulator-session.json"
    assert device.read_text() == '{"token": "t0k3n"}'
    assert [c["expect"] for c in report.channels] == ["reconnect"]
    fresh = open_core(new_root, machine=FileMachineProtector(new_keys))
    try:  # the new PC has no backup history of its own yet
        assert fresh.backups is not None and fresh.backups.status()["last_success"] is None
    finally:
        fresh.close()


async def test_an_archive_made_before_the_snapshot_settings_restores_identical_data(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As archives were made before: the snapshot under SQLCipher's defaults (4 KiB pages,
    # HMAC-SHA512), and the FTS tables themselves counted in the manifest.
    monkeypatch.setattr(snapshot_module, "SNAPSHOT_CIPHER", ())
    monkeypatch.setattr(backup_service, "SNAPSHOT_CIPHER", ())
    count = snapshot_module.count_rows
    monkeypatch.setattr(
        snapshot_module,
        "count_rows",
        lambda conn: count(conn, snapshot_module.user_tables(conn, virtual=True)),
    )
    archive = await asyncio.to_thread(clinic.backup)
    opened = await asyncio.to_thread(
        open_file, archive, clinic.backup_key(), tmp_path / "check", lambda _s: None
    )
    assert opened.cipher == () and opened.manifest["counts"]["messages_fts"] > 0
    new_root, new_keys = tmp_path / "new-pc" / "data", tmp_path / "new-pc" / "keys"
    await asyncio.to_thread(
        restore_archive, archive, new_root, clinic.rk, FileMachineProtector(new_keys)
    )
    restored = open_core(new_root, machine=FileMachineProtector(new_keys))
    try:
        assert table_rows(restored) == table_rows(clinic.core)
    finally:
        restored.close()


async def test_an_archive_with_16_kib_snapshot_pages_restores_identical_data(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Archives made between the snapshot settings and the 64 KiB pages used 16 KiB pages.
    cipher: Cipher = (("cipher_page_size", "16384"), ("cipher_hmac_algorithm", "HMAC_SHA256"))
    monkeypatch.setattr(snapshot_module, "SNAPSHOT_CIPHER", cipher)
    monkeypatch.setattr(backup_service, "SNAPSHOT_CIPHER", cipher)
    archive = await asyncio.to_thread(clinic.backup)
    monkeypatch.undo()
    opened = await asyncio.to_thread(
        open_file, archive, clinic.backup_key(), tmp_path / "check", lambda _s: None
    )
    assert dict(opened.cipher) == dict(cipher) != dict(SNAPSHOT_CIPHER)
    new_root, new_keys = tmp_path / "new-pc" / "data", tmp_path / "new-pc" / "keys"
    await asyncio.to_thread(
        restore_archive, archive, new_root, clinic.rk, FileMachineProtector(new_keys)
    )
    restored = open_core(new_root, machine=FileMachineProtector(new_keys))
    try:
        assert table_rows(restored) == table_rows(clinic.core)
    finally:
        restored.close()


async def test_restored_data_key_is_new_and_old_archives_still_open(
    clinic: Clinic, tmp_path: Path
) -> None:
    archive = await asyncio.to_thread(clinic.backup)
    new_root, new_keys = tmp_path / "new" / "data", tmp_path / "new" / "keys"
    await asyncio.to_thread(
        restore_archive, archive, new_root, clinic.rk, FileMachineProtector(new_keys)
    )
    old = KeyStore(DataDir(clinic.root), FileMachineProtector(clinic.key_dir)).unlock()
    new_store = KeyStore(DataDir(new_root), FileMachineProtector(new_keys))
    assert new_store.unlock().dek != old.dek
    assert new_store.unlock_with_recovery(clinic.rk).dek == new_store.unlock().dek
    # the restored PC keeps the backup key: the old archive verifies with its machine key
    open_file(archive, new_store.unlock_backup_key(), tmp_path / "check", lambda _s: None)


async def test_channel_without_device_store_comes_back_asking_for_pairing(
    clinic: Clinic, tmp_path: Path
) -> None:
    shutil.rmtree(DataDir(clinic.root).channels)
    archive = await asyncio.to_thread(clinic.backup)
    report = await asyncio.to_thread(
        restore_archive, archive, tmp_path / "r", clinic.rk, FileMachineProtector(tmp_path / "k")
    )
    assert [(c["expect"], c["reason"]) for c in report.channels] == [("pair", "not_paired")]


# --- the snapshot is keyed with the backup key (B3) --------------------------------------


async def test_snapshot_is_encrypted_opens_with_backup_key_not_live_key(
    clinic: Clinic, tmp_path: Path
) -> None:
    db_key, target = bytes(range(32)), tmp_path / "snap.db"
    conn = clinic.core.store.dedicated_connection()
    try:
        snap = export_database(conn, target, db_key)
    finally:
        conn.close()
    assert target.read_bytes()[:16] != PLAINTEXT_HEADER
    # an FTS table's rows are its content table's: counted there, its index via shadow tables
    assert "messages_fts" not in snap.counts and snap.counts["messages_fts_docsize"] > 0
    live_dek = KeyStore(DataDir(clinic.root), FileMachineProtector(clinic.key_dir)).unlock().dek
    assert _opens(target, db_key, SNAPSHOT_CIPHER) == snap.counts["messages"] > 0
    assert _opens(target, live_dek, SNAPSHOT_CIPHER) is None
    assert _opens(target, live_dek) is None
    assert _opens(target, db_key) is None  # only with its recorded settings (the manifest's)


def _opens(path: Path, key: bytes, cipher: Cipher = ()) -> int | None:
    conn = sqlcipher3.connect(str(path))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("PRAGMA cipher_log_level = NONE")
        for name, value in cipher:
            conn.execute(f"PRAGMA {name} = {value}")
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlcipher3.DatabaseError:
        return None
    finally:
        conn.close()


# --- tampering: any flipped or truncated byte is refused with a reason --------------------


def _layout(path: Path) -> tuple[int, int]:
    """(offset of the first chunk, file size)."""
    with path.open("rb") as fh:
        archive_format.read_header(fh)
        return fh.tell(), path.stat().st_size


def _flip(data: bytearray, at: int) -> bytes:
    data[at] ^= 0x01
    return bytes(data)


CASES = {
    "magic": lambda d, s, n: _flip(d, 0),
    "header_length": lambda d, s, n: _flip(d, 10),
    "header_json": lambda d, s, n: _flip(d, s - 20),
    "header_key_id": lambda d, s, n: bytes(d).replace(
        b'"backup_key_id": "', b'"backup_key_id": "0', 1
    )[: len(d)],
    "first_chunk": lambda d, s, n: _flip(d, s + 5),
    "middle_chunk": lambda d, s, n: _flip(d, s + (n - s) // 2),
    "last_chunk": lambda d, s, n: _flip(d, n - 40),
    "last_tag": lambda d, s, n: _flip(d, n - 1),
    "cut_last_byte": lambda d, s, n: bytes(d[: n - 1]),
    "cut_at_chunk_boundary": lambda d, s, n: bytes(d[: s + 3 * (SMALL_CHUNK + 16)]),
    "cut_in_header": lambda d, s, n: bytes(d[: s - 5]),
    "only_header": lambda d, s, n: bytes(d[:s]),
    "empty": lambda d, s, n: b"",
    "trailing_garbage": lambda d, s, n: bytes(d) + b"\x00" * 20,
    "swap_chunks": lambda d, s, n: _swap(d, s, 1, 2),
    "drop_a_chunk": lambda d, s, n: bytes(
        d[: s + SMALL_CHUNK + 16] + d[s + 2 * (SMALL_CHUNK + 16) :]
    ),
}


def _swap(data: bytearray, start: int, i: int, j: int) -> bytes:
    size = SMALL_CHUNK + 16
    chunks = [bytes(data[start + k * size : start + (k + 1) * size]) for k in (i, j)]
    data[start + i * size : start + (i + 1) * size] = chunks[1]
    data[start + j * size : start + (j + 1) * size] = chunks[0]
    return bytes(data)


@pytest.mark.parametrize("keep_media", [True, False], ids=["restore", "verify"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_archive_is_refused_with_a_reason(
    sealed: tuple[Clinic, Path], tmp_path: Path, case: str, keep_media: bool
) -> None:
    made, archive = sealed
    start, size = _layout(archive)
    assert size > start + 6 * (SMALL_CHUNK + 16)  # several chunks: "middle" is a real middle
    damaged = tmp_path / "damaged.cdbk"
    damaged.write_bytes(CASES[case](bytearray(archive.read_bytes()), start, size))
    with pytest.raises(ClinicDeskError) as caught:
        open_file(
            damaged, made.backup_key(), tmp_path / "out", lambda _s: None, keep_media=keep_media
        )
    assert caught.value.code in BAD
    assert caught.value.params.get("reason")


def test_intact_archive_verifies(sealed: tuple[Clinic, Path], tmp_path: Path) -> None:
    made, archive = sealed
    report = open_file(archive, made.backup_key(), tmp_path / "out", lambda _s: None).report()
    assert report["ok"] and report["rows"] > 0
    assert [p for p in (tmp_path / "out" / "media").rglob("*") if p.is_file()]  # kept


def test_a_verify_hashes_the_media_without_writing_them(
    sealed: tuple[Clinic, Path], tmp_path: Path
) -> None:
    made, archive = sealed
    opened = open_file(
        archive, made.backup_key(), tmp_path / "out", lambda _s: None, keep_media=False
    )
    assert opened.report()["ok"] and not opened.media_kept
    assert not (tmp_path / "out" / "media").exists() and opened.db.is_file()
    assert any(name.startswith("media/") for name in opened.manifest["parts"])
    with pytest.raises(ValueError, match="media"):  # such an opening cannot be restored
        restore_opened(
            opened, tmp_path / "r", made.rk, made.backup_key(), FileMachineProtector(tmp_path / "k")
        )


async def test_a_media_part_whose_hash_differs_fails_a_verify(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Misrecorded(snapshot_module._Hashing):  # the manifest records another hash
        def read(self, size: int = -1) -> bytes:
            data = super().read(size)
            self.sha.update(b"x" if data else b"")
            return data

    archive = await asyncio.to_thread(clinic.backup, tmp_path / "usb")  # a good one first
    monkeypatch.setattr(snapshot_module, "_Hashing", Misrecorded)
    assert clinic.core.backups is not None
    bad = await asyncio.to_thread(clinic.core.backups.run, tmp_path / "usb2", verify=False)
    with pytest.raises(ClinicDeskError) as caught:
        await asyncio.to_thread(clinic.core.backups.verify, bad)
    assert caught.value.params["reason"] == "hash_mismatch"
    assert str(caught.value.params["part"]).startswith("media/")
    assert (await asyncio.to_thread(clinic.core.backups.verify, archive))["ok"]


def test_wrong_recovery_key_and_wrong_backup_key_are_refused(
    sealed: tuple[Clinic, Path], tmp_path: Path
) -> None:
    _made, archive = sealed
    with pytest.raises(ClinicDeskError) as caught:
        restore_archive(
            archive, tmp_path / "r", recovery_key.generate(), FileMachineProtector(tmp_path / "k")
        )
    assert (caught.value.code, caught.value.params["reason"]) == (
        ErrorCode.BACKUP_WRONG_KEY, "recovery_key",
    )  # fmt: skip
    assert not (tmp_path / "r").exists()
    with pytest.raises(ClinicDeskError) as caught:
        open_file(archive, bytes(32), tmp_path / "out", lambda _s: None)
    assert caught.value.params["reason"] == "different_backup_key"


# --- restore target rules ----------------------------------------------------------------


def test_restore_refuses_a_folder_in_use_and_a_full_folder(
    sealed: tuple[Clinic, Path], tmp_path: Path
) -> None:
    made, archive = sealed
    target, machine = tmp_path / "busy", FileMachineProtector(tmp_path / "k")
    with SingleInstanceLock(DataDir(target).engine_lock), pytest.raises(ClinicDeskError) as caught:
        restore_archive(archive, target, made.rk, machine, replace=True)
    assert caught.value.code is ErrorCode.RESTORE_DIR_IN_USE
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ClinicDeskError) as caught:
        restore_archive(archive, target, made.rk, machine)
    assert caught.value.code is ErrorCode.RESTORE_DIR_NOT_EMPTY
    report = restore_archive(archive, target, made.rk, machine, replace=True)
    assert report.replaced and (Path(report.replaced) / "keep.txt").read_text() == "mine"
    assert DataDir(target).db.is_file() and not (target / "keep.txt").exists()


# --- consistency under load (B1) ---------------------------------------------------------


async def test_backup_during_ingest_restores_a_consistent_state(
    clinic: Clinic, tmp_path: Path
) -> None:
    desk, total = clinic.desk, 150
    before = await desk.count("messages")

    async def ingest() -> None:
        for n in range(total):
            await desk.ingest(desk.event(chat=patient(100 + n % 30), text=f"mensagem {n}"))

    feeding = asyncio.create_task(ingest())
    archive = await asyncio.to_thread(clinic.backup)
    await feeding
    assert await desk.count("messages") == before + total  # ingest never failed
    new_root = tmp_path / "restored"
    await asyncio.to_thread(
        restore_archive, archive, new_root, clinic.rk, FileMachineProtector(tmp_path / "k2")
    )
    restored = open_core(new_root, machine=FileMachineProtector(tmp_path / "k2"))
    try:
        rows = table_rows(restored)
        assert before <= len(rows["messages"]) <= before + total
        message_ids = {r[0] for r in rows["messages"]}
        assert audit(restored).ok
        # every message's ticket and contact came along in the same state (no torn ingest)
        assert _orphans(restored) == 0
        assert message_ids
    finally:
        restored.close()


def _orphans(core: Core) -> int:
    sql = (
        "SELECT count(*) FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id "
        "WHERE m.contact_id IS NOT NULL AND c.id IS NULL"
    )
    return int(core.store.read_sync(lambda tx: tx.conn.exec_driver_sql(sql).scalar()))


# --- full target (B7) ----------------------------------------------------------------------


class _Quota:
    """A fault-injecting writer: after ``limit`` bytes every write fails with ENOSPC, like a
    full USB disk (a tiny tmpfs needs root, so the OS error is injected at the file object)."""

    def __init__(self, fh: IO[bytes], limit: int) -> None:
        self._fh, self._left = fh, limit

    def write(self, data: bytes) -> int:
        if len(data) > self._left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _Quota:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


async def test_full_target_fails_cleanly_and_leaves_the_live_store_alone(
    clinic: Clinic, tmp_path: Path
) -> None:
    good = await asyncio.to_thread(clinic.backup, tmp_path / "usb")
    assert clinic.core.backups is not None
    clinic.core.backups.opener = lambda p: _Quota(open(p, "xb"), 64 * 1024)  # noqa: SIM115, PTH123
    before_rows, before_files = table_rows(clinic.core), _files(clinic.root)
    with pytest.raises(ClinicDeskError) as caught:
        await asyncio.to_thread(clinic.backup, tmp_path / "usb")
    assert caught.value.code is ErrorCode.BACKUP_TARGET_FAILED
    assert "No space left" in str(caught.value.params["error"])
    left = sorted(p.name for p in (tmp_path / "usb").iterdir())
    ledger = ledger_path(tmp_path / "usb", clinic.backup_key()).name
    assert left == sorted([good.name, ledger])  # the good run's archive and ledger
    assert table_rows(clinic.core) == before_rows
    assert _files(clinic.root) == before_files  # media, channels, keystore: untouched
    assert not list(DataDir(clinic.root).backups.glob(".staging-*"))
    status = clinic.core.backups.status()
    assert status["last_failure"]["code"] == "backup.target_failed"  # type: ignore[index]
    open_file(good, clinic.backup_key(), tmp_path / "out", lambda _s: None)  # still restorable


def _files(root: Path) -> dict[str, str]:
    skip = {"clinicdesk.db", "clinicdesk.db-wal", "clinicdesk.db-shm"}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip and "backups" not in p.parts
    }


# --- no plaintext in archives (K3/B3) ------------------------------------------------------


async def test_archive_holds_no_plaintext_of_contacts_or_messages(
    clinic: Clinic, tmp_path: Path
) -> None:
    centro = clinic.desk.branch_id
    for canary in CANARIES[20:30]:
        await clinic.core.contacts.add(clinic.core.local_actor(), centro, canary.typed, canary.name)
    target = tmp_path / "target"
    await asyncio.to_thread(clinic.backup, target)
    assert hits_in([target, DataDir(clinic.root).backups], CANARIES[:30]) == []


# --- jobs on the engine's scheduler ------------------------------------------------------------


class _Host:
    """Records jobs the way the reminder scheduler's ``add_job`` hook receives them."""

    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}

    def add_job(self, job_id: str, func: Any, trigger: Any) -> None:
        self.jobs[job_id] = (func, trigger)

    def next_run_of(self, job_id: str) -> Any:
        job = self.jobs.get(job_id)
        return job[1].get_next_fire_time(None, datetime.now(UTC)) if job else None


async def test_jobs_catch_up_back_up_and_run_the_restore_test(clinic: Clinic) -> None:
    service = clinic.core.backups
    assert service is not None
    host = _Host()
    BackupJobs(service, host).install()
    assert set(host.jobs) == {NIGHTLY, CATCH_UP}  # never backed up: a missed run
    await host.jobs[CATCH_UP][0]()  # what the scheduler runs
    status = service.status()
    assert status["last_success"] and status["last_verify"] and status["last_restore_test"]
    assert status["next_run"] is not None
    assert not list(DataDir(clinic.root).backups.glob(".staging-*"))  # sandbox wiped
    again = _Host()
    BackupJobs(service, again).install()
    assert set(again.jobs) == {NIGHTLY}  # nothing missed any more


# --- the backup key in the keystore ------------------------------------------------------------


async def test_recover_rewraps_the_backup_key_and_init_key_serves_older_keystores(
    clinic: Clinic, tmp_path: Path
) -> None:
    archive = await asyncio.to_thread(clinic.backup)
    clinic.core.close()
    new_machine = FileMachineProtector(tmp_path / "new-machine")
    recover_installation(clinic.root, clinic.rk, machine=new_machine)
    keystore = KeyStore(DataDir(clinic.root), new_machine)
    backup_key = keystore.unlock_backup_key()
    open_file(archive, backup_key, tmp_path / "check", lambda _s: None)
    # a keystore from before backups existed: no backup envelopes until init-key
    for path in (DataDir(clinic.root).keystore, DataDir(clinic.root).keystore_backup):
        doc = json.loads(path.read_text())
        doc["envelopes"] = [e for e in doc["envelopes"] if e["purpose"] == "data"]
        path.write_text(json.dumps(doc))
    with pytest.raises(ClinicDeskError) as caught:
        keystore.unlock_backup_key()
    assert caught.value.code is ErrorCode.BACKUP_KEY_MISSING
    with pytest.raises(ClinicDeskError) as caught:
        keystore.add_backup_key(recovery_key.generate())
    assert caught.value.code is ErrorCode.RECOVERY_KEY_WRONG
    added = keystore.add_backup_key(clinic.rk)
    assert (
        keystore.unlock_backup_key() == added == keystore.unlock_backup_key_with_recovery(clinic.rk)
    )
    assert keystore.unlock().dek  # the data key is untouched


async def test_an_archive_that_fails_verification_is_never_listed(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: object, **_kw: object) -> None:
        raise ClinicDeskError(ErrorCode.BACKUP_VERIFY_FAILED, reason="counts_differ")

    monkeypatch.setattr(backup_service, "open_file", failing)
    with pytest.raises(ClinicDeskError) as caught:
        await asyncio.to_thread(clinic.backup)
    assert caught.value.code is ErrorCode.BACKUP_VERIFY_FAILED
    assert clinic.core.backups is not None and clinic.core.backups.archives() == []
    folder = DataDir(clinic.root).backups
    assert [p.suffix for p in folder.glob("clinicdesk-*")] == [".failed"]


def test_settings_file_sets_targets_and_a_broken_one_falls_back(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "data")
    data_dir.root.mkdir()
    (data_dir.root / "backup.json").write_text(
        json.dumps(
            {"targets": [str(tmp_path / "usb")], "nightly_at": "03:15", "retention": {"daily": 3}}
        )
    )
    loaded = BackupSettings.load(data_dir)
    assert loaded.targets == (tmp_path / "usb",) and loaded.nightly_time() == (3, 15)
    assert loaded.retention.daily == 3 and loaded.retention.monthly == 12
    (data_dir.root / "backup.json").write_text('{"retention": {"daily": -1}')
    assert _settings_or_defaults(data_dir).targets == (data_dir.backups,)


async def test_device_stores_travel_sealed_and_are_resealed_for_the_new_data_key(
    clinic: Clinic, tmp_path: Path
) -> None:
    """Only the sealed form of a whatsapp-web device store goes into an archive (never the
    plaintext ``live/`` copy of a running channel); a restore re-seals it under keys from the
    new data key, so the channel reconnects instead of asking to be paired again."""
    channel = str(clinic.desk.channel_id)
    folder = DataDir(clinic.root).channels / channel
    aad = wa_store._AAD_PREFIX + channel.encode()
    old_dek = KeyStore(DataDir(clinic.root), FileMachineProtector(clinic.key_dir)).unlock().dek
    seal_to(folder / wa_store.SEALED_NAME, b"whatsmeow-db", _channel_key(old_dek, channel), aad)
    (folder / wa_store.LIVE_DIR).mkdir()
    (folder / wa_store.LIVE_DIR / "whatsmeow.db").write_bytes(b"PLAINTEXT-DEVICE-" + b"x" * 64)
    archive = await asyncio.to_thread(clinic.backup)
    new_root, new_keys = tmp_path / "new-pc" / "data", tmp_path / "new-pc" / "keys"
    report = await asyncio.to_thread(
        restore_archive, archive, new_root, clinic.rk, FileMachineProtector(new_keys)
    )
    restored = DataDir(new_root).channels / channel
    assert not (restored / wa_store.LIVE_DIR).exists()
    new_dek = KeyStore(DataDir(new_root), FileMachineProtector(new_keys)).unlock().dek
    sealed = restored / wa_store.SEALED_NAME
    assert unseal_from(sealed, _channel_key(new_dek, channel), aad) == b"whatsmeow-db"
    with pytest.raises(ClinicDeskError):
        unseal_from(sealed, _channel_key(old_dek, channel), aad)
    assert [c["expect"] for c in report.channels] == ["reconnect"]


def _channel_key(dek: bytes, channel: str) -> bytes:
    return DeviceStoreKeys.from_dek(dek).for_channel(channel)


async def test_the_backup_status_lives_in_the_encrypted_store(clinic: Clinic) -> None:
    await asyncio.to_thread(clinic.backup)
    assert not list(DataDir(clinic.root).backups.rglob("*.json"))  # nothing beside the store
    reopened = clinic.core.store.read_sync(
        lambda tx: tx.messaging.setting(0, backup_service.STATUS_KEY)
    )
    assert isinstance(reopened, dict) and set(reopened) >= {"last_success", "last_verify"}
    assert clinic.core.backups is not None
    assert clinic.core.backups.last_verified() == reopened["last_verify"]["archive"]


async def test_a_running_backup_reports_its_steps_in_the_status(
    clinic: Clinic, tmp_path: Path
) -> None:
    service = clinic.core.backups
    assert service is not None and service.status()["running"] is None
    seen: list[tuple[str, int, int]] = []

    def progress(_step: str) -> None:  # called by the backup thread, as the API's run is
        running = service.status()["running"]
        assert isinstance(running, dict)
        seen.append((running["step"], running["index"], running["total"]))

    extra = tmp_path / "usb"
    targets = (service.settings.targets[0], extra)
    service.settings = dataclasses.replace(service.settings, targets=targets)
    await asyncio.to_thread(service.run, None, progress)
    assert seen == [
        ("snapshot", 1, 6), ("media", 2, 6), ("channels", 3, 6), ("database", 4, 6),
        ("copying", 5, 6), ("verifying", 6, 6),
    ]  # fmt: skip
    assert service.status()["running"] is None
    assert str(extra) not in str(seen)  # the step names no folder
