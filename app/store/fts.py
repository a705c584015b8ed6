"""Full-text index upkeep: small merges at the end of every write batch, instead of FTS5's own.

FTS5 writes a new segment b-tree at every flush (each transaction, and each SAVEPOINT: every
writer job) and merges segments as they pile up. Its own merging ('automerge') does a slice of
work at a flush that grows with the number of levels (64 pages per level), and a level that
reaches 'crisismerge' segments is merged whole, at once: 25-50 ms inside one inbound message's
job on an 80 MB store, more on a bigger one, and the commit then writes it all
(docs/PERFORMANCE.md, issue 7). Migration 0006 turns automerge off for both indexes; the
writer calls :func:`tidy` once per batch, before COMMIT: a 'merge' that writes at most
:data:`MERGE_PAGES` pages per index and is a no-op (~30 µs) while no level holds 'usermerge'
(4) segments. 'crisismerge' (16) stays as the backstop for long bursts.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

FTS_TABLES = ("messages_fts", "contacts_fts")
MERGE_PAGES = 32  # ~128 KiB written per index per batch, ~3 ms at most (enough to keep up)
MERGE = "INSERT INTO {0}({0}, rank) VALUES ('merge', " + str(MERGE_PAGES) + ")"  # noqa: S608


class FtsUpkeep:
    """The writer's before-commit hook: one bounded merge per index, never failing the batch."""

    def __init__(self) -> None:
        self._failing = False

    def __call__(self, conn: Any) -> None:
        """Merge up to MERGE_PAGES pages per index in a savepoint of the batch's transaction.

        A failure rolls back only the merge (the batch commits without it) and is logged once;
        the next success is logged once too.
        """
        try:
            with conn.begin_nested():
                for table in FTS_TABLES:
                    conn.exec_driver_sql(MERGE.format(table))
        except Exception as exc:  # a damaged index must not stop inbound messages
            if not self._failing:
                self._failing = True
                log.warning("fts merge failed: %s", type(exc).__name__, extra={"code": "store.fts"})
            return
        if self._failing:
            self._failing = False
            log.info("fts merges work again", extra={"code": "store.fts"})
