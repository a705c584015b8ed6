"""Reading secrets for the CLI: from a file (scripts) or a hidden prompt (people)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from app.domain.errors import ClinicDeskError, ErrorCode


def read_secret_file(path: str) -> str:
    """The first line of ``path`` (``-`` reads standard input), without its line ending."""
    try:
        text = sys.stdin.readline() if path == "-" else Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise ClinicDeskError(ErrorCode.PASSWORD_FILE_UNREADABLE, path=path) from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def password_from(path: str | None, prompt: str = "Password: ") -> str:
    """A password from ``--password-file`` or, on a terminal, typed twice without echo."""
    if path is not None:
        return read_secret_file(path)
    if not sys.stdin.isatty():
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--password-file")
    first = getpass.getpass(prompt)
    if getpass.getpass("Repeat: ") != first:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="password (the two entries differ)")
    return first
