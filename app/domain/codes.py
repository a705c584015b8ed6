"""Codes in telemetry reports: a stored reason or state goes to the central office only when
it looks like a code (never free text, which could hold a name or a number)."""

from __future__ import annotations

import re

_CODE = re.compile(r"[A-Za-z0-9_.:-]+")


def as_code(text: str, max_len: int = 64) -> str:
    """``text`` when it is a code (letters, digits and ``_.:-``, 1 to ``max_len`` of them),
    else ``"other"``."""
    return text if len(text) <= max_len and _CODE.fullmatch(text) else "other"
