"""Alembic migrations of the encrypted store: schema equals metadata, copies stay encrypted."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.store import migrate
from app.store.db import PLAINTEXT_HEADER, open_database
from app.store.migrate import include_object
from app.store.schema import metadata
from app.store.store import Store

KEY = bytes(range(32))


@pytest.fixture
def store_dir(tmp_path: Path) -> DataDir:
    root = tmp_path / "data"
    root.mkdir()
    return DataDir(root)


@pytest.fixture
def at_base(store_dir: DataDir) -> DataDir:
    """A closed store taken back to base, holding one canary table from "before migrations"."""
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine:
        migrate.run_alembic(engine, "downgrade", "base")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE canary (v TEXT)")
            conn.exec_driver_sql("INSERT INTO canary VALUES ('old data')")
    return store_dir


@pytest.fixture
def too_new(store_dir: DataDir) -> DataDir:
    """A closed store stamped with a revision this code does not know."""
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine, engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    return store_dir


@contextlib.contextmanager
def _opened(data_dir: DataDir, path: Path | None = None) -> Iterator[Engine]:
    """The raw engine on the store (or on ``path``), disposed on exit."""
    engine = open_database(path or data_dir.db, KEY)
    try:
        yield engine
    finally:
        engine.dispose()


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    files = (p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        # FTS5 virtual tables and their shadow tables are made by hand in migration 0002
        return {t for t in inspect(conn).get_table_names() if "_fts" not in t}


def _canary(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT v FROM canary"))]


def test_head_is_a_short_readable_id() -> None:
    assert migrate.head_revision() == "0010"


def test_fts_indexes_accent_insensitively(store_dir: DataDir) -> None:
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine, engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO branches(name, timezone, created_at) VALUES ('B', 'x', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO contacts(branch_id, display_name, created_at, updated_at) "
            "VALUES (1, 'João Conceição', 0, 0)"
        )
        found = conn.exec_driver_sql(
            "SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH 'conceicao'"
        ).all()
    assert found == [(1,)]


def test_fresh_store_is_at_head_and_matches_the_metadata(store_dir: DataDir) -> None:
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine, engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        diffs = compare_metadata(context, metadata)
        revision = context.get_current_revision()
    assert diffs == []
    assert revision == migrate.head_revision()


def test_fresh_store_has_every_table_and_no_migration_copy(store_dir: DataDir) -> None:
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine:
        assert _tables(engine) == set(metadata.tables) | {"alembic_version"}
    assert not store_dir.migration_copies.exists()


def test_upgrade_at_head_does_nothing(store_dir: DataDir) -> None:
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine:
        result = migrate.upgrade(engine, store_dir)
    head = migrate.head_revision()
    assert result == {"from": head, "to": head, "copy": None}
    assert not store_dir.migration_copies.exists()


def test_open_migrates_an_older_store_to_head(at_base: DataDir) -> None:
    Store.open(at_base, KEY).close()
    with _opened(at_base) as engine:
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert set(metadata.tables) <= _tables(engine)
        assert _canary(engine) == ["old data"]


def test_the_pre_migration_copy_is_encrypted_and_opens_with_the_same_key(at_base: DataDir) -> None:
    Store.open(at_base, KEY).close()
    copies = list(at_base.migration_copies.iterdir())
    assert [c.name.startswith("clinicdesk-base-") for c in copies] == [True]
    assert copies[0].read_bytes()[:16] != PLAINTEXT_HEADER
    with _opened(at_base, copies[0]) as engine:
        assert migrate.current_revision(engine) is None  # the state from before the upgrade
        assert _canary(engine) == ["old data"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_the_pre_migration_copy_is_private(at_base: DataDir) -> None:
    Store.open(at_base, KEY).close()
    (copy,) = at_base.migration_copies.iterdir()
    assert at_base.migration_copies.stat().st_mode & 0o777 == 0o700
    assert copy.stat().st_mode & 0o777 == 0o600


def test_open_without_migrate_leaves_an_older_store_alone(at_base: DataDir) -> None:
    store = Store.open(at_base, KEY, migrate=False)
    info = store.info()
    store.close()
    assert info["schema_revision"] is None
    assert not at_base.migration_copies.exists()


@pytest.mark.parametrize("do_migrate", [True, False])
def test_an_unknown_newer_revision_is_refused_and_unchanged(
    too_new: DataDir, do_migrate: bool
) -> None:
    before = _tree(too_new.root)
    with pytest.raises(ClinicDeskError) as excinfo:
        Store.open(too_new, KEY, migrate=do_migrate)
    assert excinfo.value.code is ErrorCode.STORE_SCHEMA_TOO_NEW
    assert _tree(too_new.root) == before


def test_a_failed_upgrade_leaves_the_old_revision_in_place(at_base: DataDir) -> None:
    # A table in the way makes 0001's CREATE TABLE fail after earlier tables were created.
    with _opened(at_base) as engine, engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE outbox (x)")
    with pytest.raises(ClinicDeskError) as excinfo:
        Store.open(at_base, KEY)
    assert excinfo.value.code is ErrorCode.STORE_MIGRATION_FAILED
    assert excinfo.value.params == {"from_revision": "base", "to_revision": "0010"}
    with _opened(at_base) as engine:
        assert migrate.current_revision(engine) is None
        # alembic_version was already there (emptied by the downgrade); the tables 0001 created
        # before the failing one were rolled back with it.
        assert _tables(engine) == {"alembic_version", "canary", "outbox"}


@pytest.fixture
def migrated_twice(at_base: DataDir) -> Iterator[DataDir]:
    Store.open(at_base, KEY).close()
    with _opened(at_base) as engine:
        migrate.run_alembic(engine, "downgrade", "base")
    Store.open(at_base, KEY).close()
    yield at_base


def test_each_migration_keeps_its_own_copy(migrated_twice: DataDir) -> None:
    assert len(list(migrated_twice.migration_copies.iterdir())) == 2


def test_upgrade_from_0001_keeps_rows_and_indexes_them(store_dir: DataDir) -> None:
    Store.create(store_dir, KEY).close()
    with _opened(store_dir) as engine:
        migrate.run_alembic(engine, "downgrade", "0001")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO branches(name, timezone, created_at) VALUES ('B', 'x', 0)"
            )
            conn.exec_driver_sql(
                "INSERT INTO contacts(branch_id, display_name, created_at, updated_at) "
                "VALUES (1, 'Antônia', 0, 0)"
            )
    Store.open(store_dir, KEY).close()
    with _opened(store_dir) as engine, engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT display_name, opted_out_at FROM contacts").all()
        found = conn.exec_driver_sql(
            "SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH 'antonia'"
        ).all()
    assert names == [("Antônia", None)]
    assert found == [(1,)]
    assert len(list(store_dir.migration_copies.iterdir())) == 1
