"""Logging: identifiers never reach the log file, the file is private, rotation works."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.infra.logging import LOG_FILE_NAME, REDACTED, configure_logging, redact

PHONES = [
    "+55 11 98765-4321",
    "+5511987654321",
    "+55 (11) 98765-4321",
    "(11) 98765-4321",
    "(11)98765-4321",
    "11 98765-4321",
    "011 98765 4321",
    "98765-4321",
    "3456-7890",
    "5511987654321",
    "11987654321",
]
JIDS = [
    "5511987654321@s.whatsapp.net",
    "5511987654321:12@s.whatsapp.net",
    "123456789012345@lid",
    "120363012345678901@g.us",
]
EMAILS = ["maria.silva+agenda@clinica-exemplo.com.br", "joao@example.org"]


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    """Configure logging into a fresh directory; restore the root logger afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    directory = tmp_path / "logs"
    yield directory
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved_level)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("value", PHONES + JIDS + EMAILS)
def test_redact_removes_identifier(value: str) -> None:
    assert redact(f"contato {value} fim") == f"contato {REDACTED} fim"


@pytest.mark.parametrize(
    "text",
    [
        "backup 2026-11-23T14:35:01Z done in 12.5s",
        "listening on 127.0.0.1:8765",
        "1234 rows, ratio 1234.5678, ticket 42",
        "channel 3f2a9c1e state CONNECTED",
    ],
)
def test_redact_keeps_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_file_holds_no_identifier(log_dir: Path) -> None:
    configure_logging(log_dir, console=False)
    log = logging.getLogger("clinicdesk.test")
    for value in PHONES + JIDS + EMAILS:
        log.warning("inbound from %s", value)  # through args
        log.warning(f"inbound from {value}")  # already formatted
    log.info("opened", extra={"sensitive": "Maria Aparecida", "code": "x.y", "channel_id": 7})
    log.info("note for Maria Aparecida", extra={"sensitive": ["Maria Aparecida"]})
    try:
        raise ValueError("bad jid 5511987654321@s.whatsapp.net")
    except ValueError:
        log.exception("send failed")
    _flush()

    text = (log_dir / LOG_FILE_NAME).read_text(encoding="utf-8")
    for value in [*PHONES, *JIDS, *EMAILS, "Maria Aparecida", "5511987654321"]:
        assert value not in text
    records = _lines(log_dir / LOG_FILE_NAME)
    assert all(set(r) >= {"ts", "level", "logger", "msg"} for r in records)
    opened = next(r for r in records if r["msg"] == "opened")
    assert opened["code"] == "x.y"
    assert opened["channel_id"] == 7
    assert str(opened["ts"]).endswith("+00:00")
    failed = next(r for r in records if r["msg"] == "send failed")
    assert "ValueError" in str(failed["exc"])


def test_console_is_redacted_too(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(None, console=True)
    logging.getLogger("clinicdesk.test").warning("from %s", "+55 11 98765-4321")
    _flush()
    err = capsys.readouterr().err
    assert "98765" not in err
    assert REDACTED in err


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_log_file_is_private(log_dir: Path) -> None:
    configure_logging(log_dir, console=False)
    logging.getLogger("clinicdesk.test").info("hello")
    _flush()
    assert stat.S_IMODE((log_dir / LOG_FILE_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(log_dir.stat().st_mode) == 0o700


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_existing_log_file_is_tightened(log_dir: Path) -> None:
    log_dir.mkdir()
    (log_dir / LOG_FILE_NAME).write_text("")
    (log_dir / LOG_FILE_NAME).chmod(0o644)
    configure_logging(log_dir, console=False)
    assert stat.S_IMODE((log_dir / LOG_FILE_NAME).stat().st_mode) == 0o600


def test_rotation_keeps_backup_count_private_files(log_dir: Path) -> None:
    configure_logging(log_dir, console=False, max_bytes=2_000, backup_count=2)
    log = logging.getLogger("clinicdesk.test")
    for i in range(200):
        log.info("line %d %s", i, "x" * 50)
    _flush()

    files = sorted(p.name for p in log_dir.iterdir())
    assert files == [LOG_FILE_NAME, f"{LOG_FILE_NAME}.1", f"{LOG_FILE_NAME}.2"]
    for path in log_dir.iterdir():
        assert path.stat().st_size <= 2_000
        if os.name != "nt":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(_lines(log_dir / LOG_FILE_NAME)[-1]["msg"]).startswith("line 199 ")


def test_configure_twice_does_not_duplicate(log_dir: Path) -> None:
    configure_logging(log_dir, console=False)
    configure_logging(log_dir, console=False)
    logging.getLogger("clinicdesk.test").info("once")
    _flush()
    assert [r["msg"] for r in _lines(log_dir / LOG_FILE_NAME)] == ["once"]
