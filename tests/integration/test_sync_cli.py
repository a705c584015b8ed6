"""``clinicdesk sync enroll|push-now|status|preview`` through the real command, with the
engine stopped (the command opens the store) and running (the command asks the engine; an
enrolment there starts the report job and the sender without a restart)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.bootstrap import open_core
from app.store.types import utcnow
from tests.helpers.cli import init_installation, run_cli
from tests.helpers.e2e import Engine, one_line_error, wait_until
from tests.helpers.fake_central import CentralServer


@pytest.fixture
def central() -> Iterator[CentralServer]:
    with CentralServer() as server:
        yield server


@pytest.fixture
def data(tmp_path: Path, key_dir: Path) -> Path:
    root = tmp_path / "data"
    init_installation(tmp_path, root)
    return root


def _json(*args: str | Path) -> dict[str, object]:
    result = run_cli(*args, "--json")
    assert result.code == 0, result.err
    value: dict[str, object] = json.loads(result.out)
    return value


def test_sync_commands_with_the_engine_stopped(data: Path, central: CentralServer) -> None:
    assert _json("sync", "status", "--data-dir", data)["enrolled"] is False
    refused = run_cli("sync", "push-now", "--data-dir", data)
    assert refused.code == 1 and "not enrolled" in one_line_error(refused)
    enroll = run_cli(
        "sync", "enroll", "--data-dir", data, "--central-url", central.url,
        "--code", central.state.issue_code(),
    )  # fmt: skip
    assert enroll.code == 0, enroll.err
    again = run_cli(
        "sync", "enroll", "--data-dir", data, "--central-url", central.url, "--code", "AAAA-BBBB"
    )
    assert again.code == 1 and "already enrolled" in one_line_error(again)
    preview = run_cli("sync", "preview", "--data-dir", data)
    assert preview.code == 0, preview.err
    assert json.loads(preview.out)["seq"] == 1
    pushed = _json("sync", "push-now", "--data-dir", data, "--make-report")
    assert pushed == {"sent": 1, "duplicates": 0, "left": 0}
    assert len(central.state.stored) == 1
    central.stop()
    down = run_cli("sync", "push-now", "--data-dir", data, "--make-report")
    assert down.code == 1 and "did not confirm" in one_line_error(down)
    status = _json("sync", "status", "--data-dir", data)
    assert status["queued"] == 1 and status["last_error"] == "network"
    overall = _json("status", "--data-dir", data)
    assert overall["sync"]["queued"] == 1  # type: ignore[index]


def test_sync_commands_through_the_running_engine(data: Path, central: CentralServer) -> None:
    core = open_core(data)
    try:  # a report every second, so the engine's job shows within the test
        core.store.transaction_sync(
            lambda tx: tx.messaging.set_setting(0, "sync.interval_s", 1, utcnow())
        )
    finally:
        core.close()
    engine = Engine(data)
    try:
        assert _json("sync", "status", "--data-dir", data)["enrolled"] is False
        enroll = run_cli(
            "sync", "enroll", "--data-dir", data, "--central-url", central.url,
            "--code", central.state.issue_code(),
        )  # fmt: skip
        assert enroll.code == 0, enroll.err
        wait_until(lambda: len(central.state.stored) >= 2, "reports from the engine's job")
        status = _json("sync", "status", "--data-dir", data)
        assert status["enrolled"] is True and status["last_success_at"]
        preview = run_cli("sync", "preview", "--data-dir", data)
        assert preview.code == 0, preview.err
        assert json.loads(preview.out)["figures"]["system"]["uptime_s"] > 0
        assert _json("sync", "push-now", "--data-dir", data)["left"] == 0
    finally:
        engine.stop()
    seqs = sorted(seq for _, seq in central.state.stored)
    assert seqs == list(range(1, len(seqs) + 1))
