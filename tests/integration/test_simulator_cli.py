"""``clinicdesk simulator serve|fault|burst`` (and scan/accounts).

Two layers: ``cmd_simulator`` in process against a real simulator process (works before the
command is wired into ``app/cli/parser.py``), and the real ``python -m app simulator ...``
subprocesses (skipped until the lead wires the parser; then they must pass).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.cli.parser import build_parser
from app.cli.simulator_cmd import add_simulator_parser, cmd_simulator
from app.domain.errors import ClinicDeskError, ErrorCode
from tests.helpers.cli import run_cli

DEADLINE = 20.0


def _wired() -> bool:
    try:
        build_parser().parse_args(["simulator", "burst", "--channel", "c", "--count", "1"])
    except SystemExit:
        return False
    return True


needs_wiring = pytest.mark.skipif(
    not _wired(), reason="`simulator` not yet wired into app/cli/parser.py and main.py"
)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clinicdesk")
    add_simulator_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["simulator", *argv])


def _serve(log: Path, *cmd: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``cmd ... serve --port 0`` and return the process and its URL."""
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(DEADLINE)
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", box[0] if box else "")
    if match is None:
        proc.kill()
        raise AssertionError(f"no listening line: {box}")
    return proc, match.group(1)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.terminate()
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("simcli") / "sim.log"
    proc, base = _serve(log, sys.executable, "-m", "app.cli.simulator_cmd", "simulator")
    yield base
    _stop(proc)


def _account(url: str, name: str) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{url}/control/accounts/{name}", timeout=10).json()
    return body


# ---- in process -------------------------------------------------------------------------------


def test_burst_queues_messages(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_simulator(_parse("burst", "--channel", "cli-a", "--count", "4", "--url", url)) == 0
    assert "4 message(s) for cli-a" in capsys.readouterr().out
    assert _account(url, "cli-a")["pending"] == 4


def test_fault_with_and_without_channel(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cmd_simulator(_parse("burst", "--channel", "cli-b", "--count", "1", "--url", url))
    args = _parse("fault", "deaf", "--channel", "cli-b", "--url", url, "--json")
    assert cmd_simulator(args) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["accounts"] == ["cli-b"]
    assert _account(url, "cli-b")["faults"] == ["deaf"]
    assert cmd_simulator(_parse("fault", "heal", "--url", url)) == 0
    assert _account(url, "cli-b")["faults"] == []
    assert (
        cmd_simulator(_parse("fault", "ban", "--channel", "cli-b", "--seconds", "60", "--url", url))
        == 0
    )
    assert _account(url, "cli-b")["status"] == "temp_banned"


def test_scan_without_pairing_fails(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cmd_simulator(_parse("burst", "--channel", "cli-c", "--count", "1", "--url", url))
    assert cmd_simulator(_parse("scan", "--channel", "cli-c", "--url", url)) == 1
    assert "not_pairing" in capsys.readouterr().err


def test_accounts_lists_every_account(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cmd_simulator(_parse("burst", "--channel", "cli-d", "--count", "2", "--url", url))
    assert cmd_simulator(_parse("accounts", "--url", url)) == 0
    assert "cli-d  unpaired  pending=2" in capsys.readouterr().out


def test_unreachable_simulator_is_a_clear_error() -> None:
    with pytest.raises(ClinicDeskError) as err:
        cmd_simulator(_parse("fault", "drop", "--url", "http://127.0.0.1:9"))
    assert err.value.code is ErrorCode.SIMULATOR_UNREACHABLE


def test_bad_usage_is_rejected() -> None:
    for argv in (("fault", "explode"), ("burst", "--channel", "x"), ("burst", "--count", "2")):
        with pytest.raises(SystemExit) as exit_info:
            _parse(*argv)
        assert exit_info.value.code == 2


def test_standalone_serve_reports_a_busy_port(url: str, tmp_path: Path) -> None:
    port = url.rsplit(":", 1)[1]
    cmd = [sys.executable, "-m", "app.cli.simulator_cmd", "simulator", "serve", "--port", port]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


# ---- the real command (after wiring) -----------------------------------------------------------


@needs_wiring
def test_cli_serve_fault_burst_end_to_end(tmp_path: Path) -> None:
    proc, base = _serve(tmp_path / "sim.log", sys.executable, "-m", "app", "simulator")
    try:
        result = run_cli("simulator", "burst", "--channel", "e2e", "--count", "3", "--url", base)
        assert result.code == 0, result.err
        assert "3 message(s) for e2e" in result.out
        result = run_cli("simulator", "fault", "drop", "--url", base)
        assert result.code == 0, result.err
        result = run_cli("simulator", "fault", "ban", "--channel", "e2e", "--url", base)
        assert result.code == 0, result.err
        assert _account(base, "e2e")["status"] == "banned"
        result = run_cli("simulator", "fault", "refuse", "--seconds", "300", "--url", base)
        assert result.code == 0, result.err
        result = run_cli("simulator", "accounts", "--url", base, "--json")
        assert json.loads(result.out)["faults"] == ["refuse"]
    finally:
        assert _stop(proc) in (0, -15)


@needs_wiring
def test_cli_usage_and_unreachable_errors() -> None:
    assert run_cli("simulator", "fault", "explode").code == 2
    assert run_cli("simulator", "burst", "--channel", "x").code == 2
    result = run_cli("simulator", "fault", "drop", "--url", "http://127.0.0.1:9")
    assert result.code == 1
    assert result.err.startswith("clinicdesk: error: the simulator does not answer at")
