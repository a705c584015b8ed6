"""Reminders and campaigns: cron recurrence, campaign grouping, and list indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cron', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('campaign', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_reminders_campaign', ['campaign'], unique=False)
        batch_op.create_index('ix_reminders_list', ['branch_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_list')
        batch_op.drop_index('ix_reminders_campaign')
        batch_op.drop_column('campaign')
        batch_op.drop_column('cron')
