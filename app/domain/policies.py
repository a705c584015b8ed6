"""Small policies with numbers in them: password rules and login throttling."""

from __future__ import annotations

import re
from datetime import timedelta

from app.domain.errors import ClinicDeskError, ErrorCode

PASSWORD_MIN = 12  # ASVS 4.0.3 V2.1.1
PASSWORD_MAX = 128  # ASVS allows at least 64; argon2 has no length limit
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

# Login throttling (ASVS 2.2.1): a few free attempts, then a doubling wait with a cap. Staff are
# slowed, never locked out for good; an attacker gets 12 guesses in the first hour, then ~4/h.
FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)


def check_password(password: str) -> None:
    """Raise unless ``password`` satisfies the length rules (no composition rules, per ASVS)."""
    if len(password) < PASSWORD_MIN:
        raise ClinicDeskError(ErrorCode.PASSWORD_TOO_SHORT, minimum=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        raise ClinicDeskError(ErrorCode.PASSWORD_TOO_LONG, maximum=PASSWORD_MAX)


def normalise_username(username: str) -> str:
    """Lower-case ``username`` and check its form (letters, digits, ``._-``; 2–64 long)."""
    name = username.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="username")
    return name


def throttle_delay(failures: int) -> timedelta | None:
    """How long logins wait after ``failures`` consecutive failures (None: no wait)."""
    if failures < FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES, 10)
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)
