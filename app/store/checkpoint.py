"""WAL checkpoints off the writer's path.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages: that
one commit copies every page back into the database file and fsyncs it (``synchronous=FULL``).
On the single writer this stalled one inbound message for 120-150 ms on an 80 MB store
(docs/PERFORMANCE.md, issue 7), and everything queued behind it waited as well.

So the writer's connection turns the automatic checkpoint off (:data:`WRITER_PRAGMA`) and this
thread runs a PASSIVE checkpoint on a connection of its own every ``interval`` seconds. PASSIVE
never waits for readers or the writer and takes no lock they need: it copies what no open read
transaction still needs. While a backup export holds its long read, the WAL grows, as before;
the next checkpoint after it catches up.

Every 0.25 s, not every second: a checkpoint still fsyncs the database file, and the writer's
own commit fsync (of the WAL) queues behind it on the disk. A second's worth of pages under
steady inbound traffic took 55-70 ms to sync and held one commit as long; a quarter of it, a
few ms. A checkpoint with nothing to copy costs nothing (no sync). Closing the store's last
connection checkpoints the rest (SQLite does that itself), so a stopped engine leaves no long
WAL behind.

A failing checkpoint is logged once, and its recovery once; the thread keeps trying.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

WRITER_PRAGMA = "PRAGMA wal_autocheckpoint = 0"
CHECKPOINT_SQL = "PRAGMA wal_checkpoint(PASSIVE)"
INTERVAL_S = 0.25


class Checkpointer:
    """A daemon thread running PASSIVE checkpoints on its own connection (see module doc)."""

    def __init__(self, connect: Callable[[], Any], interval: float = INTERVAL_S) -> None:
        self._connect, self._interval = connect, interval
        self._stopping = threading.Event()
        self._failing = False
        self._thread = threading.Thread(
            target=self._run, name="clinicdesk-db-checkpoint", daemon=True
        )
        self.completed = 0  # checkpoints that ran (tests wait on it)

    def start(self) -> None:
        """Start the thread; the first checkpoint runs after one interval."""
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """End the thread and close its connection. Safe to call twice or before start."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        conn: Any = None
        try:
            while not self._stopping.wait(self._interval):
                conn = self._checkpoint(conn)
        finally:
            if conn is not None:
                conn.close()

    def _checkpoint(self, conn: Any) -> Any:
        """One PASSIVE checkpoint; returns the connection to use next time (None: reconnect)."""
        try:
            conn = conn if conn is not None else self._connect()
            conn.execute(CHECKPOINT_SQL).fetchall()
        except Exception as exc:  # the store may be failing; the writer reports its own errors
            self._failed(type(exc).__name__)
            if conn is not None:
                conn.close()
            return None
        if self._failing:
            self._failing = False
            log.info("wal checkpoints work again", extra={"code": "store.checkpoint"})
        self.completed += 1
        return conn

    def _failed(self, reason: str) -> None:
        if not self._failing:
            self._failing = True
            log.warning("wal checkpoint failed: %s", reason, extra={"code": "store.checkpoint"})
