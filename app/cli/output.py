"""Printing results (JSON for scripts, aligned columns for people), exit codes, and the
console logging of short commands. Light on purpose: imported before any command runs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from app.domain.errors import ClinicDeskError
from app.infra.logging import configure_logging

EXIT_OK, EXIT_ERROR, EXIT_AUDIT_BROKEN = 0, 1, 3


class AuditBrokenError(ClinicDeskError):
    """The audit chain failed verification (its own exit code)."""


def quiet_logging() -> None:
    """Console warnings only, for short CLI commands (the engine logs to files)."""
    configure_logging(None, level=logging.WARNING)


def print_json(value: Any) -> None:
    """Pretty JSON on standard output."""
    print(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as aligned text columns with a header line."""
    cells = [[_text(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def fail(message: str) -> None:
    """One line on standard error, prefixed with the program name."""
    print(f"clinicdesk: error: {message}", file=sys.stderr)
