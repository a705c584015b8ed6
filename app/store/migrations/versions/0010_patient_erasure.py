"""LGPD erasure: ``contacts.erased_at``, the ``erasures`` ledger, and FTS5 secure-delete.

With FTS5's ``secure-delete`` option a deleted row's tokens leave the index at once instead of
lingering in old segments until a merge; with the store's ``secure_delete`` pragma the freed
pages are zeroed. Together an erased message leaves no trace in the decrypted pages
(tests/integration/test_patient_erase.py scans them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLES = ("messages_fts", "contacts_fts")


def upgrade() -> None:
    op.execute("ALTER TABLE contacts ADD COLUMN erased_at BIGINT")
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["actor_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for table in FTS_TABLES:
        op.execute(f"INSERT INTO {table}({table}, rank) VALUES ('secure-delete', 1)")


def downgrade() -> None:
    for table in FTS_TABLES:
        op.execute(f"INSERT INTO {table}({table}, rank) VALUES ('secure-delete', 0)")
    op.drop_table("erasures")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("erased_at")
