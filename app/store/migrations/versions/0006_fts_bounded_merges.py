"""Full-text indexes: FTS5's automatic merging off; the writer merges a little per batch.

FTS5's automerge and crisis merges ran inside single inbound messages' jobs (25-50 ms and more
on an 80 MB store). The writer now merges at most 32 pages per index before each COMMIT
(app/store/fts.py; docs/PERFORMANCE.md, issue 7). The setting lives in each index's
``_config`` table, so backups and restores carry it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 02:45:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('messages_fts', 'contacts_fts')
FTS5_DEFAULT_AUTOMERGE = 4


def _automerge(value: int) -> None:
    for table in TABLES:
        op.execute(f"INSERT INTO {table}({table}, rank) VALUES ('automerge', {value})")


def upgrade() -> None:
    _automerge(0)


def downgrade() -> None:
    _automerge(FTS5_DEFAULT_AUTOMERGE)
