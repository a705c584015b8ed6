"""Issue 8 end to end, through the command-line contract only: a real central
(``clinicdesk central serve`` over HTTPS with a test CA, on SQLite and on PostgreSQL) and a real
appliance installation (``clinicdesk sync enroll`` / ``sync push-now``).

The central goes away and comes back: what was queued meanwhile arrives exactly once. The
admin API and the dashboard show the enrolled clinic. The reports the central stored hold no
patient data from the appliance's store.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.central.app import create_app
from app.central.db import normalise_url, open_engine
from app.central.enrolment import issue_code
from app.sync.sender import SenderState
from tests.helpers.cli import PASSWORD, Result, init_installation, run_cli
from tests.helpers.e2e import REPO, one_line_error, wait_until
from tests.helpers.fake_central import CentralServer, free_port
from tests.helpers.sync_agent import drain, make_agent, report_through_outage
from tests.helpers.tls import TestPki
from tests.integration.conftest import FakeClock, Installation

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="central subprocess: POSIX here")
READY = "central listening on "
LABEL = "Clínica Boa Vista"


@contextmanager
def central(db_url: str, pki: TestPki, port: int = 0) -> Iterator[tuple[str, int]]:
    """``clinicdesk central serve`` over HTTPS: (its URL, its port), stopped afterwards."""
    command = [
        sys.executable, "-m", "app", "central", "serve", "--db", db_url, "--port", str(port),
        "--certfile", str(pki.server_cert), "--keyfile", str(pki.server_key),
    ]  # fmt: skip
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = _listening(proc)
        # keep reading its log so a chatty central never blocks on a full pipe
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        yield url, int(url.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _listening(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if READY in line:
            return line.split(READY, 1)[1].split()[0]
    raise AssertionError(f"central did not start: {''.join(seen)[-2000:]}")


def last_line(result: Result) -> str:
    assert result.code == 0, result.err
    return result.out.strip().splitlines()[-1]


def stored_reports(db_url: str) -> list[tuple[str, int, str]]:
    """(appliance, seq, payload) of every report row the central holds."""
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            query = text("SELECT appliance_id, seq, payload FROM reports ORDER BY seq")
            return [(r[0], int(r[1]), r[2]) for r in conn.execute(query)]
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def appliance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised installation (no engine running)."""
    monkeypatch.setenv("CLINICDESK_KEY_DIR", str(tmp_path / "keys"))
    data = tmp_path / "data"
    init_installation(tmp_path, data)
    return data


def test_reports_survive_a_central_outage_and_arrive_exactly_once(
    db_url: str, appliance: Path, test_pki: TestPki
) -> None:
    code = last_line(run_cli("central", "enroll", "--db", db_url, "--name", LABEL))
    token = last_line(run_cli("central", "token", "--db", db_url))
    with central(db_url, test_pki) as (url, port):
        enrolled = run_cli(
            "sync", "enroll", "--data-dir", appliance, "--central-url", url, "--code", code,
            "--ca-file", test_pki.ca_cert,
        )  # fmt: skip
        assert enrolled.code == 0, enrolled.err
        assert (
            last_line(run_cli("sync", "push-now", "--data-dir", appliance, "--make-report")) != ""
        )
    first = stored_reports(db_url)
    assert len(first) >= 1
    # The central is down: push-now fails with one line and a non-zero exit; nothing is lost.
    for _ in range(3):
        down = run_cli("sync", "push-now", "--data-dir", appliance, "--make-report")
        assert down.code != 0 and one_line_error(down)
    status = json.loads(run_cli("sync", "status", "--data-dir", appliance, "--json").out)
    assert status["queued"] >= 3
    with central(db_url, test_pki, port) as (url, _port):
        back = run_cli("sync", "push-now", "--data-dir", appliance, "--make-report")
        assert back.code == 0, back.err
        admin = httpx.Client(
            base_url=url,
            verify=ssl.create_default_context(cafile=str(test_pki.ca_cert)),
            headers={"Authorization": f"Bearer {token}"},
        )
        listed = admin.get("/api/appliances").raise_for_status().json()
        dashboard = admin.get("/dashboard")
        admin.close()
    rows = stored_reports(db_url)
    seqs = [seq for _appliance, seq, _payload in rows]
    assert seqs == list(range(1, len(seqs) + 1))  # every report once, no gap, no duplicate
    assert len(rows) == len(first) + status["queued"] + 1  # + the one made when it came back
    assert [a["label"] for a in listed] == [LABEL]
    assert listed[0]["last_seq"] == seqs[-1]
    assert dashboard.status_code == 200 and LABEL in dashboard.text
    after = json.loads(run_cli("sync", "status", "--data-dir", appliance, "--json").out)
    assert after["queued"] == 0


def test_an_unenrolled_appliance_is_refused_and_a_wrong_code_changes_nothing(
    tmp_path: Path, appliance: Path, test_pki: TestPki
) -> None:
    db_url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    push = run_cli("sync", "push-now", "--data-dir", appliance, "--make-report")
    assert push.code != 0 and "enrol" in one_line_error(push)
    preview = run_cli("sync", "preview", "--data-dir", appliance)  # allowed before consenting
    assert preview.code == 0, preview.err
    assert json.loads(preview.out)["figures"]["audit"]["head_seq"] >= 1
    with central(db_url, test_pki) as (url, _port):
        wrong = run_cli(
            "sync", "enroll", "--data-dir", appliance, "--central-url", url,
            "--code", "AAAA-BBBB-CCCC-DDDD", "--ca-file", test_pki.ca_cert,
        )  # fmt: skip
        assert wrong.code != 0 and one_line_error(wrong)
        # A central whose certificate is not signed by the CA we pin is refused.
        untrusted = run_cli(
            "sync", "enroll", "--data-dir", appliance, "--central-url", url,
            "--code", last_line(run_cli("central", "enroll", "--db", db_url, "--name", LABEL)),
            "--ca-file", test_pki.other_ca_cert,
        )  # fmt: skip
        assert untrusted.code != 0 and one_line_error(untrusted)
    status = json.loads(run_cli("sync", "status", "--data-dir", appliance, "--json").out)
    assert status["enrolled"] is False
    assert stored_reports(db_url) == []


def test_the_central_never_receives_patient_data(
    tmp_path: Path, appliance: Path, test_pki: TestPki
) -> None:
    """The appliance's own names (the admin's, the installation's) never reach the central."""
    db_url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    code = last_line(run_cli("central", "enroll", "--db", db_url, "--name", LABEL))
    with central(db_url, test_pki) as (url, _port):
        assert run_cli(
            "sync", "enroll", "--data-dir", appliance, "--central-url", url, "--code", code,
            "--ca-file", test_pki.ca_cert,
        ).code == 0  # fmt: skip
        wait_until(
            lambda: run_cli("sync", "push-now", "--data-dir", appliance, "--make-report").code == 0,
            "push",
        )
    payloads = " ".join(payload for _a, _s, payload in stored_reports(db_url))
    assert payloads and PASSWORD not in payloads
    for secret in ("root", "Administrador", str(appliance)):
        assert secret not in payloads


# ---- a long outage against the real central, on a simulated clock ----------------------------


async def test_the_real_central_down_for_three_days_gets_every_report_exactly_once(
    db_url: str, fresh: Installation
) -> None:
    clock = FakeClock()
    now = lambda: clock.now().timestamp()  # noqa: E731 - the central shares the simulated clock
    engine = open_engine(db_url)
    port = free_port()
    try:
        with CentralServer(port=port, app=create_app(engine, clock=now)) as up:
            agent = make_agent(fresh, clock)
            code = issue_code(engine, LABEL, now())
            identity = await agent.enroll(fresh.core.local_actor(), up.url, code)
        made = await report_through_outage(agent, clock, days=3, every=timedelta(minutes=10))
        assert agent.sender.state is SenderState.BACKOFF
        with CentralServer(port=port, app=create_app(engine, clock=now)):
            await drain(agent)
        assert agent.sender.state is SenderState.IDLE
        await agent.sender.stop()
    finally:
        engine.dispose()
    rows = stored_reports(db_url)
    assert {a for a, _s, _p in rows} == {identity["appliance_id"]}
    assert [seq for _a, seq, _p in rows] == made == list(range(1, len(made) + 1))
    assert len(made) == 3 * 24 * 6
