"""Tickets remember who started them: null when the patient wrote first, else the staff member
who opened the conversation from the desk ("Nova conversa", POST /tickets).

Such a ticket gets no first-response time (nobody waited for the clinic), so the Painel's and
the reports' averages stay about patients. Existing tickets were all started by patients.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:10:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite adds a column with an inline REFERENCES in place (its default is NULL); Alembic's
    # add_column refuses any constraint on SQLite, and a batch rebuild of tickets (with its FTS
    # and foreign keys around it) is not worth it for one nullable column.
    op.execute("ALTER TABLE tickets ADD COLUMN started_by_id INTEGER REFERENCES users (id)")


def downgrade() -> None:
    # Dropping a column that has a foreign key needs a table rebuild in SQLite.
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("started_by_id")
