"""Setting up a clinic from the command line (``branch show|configure``, ``queue
add|list|member``, ``quick-reply add|list``) in subprocesses: on the store itself, and through
a running engine. Bad input is one line, exit 1, and changes nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import EngineProcess, init_installation, run_cli, tree_digest

HOURS = "seg-sex 08:00-12:00 13:00-18:00; sáb 8:00-12:00"
CLOSED = "Estamos fechados. Respondemos a partir das 8h."
ADDRESS = "Olá {primeiro_nome}! Rua das Flores, 100, sala 2."


def _make_clinic(tmp: Path) -> Path:
    """An installation in ``tmp`` with branch Centro and receptionist ana."""
    data_dir = tmp / "data"
    init_installation(tmp, data_dir)
    assert run_cli("branch", "add", "--data-dir", data_dir, "--name", "Centro").code == 0
    pw_file = tmp / "ana.txt"
    pw_file.write_text("senha-da-ana-123\n")
    made = run_cli(
        "user", "add", "--data-dir", data_dir, "--username", "ana", "--display-name", "Ana",
        "--password-file", pw_file, "--branch", "Centro", "--role", "receptionist",
    )  # fmt: skip
    assert made.code == 0, made.err
    return data_dir


@pytest.fixture
def clinic(tmp_path: Path, key_dir: Path) -> Path:
    return _make_clinic(tmp_path)


@pytest.fixture(scope="module")
def untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One clinic for every bad-input case: a refused command changes nothing, which each
    case checks, so they can share it."""
    tmp = tmp_path_factory.mktemp("clinic")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLINICDESK_KEY_DIR", str(tmp / "machine-keys"))
        yield _make_clinic(tmp)


def _settings(data_dir: Path) -> dict[str, object]:
    shown = run_cli("branch", "show", "--data-dir", data_dir, "--name", "centro", "--json")
    assert shown.code == 0, shown.err
    return dict(json.loads(shown.out))


def _configure_and_queue(data_dir: Path) -> None:
    conf = run_cli(
        "branch", "configure", "--data-dir", data_dir, "--name", "Centro", "--hours", HOURS,
        "--out-of-hours-message", CLOSED, "--reopen-minutes", "90", "--clinic-name", "Sorriso",
        "--declined-reply", "Vamos ligar para remarcar.",
    )  # fmt: skip
    assert conf.code == 0, conf.err
    assert "reply to a reschedule: Vamos ligar para remarcar." in conf.out
    assert "reply to a confirmation: (default)" in conf.out
    assert "hours: seg-sex 08:00-12:00 13:00-18:00; sab 08:00-12:00" in conf.out
    for name, order in (("Consultas", "1"), ("Exames", "2")):
        made = run_cli(
            "queue", "add", "--data-dir", data_dir, "--branch", "Centro", "--name", name,
            "--order", order,
        )  # fmt: skip
        assert made.code == 0, made.err
    changed = run_cli(
        "queue", "change", "--data-dir", data_dir, "--branch", "Centro", "--queue", "exames",
        "--greeting", "Envie o pedido médico, por favor.", "--color", "#10B981",
    )  # fmt: skip
    assert changed.code == 0 and "Queue Exames changed" in changed.out, changed.err
    member = run_cli(
        "queue", "member", "--data-dir", data_dir, "--branch", "Centro", "--queue", "exames",
        "--username", "ana",
    )  # fmt: skip
    assert member.code == 0 and "ana added to queue exames" in member.out
    reply = run_cli(
        "quick-reply", "add", "--data-dir", data_dir, "--branch", "Centro",
        "--shortcut", "endereco", "--text", "Olá {primeiro_nome}! Rua das Flores, 100.",
    )  # fmt: skip
    assert reply.code == 0 and "/endereco" in reply.out, reply.err
    for args in (
        ("add", "--shortcut", "apagar", "--text", "provisório"),
        ("change", "--shortcut", "/endereco", "--text", ADDRESS),
        ("remove", "--shortcut", "apagar"),
    ):
        done = run_cli("quick-reply", args[0], "--data-dir", data_dir, "--branch", "Centro",
                       *args[1:])  # fmt: skip
        assert done.code == 0, done.err


def _check(data_dir: Path) -> None:
    settings = _settings(data_dir)
    assert json.loads(str(settings["business_hours"]))["sat"] == [["08:00", "12:00"]]
    assert "sun" not in json.loads(str(settings["business_hours"]))  # not named: closed
    assert (settings["out_of_hours_message"], settings["reopen_window_minutes"]) == (CLOSED, 90)
    assert (settings["clinic_name"], settings["menu_header"]) == ("Sorriso", None)
    listed = run_cli("queue", "list", "--data-dir", data_dir, "--branch", "Centro", "--json")
    queues = json.loads(listed.out)
    assert [(q["name"], q["menu_order"]) for q in queues] == [("Consultas", 1), ("Exames", 2)]
    assert (queues[1]["greeting"], queues[1]["color"]) == (
        "Envie o pedido médico, por favor.", "#10B981",
    )  # fmt: skip
    replies = run_cli("quick-reply", "list", "--data-dir", data_dir, "--branch", "Centro", "--json")
    assert [(r["shortcut"], r["body"]) for r in json.loads(replies.out)] == [
        ("endereco", ADDRESS),
    ]  # fmt: skip


def test_a_clinic_is_set_up_on_the_store(clinic: Path) -> None:
    _configure_and_queue(clinic)
    _check(clinic)
    cleared = run_cli(
        "branch", "configure", "--data-dir", clinic, "--name", "Centro", "--hours", "sempre",
        "--out-of-hours-message", "",
    )  # fmt: skip
    assert cleared.code == 0, cleared.err
    settings = _settings(clinic)
    assert (settings["business_hours"], settings["hours"]) == (None, "sempre")
    assert settings["out_of_hours_message"] is None


@pytest.mark.skipif(sys.platform == "win32", reason="stops the engine with SIGTERM")
def test_a_clinic_is_set_up_through_the_running_engine(clinic: Path) -> None:
    engine = EngineProcess(clinic)
    engine.wait_ready()
    try:
        _configure_and_queue(clinic)
        _check(clinic)
    finally:
        assert engine.stop() == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["branch", "configure", "--name", "Centro", "--hours", "seg 8-12"], "business hours"),
        (["branch", "configure", "--name", "Centro", "--timezone", "Mars/X"], "time zone"),
        (["branch", "configure", "--name", "Centro", "--reopen-minutes", "-5"], "reopen"),
        (["branch", "configure", "--name", "Centro"], "give --timezone, --hours"),
        (["branch", "show", "--name", "Sul"], "no such branch"),
        (["queue", "add", "--branch", "Centro", "--name", "X", "--color", "red"], "color"),
        (["queue", "member", "--branch", "Centro", "--queue", "Nada", "--username", "ana"],
         "no such queue"),
        (["queue", "change", "--branch", "Centro", "--queue", "Consultas"],
         "give --name, --greeting"),
        (["queue", "change", "--branch", "Centro", "--queue", "Nada", "--order", "2"],
         "no such queue"),
        (["quick-reply", "add", "--branch", "Sul", "--shortcut", "x", "--text", "y"],
         "no such branch"),
        (["quick-reply", "change", "--branch", "Centro", "--shortcut", "nada", "--text", "y"],
         "no such quick reply"),
        (["quick-reply", "change", "--branch", "Centro", "--shortcut", "nada"],
         "nothing to change: give --new-shortcut or --text"),
        (["quick-reply", "remove", "--branch", "Centro", "--shortcut", "nada"],
         "no such quick reply"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_changes_nothing(
    untouched: Path, args: list[str], said: str
) -> None:
    before = tree_digest(untouched)
    result = run_cli(*args[:2], "--data-dir", untouched, *args[2:])
    assert result.code == 1
    assert result.err.count("\n") == 1 and said in result.err
    assert tree_digest(untouched) == before  # not a byte of the installation changed
