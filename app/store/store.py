"""The ``Store`` facade: the one object the rest of the core uses to reach the database.

Writes go through the single writer thread (:mod:`app.store.writer`) and are acknowledged only
after their COMMIT; reads run on two reader threads with their own pooled connections, inside a
read transaction that is always rolled back. Nothing here runs SQL on the asyncio loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.store import migrate as migrations
from app.store.checkpoint import INTERVAL_S, WRITER_PRAGMA, Checkpointer
from app.store.db import connect_like, create_database, open_database, verify_connection
from app.store.fts import FtsUpkeep
from app.store.repositories import SqlTx
from app.store.writer import DbWriter

T = TypeVar("T")

READER_THREADS = 2


class Store:
    """An open encrypted store (from :meth:`create` or :meth:`open`; end with :meth:`close`)."""

    def __init__(
        self, engine: Engine, data_dir: DataDir, *, checkpoint_every: float = INTERVAL_S
    ) -> None:
        """Wrap an engine that is already open and at the wanted revision (use the classmethods).

        The writer never checkpoints the WAL in a commit; a thread of the store does, every
        ``checkpoint_every`` seconds (:mod:`app.store.checkpoint`)."""
        self._engine = engine
        self._data_dir = data_dir
        self._writer = DbWriter(engine, SqlTx, setup=_writer_setup, before_commit=FtsUpkeep())
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="clinicdesk-db-read")
        self._checkpointer = Checkpointer(
            lambda: connect_like(engine, data_dir.db), checkpoint_every
        )
        self._closed = False
        self._writer.start()
        self._checkpointer.start()

    @classmethod
    def create(cls, data_dir: DataDir, key: bytes) -> Store:
        """Create a new encrypted database in ``data_dir`` at the head revision.

        Refuses (``DATA_DIR_ALREADY_INITIALISED``) if any file of the database set exists. If
        the schema cannot be created, the files this call made are removed again.
        """
        data_dir.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = create_database(data_dir.db, key)
        try:
            migrations.upgrade(engine, data_dir, keep_copy=False)
        except BaseException:
            engine.dispose()
            _remove_files(data_dir)
            raise
        return cls(engine, data_dir)

    @classmethod
    def open(cls, data_dir: DataDir, key: bytes, *, migrate: bool = True) -> Store:
        """Open the existing database in ``data_dir``; migrate it to head when ``migrate``.

        A database behind head is copied first (see :func:`app.store.migrate.upgrade`). A
        database at a revision this code does not know raises ``STORE_SCHEMA_TOO_NEW``, with or
        without ``migrate``, and is left unchanged.
        """
        engine = open_database(data_dir.db, key)
        try:
            migrations.check_not_too_new(engine)
            if migrate:
                migrations.upgrade(engine, data_dir)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, data_dir)

    @property
    def writer_thread_ident(self) -> int | None:
        """The writer thread's id (debug guards and tests compare thread identity)."""
        return self._writer.thread.ident

    async def transaction(self, work: Callable[[SqlTx], T]) -> T:
        """Run ``work`` on the writer thread; returns its result once it is committed."""
        return await asyncio.wrap_future(self._submit(work))

    def transaction_sync(self, work: Callable[[SqlTx], T]) -> T:
        """:meth:`transaction`, blocking (CLI commands without an event loop)."""
        return self._submit(work).result()

    async def read(self, work: Callable[[SqlTx], T]) -> T:
        """Run ``work`` on a reader thread inside a read transaction; it never commits."""
        self._check_open()
        return await asyncio.wrap_future(self._readers.submit(self._read_blocking, work))

    def read_sync(self, work: Callable[[SqlTx], T]) -> T:
        """:meth:`read`, blocking (still on a reader thread, so the same rules hold)."""
        self._check_open()
        return self._readers.submit(self._read_blocking, work).result()

    def dedicated_connection(self) -> Any:
        """A raw sqlcipher3 connection of its own (not from the pool, not the writer), keyed and
        set up like the store's; the caller closes it. For long reads such as a backup export,
        which must hold neither a reader thread nor the writer."""
        self._check_open()
        return connect_like(self._engine, self._data_dir.db)

    def info(self) -> dict[str, object]:
        """Cipher and journal settings, schema and head revision, and file sizes, for status."""
        facts: dict[str, object] = dict(self.read_sync(_connection_facts))
        facts["head_revision"] = migrations.head_revision()
        facts["db_size_bytes"] = _size(self._data_dir.db)
        facts["wal_size_bytes"] = _size(self._data_dir.db_set[1])
        return facts

    def close(self) -> None:
        """Write what is queued, stop the threads and close every connection. Safe to repeat."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        self._checkpointer.stop()
        self._readers.shutdown(wait=True)
        self._engine.dispose()

    def _submit(self, work: Callable[[SqlTx], T]) -> Future[T]:
        self._check_open()
        return self._writer.submit(work)

    def _read_blocking(self, work: Callable[[SqlTx], T]) -> T:
        # Rolled back, never committed: a read cannot leave writes behind by mistake.
        with self._engine.connect() as conn:
            conn.begin()
            try:
                return work(SqlTx(conn))
            finally:
                conn.rollback()

    def _check_open(self) -> None:
        if self._closed:
            raise ClinicDeskError(ErrorCode.STORE_CLOSED)


def _writer_setup(conn: Connection) -> None:
    conn.exec_driver_sql(WRITER_PRAGMA)  # the checkpointer thread does it, off the commit path
    conn.commit()  # end SQLAlchemy's autobegun transaction: each batch begins its own


def _connection_facts(tx: SqlTx) -> dict[str, object]:
    facts: dict[str, object] = dict(verify_connection(tx.conn))
    facts["schema_revision"] = migrations.revision_of(tx.conn)
    return facts


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except FileNotFoundError:  # the WAL file exists only while connections are open
        return 0


def _remove_files(data_dir: DataDir) -> None:
    for file in data_dir.db_set:
        file.unlink(missing_ok=True)
