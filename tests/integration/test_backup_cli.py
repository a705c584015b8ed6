"""The ``clinicdesk backup`` contract through the real command (subprocesses): run, list,
verify with either key, restore on a "new PC" (another machine-key folder), and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.helpers.cli import EngineProcess, init_installation, run_cli, tree_digest
from tests.helpers.e2e import one_line_error


@pytest.fixture
def installed(tmp_path: Path, key_dir: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    return data, init_installation(tmp_path, data)


def _new_pc_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CLINICDESK_KEY_DIR": str(tmp_path / "new-pc-keys")}


def test_run_list_verify_restore(installed: tuple[Path, Path], tmp_path: Path) -> None:
    data, rk = installed
    target = tmp_path / "usb"
    run = run_cli("backup", "run", "--data-dir", data, "--target", target)
    assert run.code == 0, run.err
    archive = Path(run.out.strip().splitlines()[-1])
    assert archive.parent == target and archive.is_file()
    assert "backup: snapshot" in run.err and "backup: verifying" in run.err
    default = run_cli("backup", "run", "--data-dir", data)
    assert default.code == 0, default.err
    listed = run_cli("backup", "list", "--data-dir", data, "--json")
    rows = json.loads(listed.out)
    assert [r["path"] for r in rows] == [default.out.strip().splitlines()[-1]]
    for key_args in (("--data-dir", data), ("--recovery-key-file", rk)):
        verify = run_cli("backup", "verify", archive, *key_args)
        assert verify.code == 0, verify.err
        assert verify.out.startswith("OK:")
    env = _new_pc_env(tmp_path)
    new = tmp_path / "new-pc" / "data"
    restore = run_cli(
        "backup", "restore", archive, "--data-dir", new, "--recovery-key-file", rk, env=env
    )
    assert restore.code == 0, restore.err
    status = run_cli("status", "--data-dir", new, "--json", env=env)
    assert status.code == 0, status.err
    assert json.loads(status.out)["audit"]["head_seq"] >= 1


def test_restore_over_existing_needs_replace_and_confirmation(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    data, rk = installed
    archive = Path(run_cli("backup", "run", "--data-dir", data).out.strip().splitlines()[-1])
    before = tree_digest(data)
    plain = run_cli("backup", "restore", archive, "--data-dir", data, "--recovery-key-file", rk)
    assert plain.code == 1 and "--replace" in one_line_error(plain)
    unconfirmed = run_cli(
        "backup", "restore", archive, "--data-dir", data, "--recovery-key-file", rk, "--replace"
    )
    assert unconfirmed.code == 1 and "not confirmed" in one_line_error(unconfirmed)
    assert tree_digest(data) == before
    confirmed = run_cli(
        "backup", "restore", archive, "--data-dir", data, "--recovery-key-file", rk,
        "--replace", "--yes",
    )  # fmt: skip
    assert confirmed.code == 0, confirmed.err
    aside = [p for p in data.parent.iterdir() if p.name.startswith("data.replaced-")]
    assert len(aside) == 1 and tree_digest(aside[0]) == before


def test_bad_input_is_one_line_and_changes_nothing(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    data, rk = installed
    archive = Path(run_cli("backup", "run", "--data-dir", data).out.strip().splitlines()[-1])
    before = tree_digest(data)
    junk = tmp_path / "junk.cdbk"
    junk.write_bytes(b"not a backup at all")
    cases = [
        (("backup", "verify", tmp_path / "missing.cdbk", "--data-dir", data), "no such backup"),
        (("backup", "verify", junk, "--data-dir", data), "not a ClinicDesk backup"),
        (
            ("backup", "restore", junk, "--data-dir", tmp_path / "n", "--recovery-key-file", rk),
            "not a ClinicDesk backup",
        ),
        (("backup", "run", "--data-dir", tmp_path / "nothing"), "no ClinicDesk installation"),
    ]
    other_rk = tmp_path / "other-rk.txt"
    other_rk.write_text("000000-" * 7 + "000000\n")
    cases.append(
        (
            (
                "backup",
                "restore",
                archive,
                "--data-dir",
                tmp_path / "n",
                "--recovery-key-file",
                other_rk,
            ),
            "does not open",
        )
    )
    for args, expected in cases:
        result = run_cli(*args)
        assert result.code == 1, (args, result.err)
        assert expected in one_line_error(result), result.err
    assert tree_digest(data) == before
    assert not (tmp_path / "n").exists()


def test_run_goes_through_a_running_engine(installed: tuple[Path, Path], tmp_path: Path) -> None:
    data, _rk = installed
    engine = EngineProcess(data)
    try:
        info = engine.wait_ready()
        api = httpx.Client(
            base_url=str(info["url"]),
            headers={"Authorization": f"Bearer {info['token']}"},
            trust_env=False,
        )
        run = run_cli("backup", "run", "--data-dir", data, "--target", tmp_path / "t")
        assert run.code == 0, run.err
        assert "asking the running engine" in run.err
        assert Path(run.out.strip().splitlines()[-1]).is_file()
        status = json.loads(run_cli("status", "--data-dir", data, "--json").out)
        backups = status["backups"]
        assert backups["last_success"]["archive"] == run.out.strip().splitlines()[-1]
        assert backups["next_run"] is not None and backups["last_verify"] is not None
        listed = api.get("/backups").json()
        assert listed["status"]["last_success"] == backups["last_success"]
        assert api.get("/backups", headers={"Authorization": "Bearer nope"}).status_code == 401
        api.close()
    finally:
        assert engine.stop() == 0
