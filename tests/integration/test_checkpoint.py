"""WAL checkpoints run on the store's checkpoint thread, never inside the writer's commits.

On a real SQLCipher store: the writer's connection has the automatic checkpoint off, many
commits never move a page into the database file by themselves, and the checkpoint thread
does. A failing checkpoint is logged once and its recovery once. No timing thresholds.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from app.config import DataDir
from app.store import migrate
from app.store.checkpoint import Checkpointer
from app.store.db import create_database
from app.store.repositories import SqlTx
from app.store.store import Store

KEY = bytes(range(32))
GUARD_S = 30  # only a hang guard


def _store(tmp_path: Path, every: float) -> Store:
    root = tmp_path / "data"
    root.mkdir()
    data_dir = DataDir(root)
    engine = create_database(data_dir.db, KEY)
    migrate.upgrade(engine, data_dir, keep_copy=False)
    return Store(engine, data_dir, checkpoint_every=every)


def _write_pages(store: Store, rounds: int) -> None:
    def work(tx: SqlTx) -> None:
        tx.conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
        tx.conn.exec_driver_sql("INSERT INTO filler VALUES (randomblob(64000))")

    for _ in range(rounds):  # 16 pages a commit: past SQLite's 1,000-page automatic checkpoint
        store.transaction_sync(work)


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_commits_leave_checkpoints_to_the_checkpoint_thread(tmp_path: Path) -> None:
    store = _store(tmp_path, every=3600.0)  # the thread does not run during the writes
    try:
        mode = store.transaction_sync(
            lambda tx: tx.conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        )
        size_before = store._data_dir.db.stat().st_size
        _write_pages(store, 100)
        # 1,600 pages were committed, none was copied to the database file by a commit
        assert store._data_dir.db.stat().st_size == size_before
    finally:
        store.close()
    assert mode == 0


def test_the_checkpoint_thread_moves_the_pages(tmp_path: Path) -> None:
    store = _store(tmp_path, every=0.02)
    try:
        size_before = store._data_dir.db.stat().st_size
        _write_pages(store, 100)
        checkpoints = store._checkpointer.completed
        _wait(lambda: store._checkpointer.completed >= checkpoints + 2, "two checkpoints")
        assert store._data_dir.db.stat().st_size > size_before + 100 * 64000
        count = store.read_sync(
            lambda tx: tx.conn.exec_driver_sql("SELECT count(*) FROM filler").scalar()
        )
    finally:
        store.close()
    assert count == 100


class FlakyConnection:
    def __init__(self, failures: list[bool]) -> None:
        self.failures = failures

    def execute(self, _sql: str) -> Any:
        if self.failures and self.failures.pop(0):
            raise OSError("disk")
        return self

    def fetchall(self) -> list[Any]:
        return [(0, 0, 0)]

    def close(self) -> None:
        pass


def test_a_failing_checkpoint_is_logged_once_and_its_recovery_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes = [True, True, True, False, False]
    checkpointer = Checkpointer(lambda: FlakyConnection(outcomes), interval=0.001)
    with caplog.at_level(logging.INFO, logger="app.store.checkpoint"):
        checkpointer.start()
        _wait(lambda: checkpointer.completed >= 2, "two good checkpoints")
        checkpointer.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["wal checkpoint failed: OSError", "wal checkpoints work again"]
