"""Inbox order: tickets by status (and branch) in most-recent-activity order.

The inbox lists a status's tickets newest activity first. ``ix_tickets_inbox`` starts with
branch and has the queue before the time, so without a queue filter SQLite read every ticket of
the status and sorted them (21 ms for a super admin at 100,000 tickets, 3 ms for one branch).
These two walk the order directly (1.3-1.5 ms); docs/PERFORMANCE.md, issue 5.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 00:30:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ['status', 'last_activity_at', 'id']


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_status_activity', COLUMNS, unique=False)
        batch_op.create_index('ix_tickets_branch_activity', ['branch_id', *COLUMNS], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_branch_activity')
        batch_op.drop_index('ix_tickets_status_activity')
