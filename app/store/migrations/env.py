"""Alembic environment for the encrypted store.

Runs only on a connection handed in by ``app.store.migrate`` (``config.attributes["connection"]``):
the key never goes through an alembic.ini or a URL, and the caller owns the transaction, so the
whole upgrade commits or rolls back as one.
"""

from __future__ import annotations

from alembic import context

from app.store.migrate import include_object, render_item
from app.store.schema import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    """Run the migrations on the caller's keyed connection, inside the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through app.store.migrate (a keyed connection is needed)"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copy-and-move
        include_object=include_object,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
