"""The real engine process: lock, API on loopback, CLI through it, graceful stop."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.cli import PASSWORD, EngineProcess, init_installation, run_cli

pytestmark = [
    pytest.mark.usefixtures("key_dir"),
    pytest.mark.skipif(sys.platform == "win32", reason="stops the engine with SIGTERM"),
]


@pytest.fixture
def engine(tmp_path: Path, data_dir: Path) -> Iterator[EngineProcess]:
    init_installation(tmp_path, data_dir)
    process = EngineProcess(data_dir)
    process.wait_ready()
    yield process
    process.stop()


def _url(engine: EngineProcess) -> str:
    return str(json.loads((engine.data_dir / "engine.json").read_text())["url"])


def test_engine_publishes_a_private_endpoint_file(engine: EngineProcess) -> None:
    info_file = engine.data_dir / "engine.json"
    info = json.loads(info_file.read_text())
    assert info["url"].startswith("http://127.0.0.1:")
    assert info["pid"] == engine.proc.pid
    assert oct(info_file.stat().st_mode & 0o777) == oct(0o600)


def test_login_and_me_over_http(engine: EngineProcess) -> None:
    url = _url(engine)
    login = httpx.post(f"{url}/auth/login", json={"username": "root", "password": PASSWORD})
    token = login.json()["token"]
    me = httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"})
    assert (login.status_code, me.status_code) == (200, 200)
    assert (me.json()["username"], me.json()["super_admin"]) == ("root", True)


def test_a_second_engine_on_the_same_dir_is_refused(engine: EngineProcess) -> None:
    second = run_cli("engine", "--data-dir", engine.data_dir, "--port", "0")
    assert second.code == 1
    assert second.err.strip() == (
        "clinicdesk: error: an engine is already running on this data directory"
    )
    assert engine.proc.poll() is None


def test_cli_goes_through_the_running_engine(engine: EngineProcess) -> None:
    added = run_cli("branch", "add", "--data-dir", engine.data_dir, "--name", "Centro")
    status = json.loads(run_cli("status", "--data-dir", engine.data_dir, "--json").out)
    verify = json.loads(run_cli("audit", "verify", "--data-dir", engine.data_dir, "--json").out)
    assert added.code == 0
    assert status["engine"]["running"] is True
    assert status["engine"]["pid"] == engine.proc.pid
    assert verify["ok"] is True
    # the branch.add entry was made by the engine's local-admin session, not a local open
    token = json.loads((engine.data_dir / "engine.json").read_text())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{_url(engine)}/branches", headers=headers).json()[0]["name"] == "Centro"


def test_sigterm_stops_gracefully_and_withdraws_the_endpoint(engine: EngineProcess) -> None:
    code = engine.stop()
    assert code == 0
    assert not (engine.data_dir / "engine.json").exists()
    assert not (engine.data_dir / "clinicdesk.db-wal").exists()  # checkpointed on close
    assert run_cli("status", "--data-dir", engine.data_dir, "--json").code == 0


def test_a_stale_endpoint_file_is_ignored(engine: EngineProcess) -> None:
    info = (engine.data_dir / "engine.json").read_text()
    engine.stop()
    (engine.data_dir / "engine.json").write_text(info)  # as a crashed engine would leave it
    result = run_cli("branch", "list", "--data-dir", engine.data_dir)
    assert result.code == 0


def test_insecure_flag_is_reported_in_status(tmp_path: Path, data_dir: Path) -> None:
    init_installation(tmp_path, data_dir)
    data_dir.chmod(0o755)
    refused = run_cli("engine", "--data-dir", data_dir, "--port", "0")
    process = EngineProcess(data_dir, "--insecure-key-storage")
    process.wait_ready()
    status = json.loads(run_cli("status", "--data-dir", data_dir, "--json").out)
    process.stop()
    assert refused.code == 1
    assert status["key_storage"]["insecure_allowed"] is True
    assert status["key_storage"]["problems"] == ["data_dir_readable_by_others"]
    assert data_dir.stat().st_mode & 0o777 == 0o755
