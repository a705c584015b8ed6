"""The full-text indexes merge in small steps at the end of each write batch (app/store/fts.py,
migration 0006), on a real SQLCipher store: FTS5's own automerge is off, many one-row
transactions leave few segments and a whole index, and a failing merge never fails a batch."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import DataDir
from app.store import store as store_module
from app.store.fts import FTS_TABLES
from app.store.schema import FTS_DDL
from app.store.store import Store

KEY = bytes(range(32))
ROWS = 300


def _open(tmp_path: Path) -> Store:
    root = tmp_path / "data"
    root.mkdir(parents=True)
    return Store.create(DataDir(root), KEY)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = _open(tmp_path)
    yield store
    store.close()


def _branch(store: Store) -> int:
    sql = "INSERT INTO branches(name, timezone, created_at) VALUES ('B', 'x', 0) RETURNING id"
    return int(store.transaction_sync(lambda tx: tx.conn.exec_driver_sql(sql).scalar()))


def _contacts_one_per_transaction(store: Store, count: int) -> None:
    branch = _branch(store)
    sql = (
        "INSERT INTO contacts(branch_id, display_name, created_at, updated_at) VALUES (?, ?, 0, 0)"
    )
    for i in range(count):
        name = f"Paciente {i} Zeta"
        store.transaction_sync(lambda tx, n=name: tx.conn.exec_driver_sql(sql, (branch, n)))


def _scalar(store: Store, sql: str) -> int:
    return int(store.read_sync(lambda tx: tx.conn.exec_driver_sql(sql).scalar()))


def _segments(store: Store) -> int:
    return _scalar(store, "SELECT count(DISTINCT segid) FROM contacts_fts_idx")


def test_a_new_store_has_fts5_automerge_off_on_both_indexes(store: Store) -> None:
    for table in FTS_TABLES:
        assert _scalar(store, f"SELECT v FROM {table}_config WHERE k = 'automerge'") == 0


def test_one_row_transactions_leave_a_small_whole_index(store: Store, tmp_path: Path) -> None:
    _contacts_one_per_transaction(store, ROWS)
    store.transaction_sync(
        lambda tx: tx.conn.exec_driver_sql(
            "INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('integrity-check', 1)"
        )
    )
    assert (
        _scalar(store, "SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH 'zeta'") == ROWS
    )
    merged = _segments(store)
    with pytest.MonkeyPatch.context() as patch:  # the same rows without the batch-end merges
        patch.setattr(store_module, "FtsUpkeep", lambda: lambda _conn: None)
        unmerged_store = _open(tmp_path / "unmerged")
    try:
        _contacts_one_per_transaction(unmerged_store, ROWS)
        unmerged = _segments(unmerged_store)
    finally:
        unmerged_store.close()
    assert merged <= 4 < unmerged  # FTS5's crisis merges alone let levels fill to 15


def test_a_failing_merge_is_logged_once_and_never_fails_the_batch(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.store.fts")
    store.transaction_sync(lambda tx: tx.conn.exec_driver_sql("CREATE TABLE probe (v TEXT)"))
    store.transaction_sync(lambda tx: tx.conn.exec_driver_sql("DROP TABLE contacts_fts"))
    for value in ("a", "b"):
        store.transaction_sync(
            lambda tx, v=value: tx.conn.exec_driver_sql("INSERT INTO probe VALUES (?)", (v,))
        )
    create = next(ddl for ddl in FTS_DDL if ddl.startswith("CREATE VIRTUAL TABLE contacts_fts"))
    store.transaction_sync(lambda tx: tx.conn.exec_driver_sql(create))
    store.transaction_sync(lambda tx: tx.conn.exec_driver_sql("INSERT INTO probe VALUES ('c')"))
    assert _scalar(store, "SELECT count(*) FROM probe") == 3
    messages = [r.getMessage() for r in caplog.records if r.name == "app.store.fts"]
    assert messages == ["fts merge failed: OperationalError", "fts merges work again"]
