"""Bad input to the store and keys: one clear line, non-zero exit, nothing changed."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.cli import init_installation, run_cli, tree_digest

pytestmark = pytest.mark.usefixtures("key_dir")


@pytest.fixture
def installed(tmp_path: Path, data_dir: Path) -> Path:
    return init_installation(tmp_path, data_dir)


def _one_line_failure(args: tuple[str | Path, ...], data_dir: Path, expected: str) -> None:
    before = tree_digest(data_dir)
    result = run_cli(*args)
    assert result.code == 1, result
    assert result.err.strip() == f"clinicdesk: error: {expected}"
    assert tree_digest(data_dir) == before


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("123", "a recovery key has 48 digits in 8 groups of 6; this one has 3"),
        (
            "000011-000022-000033-000044-000055-000066-000077-000089",
            "group 8 of the recovery key has a typo",
        ),
        (
            "000011-000022-000033-000044-000055-000066-000077-000088",
            "this recovery key does not belong to this installation",
        ),
    ],
)
def test_bad_recovery_keys_are_refused(
    installed: Path, data_dir: Path, key: str, expected: str
) -> None:
    _one_line_failure(
        ("recover", "--data-dir", data_dir, "--recovery-key", key), data_dir, expected
    )


def test_new_machine_needs_recovery_then_works(
    installed: Path, data_dir: Path, key_dir: Path
) -> None:
    shutil.rmtree(key_dir)  # the machine key is gone: new PC or reinstalled system
    before = tree_digest(data_dir)
    status = run_cli("status", "--data-dir", data_dir)
    assert status.code == 1
    assert "run 'clinicdesk recover'" in status.out
    assert tree_digest(data_dir) == before
    recovered = run_cli("recover", "--data-dir", data_dir, "--recovery-key-file", installed)
    assert recovered.code == 0
    assert run_cli("branch", "add", "--data-dir", data_dir, "--name", "Centro").code == 0


@pytest.mark.parametrize("damage", ["truncate", "delete", "garbage"])
def test_a_damaged_primary_keystore_falls_back_and_is_repaired(
    installed: Path, data_dir: Path, damage: str
) -> None:
    primary = data_dir / "keystore.json"
    good = primary.read_bytes()
    {"truncate": lambda: primary.write_bytes(good[:40]), "delete": primary.unlink,
     "garbage": lambda: primary.write_bytes(os.urandom(len(good)))}[damage]()  # fmt: skip
    assert run_cli("branch", "add", "--data-dir", data_dir, "--name", "Centro").code == 0
    assert primary.read_bytes() == (data_dir / "keystore.bak").read_bytes()


def test_both_keystores_corrupt_is_refused(installed: Path, data_dir: Path) -> None:
    for name in ("keystore.json", "keystore.bak"):
        (data_dir / name).write_text("{not json")
    _one_line_failure(
        ("branch", "list", "--data-dir", data_dir),
        data_dir,
        "keystore.json and keystore.bak are both damaged",
    )


def test_both_keystores_missing_is_refused(installed: Path, data_dir: Path) -> None:
    for name in ("keystore.json", "keystore.bak"):
        (data_dir / name).unlink()
    _one_line_failure(
        ("branch", "list", "--data-dir", data_dir),
        data_dir,
        "keystore.json and keystore.bak are both missing; use 'clinicdesk recover' only "
        "if you still have them from a backup",
    )


def test_a_missing_database_is_not_recreated(installed: Path, data_dir: Path) -> None:
    (data_dir / "clinicdesk.db").unlink()
    _one_line_failure(
        ("branch", "list", "--data-dir", data_dir),
        data_dir,
        "the keystore is present but clinicdesk.db is missing; restore it from a backup",
    )
    assert not (data_dir / "clinicdesk.db").exists()


def test_a_plaintext_database_is_refused(installed: Path, data_dir: Path) -> None:
    db = data_dir / "clinicdesk.db"
    db.unlink()
    sqlite3.connect(db).execute("create table t(x)").connection.close()
    _one_line_failure(
        ("branch", "list", "--data-dir", data_dir),
        data_dir,
        "clinicdesk.db is an unencrypted SQLite file; refusing to use it",
    )


def test_a_corrupt_database_is_refused(installed: Path, data_dir: Path) -> None:
    (data_dir / "clinicdesk.db").write_bytes(os.urandom(8192))
    _one_line_failure(
        ("branch", "list", "--data-dir", data_dir),
        data_dir,
        "clinicdesk.db cannot be opened with this key (damaged, or not this installation's)",
    )


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits; Windows relies on ACLs + DPAPI")
def test_readable_data_dir_is_refused_unless_flagged(installed: Path, data_dir: Path) -> None:
    data_dir.chmod(0o755)
    before = tree_digest(data_dir)
    refused = run_cli("branch", "list", "--data-dir", data_dir)
    allowed = run_cli("branch", "list", "--data-dir", data_dir, "--insecure-key-storage")
    status = run_cli("status", "--data-dir", data_dir)
    assert (refused.code, allowed.code) == (1, 0)
    assert "readable by other accounts (data_dir_readable_by_others)" in refused.err
    assert "Key storage: INSECURE: data_dir_readable_by_others" in status.out
    assert tree_digest(data_dir) == before


def test_status_and_commands_agree_on_an_uninitialised_dir(data_dir: Path) -> None:
    result = run_cli("branch", "list", "--data-dir", data_dir)
    assert result.code == 1
    assert "no ClinicDesk installation" in result.err
    assert not data_dir.exists()
