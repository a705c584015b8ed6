"""The recovery key: 128 random bits shown once at ``clinicdesk init``, BitLocker style.

The key is eight 16-bit words; word ``w`` is written as the six-digit number ``11 * w``. A wrong
digit changes a group by ``d * 10**k`` and swapping two adjacent different digits changes it by
``9 * (a - b) * 10**k``; neither is ever a multiple of 11, so typing mistakes are caught group by
group, before any cryptography runs, and the person is told which group to look at again.
"""

from __future__ import annotations

import re
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.errors import ClinicDeskError, ErrorCode
from app.security.fsperms import write_new_file

RAW_BYTES = 16
GROUPS = 8
GROUP_DIGITS = 6
CHECK_FACTOR = 11
_WORDS = struct.Struct(">8H")  # eight big-endian 16-bit words
_ASCII_DIGITS = frozenset("0123456789")
# What people put between groups when they copy the key from paper or a PDF: spaces, line breaks,
# ASCII hyphens and the typographic dashes word processors substitute for them.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


@dataclass(frozen=True)
class RecoveryKey:
    """A recovery key. ``raw`` is the secret; it is kept out of ``repr`` so logs never show it."""

    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.raw) != RAW_BYTES:
            raise ClinicDeskError(ErrorCode.RECOVERY_KEY_MALFORMED, raw_bytes=len(self.raw))

    def formatted(self) -> str:
        """The 48 digits in 8 dash-separated groups of 6, as printed for IT staff."""
        return "-".join(f"{CHECK_FACTOR * word:06d}" for word in _WORDS.unpack(self.raw))


def generate() -> RecoveryKey:
    """A new recovery key from the operating system's CSPRNG."""
    return RecoveryKey(secrets.token_bytes(RAW_BYTES))


def parse(text: str) -> RecoveryKey:
    """The key typed in ``text``; separators are ignored.

    Raises RECOVERY_KEY_MALFORMED (``digits`` = how many digits were found) unless exactly 48
    digits remain, then RECOVERY_KEY_GROUP_INVALID (``group`` = 1-based) for the first group
    that cannot be a valid group, so a typo is reported where it is.
    """
    compact = _SEPARATORS.sub("", text)
    digit_count = sum(ch in _ASCII_DIGITS for ch in compact)
    if len(compact) != GROUPS * GROUP_DIGITS or digit_count != len(compact):
        raise ClinicDeskError(
            ErrorCode.RECOVERY_KEY_MALFORMED,
            digits=digit_count,
            non_digits=len(compact) - digit_count,
        )
    starts = range(0, GROUPS * GROUP_DIGITS, GROUP_DIGITS)
    words = [_group_word(n, compact[s : s + GROUP_DIGITS]) for n, s in enumerate(starts, 1)]
    return RecoveryKey(_WORDS.pack(*words))


def _group_word(number: int, group: str) -> int:
    """The 16-bit word behind one six-digit group (in order, so the first bad group is named)."""
    value = int(group)
    if value % CHECK_FACTOR or value // CHECK_FACTOR > 0xFFFF:
        raise ClinicDeskError(ErrorCode.RECOVERY_KEY_GROUP_INVALID, group=number)
    return value // CHECK_FACTOR


def read_recovery_key_file(path: Path) -> RecoveryKey:
    """The key stored in ``path`` (as written by :func:`write_recovery_key_file` or typed).

    Raises RECOVERY_KEY_MALFORMED with ``reason="unreadable"`` if the file cannot be read as
    text, otherwise whatever :func:`parse` raises.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClinicDeskError(
            ErrorCode.RECOVERY_KEY_MALFORMED, reason="unreadable", error=type(exc).__name__
        ) from exc
    return parse(text)


def write_recovery_key_file(path: Path, rk: RecoveryKey) -> None:
    """Save the formatted key to a new file ``path`` (mode 0600, written atomically).

    Raises ALREADY_EXISTS rather than replace any existing file: it may hold another recovery
    key, which would then be lost. Other I/O failures propagate as OSError.
    """
    data = (rk.formatted() + "\n").encode("ascii")
    try:
        write_new_file(path, data, 0o600)
    except FileExistsError as exc:
        raise ClinicDeskError(
            ErrorCode.ALREADY_EXISTS, entity="recovery key file", path=str(path)
        ) from exc
