"""Tickets count the menus sent to the patient: the menu is repeated at most once.

Before, every message that was not a menu option got the whole menu again, on every message
of a burst and forever (docs/MESSAGING.md, "Route"). Existing tickets start at 0.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tickets",
        sa.Column("menu_prompts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops an unindexed column in place: no table rebuild under the FKs.
    op.execute("ALTER TABLE tickets DROP COLUMN menu_prompts")
