"""The DB writer thread and the Store's async/sync entry points, on a real SQLCipher file.

"Ack after commit" is checked by looking from ANOTHER connection: inside a job the row must not
be visible yet, and when the future resolves it must be. No timing thresholds anywhere.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.store.db import create_database
from app.store.repositories import SqlTx
from app.store.store import Store
from app.store.writer import DbWriter

KEY = bytes(range(32))
GUARD_S = 30  # only a hang guard: never a pass/fail threshold


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_database(tmp_path / "writer.db", KEY)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def writer(engine: Engine) -> Iterator[DbWriter]:
    """A writer that is NOT started yet: tests queue a batch first, then start it."""
    writer = DbWriter(engine, lambda conn: conn, max_batch=64)
    yield writer
    writer.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    root = tmp_path / "data"
    root.mkdir()
    store = Store.create(DataDir(root), KEY)
    yield store
    store.close()


def _insert(name: str) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(text("INSERT INTO items (name) VALUES (:n)"), {"n": name})
        return name

    return work


def _names(engine: Engine) -> set[str]:
    """The committed item names, read on a separate pooled connection."""
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT name FROM items"))}


def _fail(conn: Connection) -> None:
    conn.execute(text("INSERT INTO items (name) VALUES ('doomed')"))
    raise ValueError("job failed on purpose")


def _results(futures: list[Future[Any]]) -> list[Any]:
    return [f.result(GUARD_S) for f in futures]


def test_rows_are_invisible_inside_the_job_and_visible_when_the_future_resolves(
    engine: Engine, writer: DbWriter
) -> None:
    inside: list[set[str]] = []
    at_ack: list[set[str]] = []

    def work(conn: Connection) -> None:
        _insert("a")(conn)
        inside.append(_names(engine))

    acked = threading.Event()

    def on_ack(_f: Future[None]) -> None:
        at_ack.append(_names(engine))  # runs right after the future resolves
        acked.set()

    future = writer.submit(work)
    future.add_done_callback(on_ack)
    writer.start()
    assert acked.wait(GUARD_S)
    assert inside == [set()]
    assert at_ack == [{"a"}]


def test_futures_of_a_batch_stay_pending_until_the_commit(writer: DbWriter) -> None:
    first = writer.submit(_insert("a"))
    seen: list[bool] = []
    second = writer.submit(lambda conn: seen.append(first.done()))
    writer.start()
    _results([first, second])
    assert seen == [False]


def test_a_failing_job_rolls_back_only_itself(engine: Engine, writer: DbWriter) -> None:
    futures: list[Future[Any]] = [
        writer.submit(_insert("a")),
        writer.submit(_fail),
        writer.submit(_insert("c")),
    ]
    writer.start()
    with pytest.raises(ValueError, match="on purpose"):
        futures[1].result(GUARD_S)
    assert [futures[0].result(GUARD_S), futures[2].result(GUARD_S)] == ["a", "c"]
    assert _names(engine) == {"a", "c"}


def test_a_constraint_error_rolls_back_only_that_job(engine: Engine, writer: DbWriter) -> None:
    futures = [writer.submit(_insert(name)) for name in ("a", "a", "b")]
    writer.start()
    with pytest.raises(IntegrityError):
        futures[1].result(GUARD_S)
    assert _names(engine) == {"a", "b"}


def test_a_failed_commit_fails_every_future_of_the_batch(engine: Engine, writer: DbWriter) -> None:
    orphan = "INSERT INTO child (parent_id) VALUES (999)"  # deferred FK: fails only at COMMIT
    futures = [writer.submit(_insert("a")), writer.submit(lambda c: c.exec_driver_sql(orphan))]
    writer.start()
    for future in futures:
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            future.result(GUARD_S)
    assert _names(engine) == set()


def test_a_lost_transaction_is_never_acknowledged(engine: Engine, writer: DbWriter) -> None:
    # A job that ends the transaction behind SQLAlchemy's back stands in for SQLite's
    # automatic rollback on disk-full / I/O errors.
    futures = [
        writer.submit(_insert("a")),
        writer.submit(lambda conn: conn.exec_driver_sql("ROLLBACK")),
        writer.submit(_insert("c")),
    ]
    writer.start()
    for future in futures:
        with pytest.raises(ClinicDeskError) as excinfo:
            future.result(GUARD_S)
        assert excinfo.value.code is ErrorCode.STORE_WRITE_FAILED
    assert _names(engine) == set()


def test_jobs_are_grouped_up_to_max_batch(engine: Engine) -> None:
    writer = DbWriter(engine, lambda conn: conn, max_batch=4)
    futures = [writer.submit(lambda conn: conn.get_transaction()) for _ in range(10)]
    writer.start()
    writer.stop()
    transactions = _results(futures)  # the objects themselves: ids could be reused
    distinct = [tx for i, tx in enumerate(transactions) if tx not in transactions[:i]]
    assert [sum(t is tx for t in transactions) for tx in distinct] == [4, 4, 2]


def test_the_before_commit_hook_runs_once_per_batch_after_its_jobs_in_its_transaction(
    engine: Engine,
) -> None:
    seen: list[tuple[Any, set[str]]] = []

    def hook(conn: Connection) -> None:
        names = {row[0] for row in conn.execute(text("SELECT name FROM items"))}
        seen.append((conn.get_transaction(), names))
        conn.execute(text("INSERT INTO items (name) VALUES (:n)"), {"n": f"hook{len(seen)}"})

    writer = DbWriter(engine, lambda conn: conn, max_batch=2, before_commit=hook)
    futures = [writer.submit(_insert(f"n{i}")) for i in range(3)]
    futures += [writer.submit(lambda conn: conn.get_transaction())]
    writer.start()
    writer.stop()
    last_batch_tx = futures[-1].result(GUARD_S)
    assert [names for _tx, names in seen] == [{"n0", "n1"}, {"n0", "n1", "hook1", "n2"}]
    assert seen[1][0] is last_batch_tx  # the hook ran inside the batch's own transaction
    assert _names(engine) == {"n0", "n1", "n2", "hook1", "hook2"}


def test_results_come_back(writer: DbWriter) -> None:
    writer.start()
    future = writer.submit(lambda conn: conn.execute(text("SELECT 40 + 2")).scalar())
    assert future.result(GUARD_S) == 42


def test_stop_drains_the_queue_then_refuses_new_work(engine: Engine, writer: DbWriter) -> None:
    futures = [writer.submit(_insert(f"n{i}")) for i in range(200)]
    writer.start()
    writer.stop()
    assert all(f.done() for f in futures)
    assert len(_names(engine)) == 200
    with pytest.raises(ClinicDeskError) as excinfo:
        writer.submit(_insert("late"))
    assert excinfo.value.code is ErrorCode.STORE_CLOSED
    writer.stop()  # idempotent


def test_stop_on_a_never_started_writer_still_drains(engine: Engine, writer: DbWriter) -> None:
    future = writer.submit(_insert("a"))
    writer.stop()
    assert future.result(GUARD_S) == "a"
    assert _names(engine) == {"a"}


def test_backlog_over_the_limit_is_refused(engine: Engine) -> None:
    writer = DbWriter(engine, lambda conn: conn, max_backlog=3)
    accepted = [writer.submit(_insert(name)) for name in "abc"]
    with pytest.raises(ClinicDeskError) as excinfo:
        writer.submit(_insert("d"))
    assert excinfo.value.code is ErrorCode.STORE_BUSY
    writer.stop()
    assert _results(accepted) == ["a", "b", "c"]


def test_a_cancelled_job_does_not_run(engine: Engine, writer: DbWriter) -> None:
    cancelled = writer.submit(_insert("cancelled"))
    kept = writer.submit(_insert("kept"))
    assert cancelled.cancel()
    writer.start()
    kept.result(GUARD_S)
    assert _names(engine) == {"kept"}


def test_many_threads_submitting_at_once_write_every_row(engine: Engine, writer: DbWriter) -> None:
    writer.start()

    def submit_many(thread_no: int) -> list[Future[str]]:
        return [writer.submit(_insert(f"t{thread_no}-{i}")) for i in range(150)]

    with ThreadPoolExecutor(8) as pool:
        futures = [f for batch in pool.map(submit_many, range(8)) for f in batch]
    assert len(set(_results(futures))) == 1200
    assert len(_names(engine)) == 1200


async def test_transaction_does_not_block_the_loop(store: Store) -> None:
    ticks = 0
    ticked_enough = threading.Event()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks >= 20:
                ticked_enough.set()
            await asyncio.sleep(0)

    def slow(tx: SqlTx) -> bool:
        # Blocks the writer thread until the loop has ticked: a blocked loop would never get there.
        return ticked_enough.wait(GUARD_S)

    task = asyncio.create_task(ticker())
    assert await store.transaction(slow) is True
    task.cancel()
    assert ticks >= 20


async def test_transactions_run_on_the_writer_thread(store: Store) -> None:
    ident = await store.transaction(lambda tx: threading.get_ident())
    assert ident == store.writer_thread_ident
    assert ident != threading.get_ident()


async def test_reads_run_on_reader_threads_not_the_loop(store: Store) -> None:
    names = await asyncio.gather(*(store.read(_thread_name) for _ in range(6)))
    assert all(name.startswith("clinicdesk-db-read") for name in names)
    assert threading.current_thread().name not in names


def _thread_name(tx: SqlTx) -> str:
    return threading.current_thread().name


async def test_a_read_never_commits(store: Store) -> None:
    await store.read(lambda tx: _insert_setting(tx, "from-read"))
    await store.transaction(lambda tx: _insert_setting(tx, "from-write"))
    keys = await store.read(lambda tx: tx.conn.execute(text("SELECT key FROM settings")).all())
    assert [tuple(k) for k in keys] == [("from-write",)]


def _insert_setting(tx: SqlTx, key: str) -> None:
    tx.conn.execute(
        text("INSERT INTO settings (branch_id, key, value, updated_at) VALUES (0, :k, '1', 0)"),
        {"k": key},
    )


def test_transaction_sync_returns_and_closed_store_refuses(store: Store) -> None:
    assert store.transaction_sync(lambda tx: isinstance(tx, SqlTx)) is True
    store.close()
    store.close()
    with pytest.raises(ClinicDeskError) as excinfo:
        store.transaction_sync(lambda tx: None)
    assert excinfo.value.code is ErrorCode.STORE_CLOSED
