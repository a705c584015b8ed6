"""The DB writer: one thread owns every write to the store (Home Assistant recorder style).

Callers hand in a function through :meth:`DbWriter.submit` and get a future. The thread takes up
to ``max_batch`` queued jobs, runs them in ONE transaction (each job inside its own SAVEPOINT, so
a failing job undoes only itself), runs the optional ``before_commit`` hook in the same
transaction (the store's: small full-text index merges, app/store/fts.py), commits, and only
then resolves the futures: a result or an acknowledgement is never given for work that is not
durable (RELIABILITY_SECURITY §3).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from app.domain.errors import ClinicDeskError, ErrorCode

T = TypeVar("T")

_LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    """One unit of work and the future that receives its result after the commit."""

    work: Callable[[Any], Any]
    future: Future[Any]


@dataclass(slots=True)
class _Stop:
    """Queued last by :meth:`DbWriter.stop`: everything before it is still written."""


@dataclass(slots=True)
class _Outcome:
    """How one job ended inside the batch, kept until the batch commits."""

    job: _Job
    result: Any = None
    error: BaseException | None = field(default=None)


class DbWriter:
    """A single writer thread fed through a queue of typed items."""

    def __init__(
        self,
        engine: Engine,
        tx_factory: Callable[[Connection], Any],
        *,
        max_batch: int = 64,
        max_backlog: int = 100_000,
        setup: Callable[[Connection], None] | None = None,
        before_commit: Callable[[Connection], None] | None = None,
    ) -> None:
        self._engine = engine
        self._setup = setup  # run once on the writer's connection before the first job
        self._before_commit = before_commit  # run in every batch's transaction, after its jobs
        self._tx_factory = tx_factory
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._queue: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        # Guards "closed" against a concurrent submit, so no job lands after the _Stop marker.
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="clinicdesk-db-writer", daemon=True)

    @property
    def thread(self) -> threading.Thread:
        """The writer thread (tests and debug guards compare thread identity)."""
        return self._thread

    def start(self) -> None:
        """Start the writer thread; jobs submitted earlier wait in the queue until then."""
        self._thread.start()

    def submit(self, work: Callable[[Any], T]) -> Future[T]:
        """Queue ``work``; its future resolves only after the transaction that ran it commits.

        ``work`` receives ``tx_factory(conn)``. Raises ``STORE_CLOSED`` after :meth:`stop` and
        ``STORE_BUSY`` when more than ``max_backlog`` jobs are waiting.
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise ClinicDeskError(ErrorCode.STORE_CLOSED)
            if self._queue.qsize() >= self._max_backlog:
                raise ClinicDeskError(ErrorCode.STORE_BUSY, backlog=self._max_backlog)
            self._queue.put(_Job(work, future))
        return future

    def stop(self, timeout: float = 10) -> None:
        """Write everything already queued, then end the thread. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_Stop())
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()  # never started: start it so the queue still drains
        self._thread.join(timeout)
        if self._thread.is_alive():
            _LOG.warning("db writer still busy after %.1f s; left to finish", timeout)

    def _run(self) -> None:
        try:
            self._serve()
        except Exception:  # e.g. the connection could not be made: fail, never hang, callers
            _LOG.exception("db writer stopped")
            self._fail_pending()

    def _fail_pending(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(ClinicDeskError(ErrorCode.STORE_WRITE_FAILED))

    def _serve(self) -> None:
        with self._engine.connect() as conn:
            if self._setup is not None:
                self._setup(conn)
            stopping = False
            while not stopping:
                jobs, stopping = self._next_batch()
                if jobs:
                    self._write_batch(conn, jobs)

    def _next_batch(self) -> tuple[list[_Job], bool]:
        """Block for one item, then take what else is waiting, up to ``max_batch`` jobs."""
        items = [self._queue.get()]
        while len(items) < self._max_batch and not isinstance(items[-1], _Stop):
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        jobs = [item for item in items if isinstance(item, _Job)]
        return jobs, isinstance(items[-1], _Stop)

    def _write_batch(self, conn: Connection, jobs: list[_Job]) -> None:
        """Run the jobs in one transaction; resolve their futures only after COMMIT."""
        live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
        try:
            with conn.begin():
                outcomes = [self._run_job(conn, job) for job in live]
                if self._before_commit is not None:
                    _require_open_transaction(conn)
                    self._before_commit(conn)
        except Exception as err:  # the COMMIT (or the transaction) failed: nothing is durable
            _LOG.warning("db write batch of %d failed: %s", len(live), type(err).__name__)
            for job in live:
                job.future.set_exception(err)
            return
        for outcome in outcomes:
            _resolve(outcome)

    def _run_job(self, conn: Connection, job: _Job) -> _Outcome:
        """Run one job inside its own SAVEPOINT; an error rolls back only that savepoint."""
        _require_open_transaction(conn)
        try:
            with conn.begin_nested():
                return _Outcome(job, result=job.work(self._tx_factory(conn)))
        except Exception as err:
            return _Outcome(job, error=err)


def _require_open_transaction(conn: Connection) -> None:
    # SQLite rolls the whole transaction back on some errors (disk full, I/O). A SAVEPOINT
    # issued after that would start and commit a transaction of its own, outside the batch.
    # Failing here fails the whole batch instead.
    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        raise ClinicDeskError(ErrorCode.STORE_WRITE_FAILED, reason="transaction_lost")


def _resolve(outcome: _Outcome) -> None:
    if outcome.error is not None:
        outcome.job.future.set_exception(outcome.error)
    else:
        outcome.job.future.set_result(outcome.result)
