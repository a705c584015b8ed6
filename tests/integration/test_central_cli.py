"""``clinicdesk central …`` through the real command: codes and tokens on the last line, a bad
database is one clear line and exit 1, and ``serve`` logs where it listens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.central import central_server, enrol, sqlite_url
from tests.helpers.cli import run_cli
from tests.helpers.e2e import one_line_error


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_enroll_and_token_print_the_secret_last(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    enrolled = run_cli("central", "enroll", "--db", db, "--name", "Rede Sul", "--ttl-hours", "2")
    assert enrolled.code == 0, enrolled.err
    code = _last_line(enrolled.out)
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
    token = run_cli("central", "token", "--db", db)
    assert token.code == 0, token.err
    secret = _last_line(token.out)
    with central_server(db) as server:
        server.clock.now = time.time()  # the CLI used the real clock
        answer = enrol(server.http, code)
        assert answer.status_code == 200, answer.text
        assert answer.json()["label"] == "Rede Sul"
        listed = server.http.get("/api/appliances", headers={"Authorization": f"Bearer {secret}"})
        assert [a["label"] for a in listed.json()] == ["Rede Sul"]
        appliance_id = answer.json()["appliance_id"]
    revoked = run_cli("central", "revoke", "--db", db, appliance_id)
    assert revoked.code == 0, revoked.err
    unknown = run_cli("central", "revoke", "--db", db, "f" * 32)
    assert unknown.code == 1
    assert one_line_error(unknown) == "no such appliance"


def test_bad_databases_are_one_clear_line(tmp_path: Path) -> None:
    cases = {
        "mysql://u:pw@localhost/db": "not a usable database URL",
        f"sqlite:///{tmp_path / 'missing' / 'dir' / 'c.db'}": "cannot open the central database",
        "postgresql://u:pw@127.0.0.1:1/db": "cannot open the central database",
    }
    for url, expected in cases.items():
        result = run_cli("central", "token", "--db", url)
        assert result.code == 1, result
        line = one_line_error(result)
        assert expected in line
        assert "pw" not in line.split("@")[0]  # the password is never shown


def test_bad_arguments_exit_non_zero(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    assert run_cli("central", "enroll", "--db", db).code == 2  # --name missing
    empty = run_cli("central", "enroll", "--db", db, "--name", "  ")
    assert empty.code == 1
    assert "--name" in one_line_error(empty)


def test_serve_logs_where_it_listens(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "app", "central", "serve", "--db", sqlite_url(tmp_path)]
    proc = subprocess.Popen(
        [*cmd, "--port", "0"], stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        while "central listening on" not in line:
            assert line, "serve ended before listening"
            line = proc.stderr.readline()
        url = line.split("central listening on ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"{url}/health", trust_env=False).json() == {"ok": True}
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stderr is not None:
            proc.stderr.close()
