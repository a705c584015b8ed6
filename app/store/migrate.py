"""Schema migrations (Alembic, no alembic.ini) with a copy of the database kept first.

The copy is made with SQLite's online backup API into a file keyed with the same raw key, so it
stays encrypted (STACK_NOTES §5). The upgrade runs in one transaction: SQLite DDL is
transactional, so a failed upgrade leaves the live database at its old revision.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import fsync_dir
from app.store.db import connect_like
from app.store.types import UtcDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave FTS5 virtual tables and their shadow tables (``*_fts*``) to hand-written migrations."""
    return not (type_ == "table" and name is not None and "_fts" in name)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render UtcDateTime as plain ``sa.BigInteger()``: a migration must not depend on app types."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.BigInteger()"
    return False


def alembic_config() -> Config:
    """An Alembic config pointing at this package's migrations (no ini file)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations directory has no revisions"
    return head


def known_revisions() -> set[str]:
    """Every revision id this code ships."""
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database, or None for a database never migrated."""
    with engine.connect() as conn:
        return revision_of(conn)


def revision_of(conn: Connection) -> str | None:
    """:func:`current_revision` on a connection the caller already holds."""
    return MigrationContext.configure(conn).get_current_revision()


def check_not_too_new(engine: Engine) -> str | None:
    """The current revision; ``STORE_SCHEMA_TOO_NEW`` if this code does not know it."""
    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise ClinicDeskError(
            ErrorCode.STORE_SCHEMA_TOO_NEW, revision=current, head=head_revision()
        )
    return current


def upgrade(engine: Engine, data_dir: DataDir, *, keep_copy: bool = True) -> dict[str, object]:
    """Bring the database to head; returns ``{"from", "to", "copy"}``.

    Nothing happens at head. Otherwise, when ``keep_copy``, the database is first copied into
    ``data_dir.migration_copies`` (also at base: such a file may hold data from before
    migrations existed; only :meth:`Store.create` skips the copy). Raises
    ``STORE_SCHEMA_TOO_NEW`` (nothing changed) or ``STORE_MIGRATION_FAILED`` (the live database
    stays at its old revision).
    """
    current, head = check_not_too_new(engine), head_revision()
    if current == head:
        return {"from": current, "to": head, "copy": None}
    step = {"from_revision": current or "base", "to_revision": head}  # error params
    copy = _keep_copy(engine, data_dir, step) if keep_copy else None
    _upgrade_in_one_transaction(engine, step)
    return {"from": current, "to": head, "copy": copy}


def run_alembic(engine: Engine, action: str, revision: str) -> None:
    """Run ``alembic <action> <revision>`` (upgrade/downgrade/stamp) in one transaction."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _upgrade_in_one_transaction(engine: Engine, step: dict[str, str]) -> None:
    try:
        run_alembic(engine, "upgrade", step["to_revision"])
    except Exception as err:
        raise ClinicDeskError(ErrorCode.STORE_MIGRATION_FAILED, **step) from err


def _keep_copy(engine: Engine, data_dir: DataDir, step: dict[str, str]) -> Path:
    """Copy the consistent database into a private file encrypted with the same key."""
    target = _copy_path(data_dir, step["from_revision"])
    try:
        _backup_into(engine, target)
    except Exception as err:
        target.unlink(missing_ok=True)
        raise ClinicDeskError(ErrorCode.STORE_MIGRATION_FAILED, **step, phase="copy") from err
    fsync_dir(target.parent)
    return target


def _copy_path(data_dir: DataDir, revision: str) -> Path:
    folder = data_dir.migration_copies
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "nt":
        folder.chmod(0o700)  # mkdir's mode is masked by the umask
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = folder / f"clinicdesk-{revision}-{stamp}.db"
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return target


def _backup_into(engine: Engine, target: Path) -> None:
    """SQLite online backup from a pooled (keyed) connection into ``target``, same key."""
    dest = connect_like(engine, target)
    try:
        source = engine.raw_connection()
        try:
            source.driver_connection.backup(dest)  # type: ignore[union-attr]
        finally:
            source.close()
    finally:
        dest.close()
