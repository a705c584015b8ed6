"""The ``clinicdesk`` command line against real files, in subprocesses (no engine running)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from app import __version__
from app.security.recovery_key import parse
from tests.helpers.cli import PASSWORD, init_installation, run_cli, tree_digest

pytestmark = pytest.mark.usefixtures("key_dir")


@pytest.fixture
def installed(tmp_path: Path, data_dir: Path) -> Path:
    """An initialised data directory; returns the recovery key file."""
    return init_installation(tmp_path, data_dir)


@pytest.fixture
def pw_file(tmp_path: Path) -> Path:
    path = tmp_path / "pw.txt"
    path.write_text(PASSWORD + "\n")
    return path


def test_version_prints_the_package_version() -> None:
    result = run_cli("--version")
    assert (result.code, result.out.strip()) == (0, f"clinicdesk {__version__}")


def test_init_creates_private_encrypted_store_and_recovery_key(
    installed: Path, data_dir: Path
) -> None:
    assert parse(installed.read_text()).raw  # a valid 48-digit key
    assert stat.S_IMODE(installed.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert not (data_dir / "clinicdesk.db").read_bytes().startswith(b"SQLite format 3\0")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(data_dir / "clinicdesk.db").execute("select * from sqlite_master")


def test_init_without_key_file_shows_the_key_once(
    tmp_path: Path, data_dir: Path, pw_file: Path
) -> None:
    args = ("init", "--data-dir", data_dir, "--admin-user", "root", "--admin-password-file")
    result = run_cli(*args, pw_file)
    key_line = next(ln for ln in result.out.splitlines() if ln.startswith("    "))
    assert result.code == 0
    assert parse(key_line).raw


def test_init_refuses_an_existing_installation_and_changes_nothing(
    installed: Path, data_dir: Path, pw_file: Path
) -> None:
    before = tree_digest(data_dir)
    args = ("init", "--data-dir", data_dir, "--admin-user", "x1", "--admin-password-file")
    result = run_cli(*args, pw_file)
    assert result.code == 1
    assert "already holds a ClinicDesk installation" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert tree_digest(data_dir) == before


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "password too short"), ("", "password too short")],
)
def test_init_with_a_bad_password_creates_nothing(
    tmp_path: Path, data_dir: Path, password: str, message: str
) -> None:
    pw = tmp_path / "bad.txt"
    pw.write_text(password)
    result = run_cli(
        "init", "--data-dir", data_dir, "--admin-user", "root", "--admin-password-file", pw
    )
    assert (result.code, message in result.err) == (1, True)
    assert not data_dir.exists()


def test_init_refuses_an_existing_recovery_key_file(
    tmp_path: Path, data_dir: Path, pw_file: Path
) -> None:
    rk = tmp_path / "rk.txt"
    rk.write_text("keep me")
    args = (
        "init",
        "--data-dir",
        data_dir,
        "--admin-user",
        "root",
        "--admin-password-file",
        pw_file,
    )
    result = run_cli(*args, "--recovery-key-file", rk)
    assert result.code == 1
    assert rk.read_text() == "keep me"
    assert not data_dir.exists()


def test_init_into_an_unwritable_place_fails_cleanly(tmp_path: Path, pw_file: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    target = blocker / "data"
    result = run_cli(
        "init", "--data-dir", target, "--admin-user", "root", "--admin-password-file", pw_file
    )
    assert result.code == 1
    assert "not writable" in result.err
    assert blocker.read_text() == "not a directory"


def test_missing_password_file_is_one_clear_line(installed: Path, data_dir: Path) -> None:
    result = run_cli(
        "user", "add", "--data-dir", data_dir, "--username", "ana", "--display-name", "Ana",
        "--password-file", data_dir / "nope.txt", "--branch", "X", "--role", "receptionist",
    )  # fmt: skip
    assert result.code == 1
    assert result.err.strip().startswith("clinicdesk: error: cannot read the password file")


def test_branch_and_user_round_trip_with_json(
    installed: Path, data_dir: Path, pw_file: Path
) -> None:
    assert run_cli("branch", "add", "--data-dir", data_dir, "--name", "Centro").code == 0
    added = run_cli(
        "user", "add", "--data-dir", data_dir, "--username", "Ana", "--display-name", "Ana Souza",
        "--password-file", pw_file, "--branch", "Centro", "--role", "receptionist",
    )  # fmt: skip
    users = json.loads(run_cli("user", "list", "--data-dir", data_dir, "--json").out)
    branches = json.loads(run_cli("branch", "list", "--data-dir", data_dir, "--json").out)
    assert added.code == 0
    assert [b["name"] for b in branches] == ["Centro"]
    assert {u["username"]: u["roles"] for u in users} == {
        "ana": {"Centro": "receptionist"},
        "root": {},
    }


def test_user_add_into_an_unknown_branch_is_refused(
    installed: Path, data_dir: Path, pw_file: Path
) -> None:
    result = run_cli(
        "user", "add", "--data-dir", data_dir, "--username", "ana", "--display-name", "Ana",
        "--password-file", pw_file, "--branch", "Nowhere", "--role", "admin",
    )  # fmt: skip
    assert (result.code, result.err.strip()) == (1, "clinicdesk: error: no such branch")


def test_unknown_role_is_a_usage_error(installed: Path, data_dir: Path, pw_file: Path) -> None:
    result = run_cli(
        "user", "add", "--data-dir", data_dir, "--username", "ana", "--display-name", "Ana",
        "--password-file", pw_file, "--branch", "X", "--role", "boss",
    )  # fmt: skip
    assert result.code == 2
    assert "invalid choice: 'boss'" in result.err


def test_user_passwd_changes_the_password(installed: Path, data_dir: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.txt"
    new.write_text("another-long-password")
    result = run_cli(
        "user", "passwd", "--data-dir", data_dir, "--username", "root", "--password-file", new
    )
    assert (result.code, result.out.strip()) == (0, "Password of root changed")


def test_audit_verify_passes_on_an_intact_chain(installed: Path, data_dir: Path) -> None:
    run_cli("branch", "add", "--data-dir", data_dir, "--name", "Centro")
    result = run_cli("audit", "verify", "--data-dir", data_dir, "--json")
    report = json.loads(result.out)
    assert (result.code, report["ok"], report["checked"]) == (0, True, 2)


def test_status_json_describes_store_and_keys(installed: Path, data_dir: Path) -> None:
    status = json.loads(run_cli("status", "--data-dir", data_dir, "--json").out)
    assert status["initialised"] is True
    assert status["engine"] == {"running": False}
    assert status["key_storage"]["secure"] is True
    assert status["store"]["cipher_version"].startswith("4.")
    assert status["store"]["schema_revision"] == status["store"]["head_revision"]


def test_status_of_an_empty_dir_says_not_initialised(data_dir: Path) -> None:
    result = run_cli("status", "--data-dir", data_dir)
    assert result.code == 0
    assert "Installation: none" in result.out


def test_data_dir_from_environment(installed: Path, data_dir: Path) -> None:
    env = dict(os.environ, CLINICDESK_DATA_DIR=str(data_dir))
    result = run_cli("branch", "add", "--name", "Centro", env=env)
    assert result.code == 0
    assert "Centro" in run_cli("branch", "list", "--data-dir", data_dir).out
