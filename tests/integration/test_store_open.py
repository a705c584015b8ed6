"""Opening and creating the encrypted store on real SQLCipher files: refusals change no byte."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.store.db import PLAINTEXT_HEADER, create_database, open_database, verify_connection
from app.store.repositories import SqlTx
from app.store.store import Store

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


@pytest.fixture
def store_dir(tmp_path: Path) -> DataDir:
    root = tmp_path / "data"
    root.mkdir()
    return DataDir(root)


@pytest.fixture
def created(store_dir: DataDir) -> Iterator[DataDir]:
    """A data directory holding a closed, created store with one settings row."""
    store = Store.create(store_dir, KEY)
    store.transaction_sync(_insert_setting)
    store.close()
    yield store_dir


def _insert_setting(tx: SqlTx) -> None:
    tx.conn.execute(
        text("INSERT INTO settings (branch_id, key, value, updated_at) VALUES (0, 'k', '1', 0)")
    )


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` with the SHA-256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _error_code(excinfo: pytest.ExceptionInfo[ClinicDeskError]) -> ErrorCode:
    return excinfo.value.code


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_create_close_open_keeps_the_data(created: DataDir) -> None:
    store = Store.open(created, KEY)
    rows = store.read_sync(lambda tx: tx.conn.execute(text("SELECT key FROM settings")).all())
    store.close()
    assert [tuple(r) for r in rows] == [("k",)]


def test_open_missing_raises_and_creates_nothing(store_dir: DataDir) -> None:
    with pytest.raises(ClinicDeskError) as excinfo:
        open_database(store_dir.db, KEY)
    assert _error_code(excinfo) is ErrorCode.STORE_MISSING
    assert list(store_dir.root.iterdir()) == []


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_create_refuses_an_existing_file_of_the_set(store_dir: DataDir, suffix: str) -> None:
    existing = store_dir.root / f"clinicdesk.db{suffix}"
    existing.write_bytes(b"precious bytes")
    before = _snapshot(store_dir.root)
    with pytest.raises(ClinicDeskError) as excinfo:
        create_database(store_dir.db, KEY)
    assert _error_code(excinfo) is ErrorCode.DATA_DIR_ALREADY_INITIALISED
    assert _snapshot(store_dir.root) == before


def test_store_create_refuses_an_existing_store(created: DataDir) -> None:
    before = _snapshot(created.root)
    with pytest.raises(ClinicDeskError) as excinfo:
        Store.create(created, KEY)
    assert _error_code(excinfo) is ErrorCode.DATA_DIR_ALREADY_INITIALISED
    assert _snapshot(created.root) == before


def test_wrong_key_raises_and_changes_nothing(created: DataDir) -> None:
    before = _snapshot(created.root)
    with pytest.raises(ClinicDeskError) as excinfo:
        Store.open(created, OTHER_KEY)
    assert _error_code(excinfo) is ErrorCode.STORE_WRONG_KEY
    assert _snapshot(created.root) == before


def test_plaintext_sqlite_file_is_refused_unchanged(store_dir: DataDir) -> None:
    with sqlite3.connect(store_dir.db) as plain:
        plain.execute("CREATE TABLE t (a)")
    plain.close()
    before = _snapshot(store_dir.root)
    with pytest.raises(ClinicDeskError) as excinfo:
        open_database(store_dir.db, KEY)
    assert _error_code(excinfo) is ErrorCode.STORE_NOT_ENCRYPTED
    assert _snapshot(store_dir.root) == before


@pytest.mark.parametrize(
    "content", [os.urandom(8192), b"", b"short"], ids=["random", "empty", "short"]
)
def test_not_a_database_is_refused_unchanged(store_dir: DataDir, content: bytes) -> None:
    store_dir.db.write_bytes(content)
    before = _snapshot(store_dir.root)
    with pytest.raises(ClinicDeskError) as excinfo:
        open_database(store_dir.db, KEY)
    assert _error_code(excinfo) is ErrorCode.STORE_WRONG_KEY
    assert _snapshot(store_dir.root) == before


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33)])
def test_a_key_that_is_not_32_bytes_is_refused(store_dir: DataDir, key: bytes) -> None:
    with pytest.raises(ClinicDeskError) as excinfo:
        create_database(store_dir.db, key)
    assert _error_code(excinfo) is ErrorCode.INVALID_INPUT
    assert list(store_dir.root.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("journal_mode", "wal"),
        ("foreign_keys", 1),
        ("secure_delete", 1),
        ("synchronous", 2),
        ("temp_store", 2),
        ("cipher_memory_security", "0"),  # explicitly off: DECISIONS.md #22
        ("busy_timeout", 5000),
    ],
)
def test_pragmas_read_back_as_set(created: DataDir, name: str, expected: object) -> None:
    engine = open_database(created.db, KEY)
    try:
        assert _pragma(engine, name) == expected
    finally:
        engine.dispose()


def test_verify_connection_reports_sqlcipher(created: DataDir) -> None:
    engine = open_database(created.db, KEY)
    with engine.connect() as conn:
        info = verify_connection(conn)
    engine.dispose()
    assert info["cipher_version"]
    assert info["cipher_memory_security"] == "0"
    assert info["journal_mode"] == "wal"


def test_file_is_encrypted_and_stdlib_sqlite_cannot_read_it(created: DataDir) -> None:
    assert created.db.read_bytes()[:16] != PLAINTEXT_HEADER
    plain = sqlite3.connect(created.db)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT count(*) FROM sqlite_master").fetchall()
    plain.close()


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_store_files_are_private(store_dir: DataDir) -> None:
    store = Store.create(store_dir, KEY)
    modes = {p.name: p.stat().st_mode & 0o777 for p in store_dir.root.iterdir()}
    store.close()
    assert set(modes.values()) == {0o600}
    assert "clinicdesk.db-wal" in modes


def test_uri_characters_in_the_path_open_the_right_file(tmp_path: Path) -> None:
    root = tmp_path / "odd?dir#name %41"
    root.mkdir()
    store = Store.create(DataDir(root), KEY)
    store.close()
    assert (root / "clinicdesk.db").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [root.name]


def test_info_reports_cipher_and_revisions(store_dir: DataDir) -> None:
    store = Store.create(store_dir, KEY)
    info = store.info()
    store.close()
    assert info["cipher_version"]
    assert info["journal_mode"] == "wal"
    assert info["schema_revision"] == info["head_revision"]
    assert isinstance(info["db_size_bytes"], int)
