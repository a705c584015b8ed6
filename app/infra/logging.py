"""Process-wide logging: rotating private JSON-lines file, plain console, identifier redaction.

Callers never log message bodies, names or phone numbers; :class:`RedactingFilter` is the safety
net for the day one slips through (an exception text quoting a JID, a phone number in a
``repr``). It sits on every handler this module installs, so nothing reaches a file or a terminal
unredacted.

Configure logging before importing neonize: its import calls ``logging.basicConfig``, which is a
no-op once the root logger has handlers (STACK_NOTES.md §7).
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import os
import queue
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from io import TextIOWrapper
from logging.handlers import QueueHandler, QueueListener, RotatingFileHandler
from pathlib import Path
from typing import Any

LOG_FILE_NAME = "clinicdesk.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
REDACTED = "[REDACTED]"
#: Record attributes copied into the JSON line when a caller passes them in ``extra``.
JSON_EXTRAS = ("code", "channel_id", "branch_id")

# Order matters: JIDs and e-mails contain digit runs the phone patterns would split.
_JID = r"[\w.:-]+@(?:s\.whatsapp\.net|c\.us|g\.us|lid|broadcast|newsletter)\b"
_EMAIL = r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
# International form: "+" then 8-15 digits, allowing short runs of spaces, dots, dashes and
# parentheses between digits ("+55 (11) 98765-4321").
_E164 = r"\+\(?\d(?:[\s().-]{0,3}\d){7,14}"
# Brazilian national forms: optional 55, optional (0)DD area code, optional mobile 9, then
# NNNN-NNNN ("(11) 98765-4321", "011 98765 4321", "3456-7890"). The 4+4 split allows a space or a
# dash only, so dates ("2026-11-23") and decimals ("1234.5678") stay readable.
_BR = r"(?<![\w+])(?:55[\s.-]?)?(?:\(?0?\d{2}\)?[\s.-]?)?9?\d{4}[\s-]?\d{4}(?![\w])"
# Bare digit runs long enough to be a phone number without formatting ("5511987654321").
_DIGITS = r"(?<![A-Za-z0-9])\d{8,13}(?![A-Za-z0-9])"

_PATTERNS = tuple(re.compile(p) for p in (_JID, _EMAIL, _E164, _BR, _DIGITS))


def redact(text: str) -> str:
    """Return ``text`` with WhatsApp JIDs, e-mail addresses and phone numbers replaced.

    Errs towards over-redaction: any run of 8-13 bare digits (a Unix timestamp, a long counter)
    is treated as a possible phone number, since a leaked patient number costs more than a
    lost figure in a log line.
    """
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def _sensitive_values(value: object) -> list[str]:
    """Flatten the ``extra={"sensitive": ...}`` value into the strings to remove."""
    if value is None:
        return []
    if isinstance(value, str | bytes | int | float):
        items: Iterable[object] = [value]
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, Iterable):
        items = value
    else:
        items = [value]
    texts = [v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in items]
    # Longest first, so a value that contains another is removed whole.
    return sorted((t for t in texts if t), key=len, reverse=True)


def _scrub(text: str, sensitive: list[str]) -> str:
    """Remove the explicitly sensitive values, then the recognised identifiers."""
    for value in sensitive:
        text = text.replace(value, REDACTED)
    return redact(text)


class RedactingFilter(logging.Filter):
    """Rewrite each record so its message, traceback and stack hold no patient identifiers.

    The message is formatted with its args first and the result redacted (an identifier passed
    as an arg is caught too); ``args`` is then cleared so no handler formats the raw values
    again. Values passed as ``extra={"sensitive": ...}`` are removed from the text and the
    attribute itself is replaced. Never drops a record. Safe to run more than once per record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always returns True (keep the record)."""
        sensitive = _sensitive_values(getattr(record, "sensitive", None))
        if hasattr(record, "sensitive"):
            record.sensitive = REDACTED
        record.msg = _scrub(record.getMessage(), sensitive)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatter.format reuses exc_text when set, so a redacted copy here is what prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub(record.exc_text, sensitive)
        if record.stack_info:
            record.stack_info = _scrub(record.stack_info, sensitive)
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO 8601), level, logger, msg, known extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise ``record``; non-JSON extras are written as their ``str``."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in JSON_EXTRAS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def _create_private(path: Path) -> None:
    """Make sure ``path`` exists and is readable by the owner only (POSIX)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    if os.name != "nt":  # an existing file keeps its mode through os.open; tighten it
        path.chmod(0o600)


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose every file, including those opened after a rollover, is 0600.

    The stock handler opens new files with the process umask (often 0644), which would expose
    the fresh log after each rotation.
    """

    def _open(self) -> TextIOWrapper:
        _create_private(Path(self.baseFilename))
        return super()._open()


_OWNED = "_clinicdesk_handler"


class _QueuedHandler(QueueHandler):
    """The one handler on the root logger: it only enqueues; a listener thread writes.

    Writing, flushing and rotating files on the engine's event loop stalled it by hundreds of
    milliseconds during a reconnect storm (tests/bench, docs/PERFORMANCE.md).
    """

    def __init__(self, targets: list[logging.Handler]) -> None:
        self.records: queue.Queue[logging.LogRecord] = queue.Queue(-1)
        super().__init__(self.records)
        self.listener = QueueListener(self.records, *targets, respect_handler_level=True)
        self.targets = targets
        self.closed = False
        self.listener.start()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """A picklable copy with args merged, keeping the traceback apart from the message.

        The stock ``prepare`` folds the traceback into ``msg``; the JSON lines keep it in its
        own ``exc`` field, and the redaction filter scrubs ``exc_text`` on the writing side.
        """
        record = copy.copy(record)
        record.message = record.getMessage()
        record.msg, record.args = record.message, None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(
                record.exc_info
            )
            record.exc_info = None
        return record

    def flush(self) -> None:
        """Wait until every record queued so far has been written."""
        self.records.join()
        for target in self.targets:
            target.flush()

    def close(self) -> None:
        """Write what is still queued and close the files; safe to call twice (atexit)."""
        if self.closed:
            return
        self.closed = True
        self.listener.stop()
        for target in self.targets:
            target.close()
        super().close()


def _remove_owned_handlers(root: logging.Logger) -> None:
    """Drop handlers a previous :func:`configure_logging` installed, so calling it twice is safe."""
    for handler in list(root.handlers):
        if getattr(handler, _OWNED, False):
            root.removeHandler(handler)
            handler.close()


def _prepared(handler: logging.Handler, formatter: logging.Formatter) -> logging.Handler:
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    return handler


def flush_logging() -> None:
    """Block until every record logged so far is on disk (tests, before exit)."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, _OWNED, False):
            handler.flush()


def configure_logging(
    log_dir: Path | None,
    *,
    level: int = logging.INFO,
    console: bool = True,
    max_bytes: int = MAX_BYTES,
    backup_count: int = BACKUP_COUNT,
) -> None:
    """Send the root logger to ``log_dir/clinicdesk.log`` (JSON lines) and/or the console.

    The directory is created 0700 if missing; the log file and its rotations are 0600. Every
    handler carries a :class:`RedactingFilter`. Handlers installed by an earlier call are
    replaced; handlers others added (pytest's caplog) are left alone.
    """
    root = logging.getLogger()
    _remove_owned_handlers(root)
    root.setLevel(level)
    targets: list[logging.Handler] = []
    if log_dir is not None:
        log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        log_file = log_dir / LOG_FILE_NAME
        _create_private(log_file)
        file_handler = PrivateRotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
        )
        targets.append(_prepared(file_handler, JsonLinesFormatter()))
    if console:
        plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        targets.append(_prepared(logging.StreamHandler(sys.stderr), plain))
    if targets:
        handler = _QueuedHandler(targets)
        setattr(handler, _OWNED, True)
        root.addHandler(handler)
        atexit.register(handler.close)  # write what is queued when the process exits
    quiet_chatty_libraries()


# Libraries that narrate routine work at INFO (Alembic prints two lines per store open).
CHATTY = {"alembic": logging.WARNING, "uvicorn.access": logging.WARNING, "httpx": logging.WARNING}


def quiet_chatty_libraries() -> None:
    """Raise the level of libraries whose INFO lines are noise to operators."""
    for name, level in CHATTY.items():
        logging.getLogger(name).setLevel(level)
