"""Reminders may ask the patient to confirm ("Responda 1 para confirmar ou 2 para remarcar").

``ask_confirmation`` says the reminder asks; ``asked_ticket_id`` is the ticket its latest
occurrence went into; ``answer`` (confirmed / declined) and ``answered_at`` hold the patient's
reply to that occurrence (reset when the next one is sent). A partial index serves the inbound
pipeline's lookup of an unanswered question. Existing reminders ask nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "ask_confirmation BOOLEAN DEFAULT 0 NOT NULL",
    "asked_ticket_id INTEGER",
    "answer VARCHAR(10)",
    "answered_at BIGINT",
)


def upgrade() -> None:
    # SQLite adds columns in place; a batch rebuild of reminders is not needed for these.
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE reminders ADD COLUMN {column}")
    op.execute(
        "CREATE INDEX ix_reminders_awaiting ON reminders (contact_id, channel_id) "
        "WHERE ask_confirmation = 1 AND answer IS NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_reminders_awaiting", table_name="reminders")
    with op.batch_alter_table("reminders") as batch:
        for name in ("answered_at", "answer", "asked_ticket_id", "ask_confirmation"):
            batch.drop_column(name)
