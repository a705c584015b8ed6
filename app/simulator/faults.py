"""Fault injection state: what is wrong with an account's link right now.

Two kinds of faults:

- *conditions* that last (refuse, delay, duplicate, reorder, deaf): kept here, per account and
  globally (a fault without a channel applies to every account, including ones created later);
  with ``seconds`` they end by themselves (for ``delay``, ``seconds`` is the added latency), else
  they last until ``heal``;
- *events* that change the account (drop, logout, ban, replaced): applied by the hub at once.

``heal`` clears every condition plus ``replaced`` and temporary bans; logouts and permanent bans
stay (``POST /control/reset`` wipes an account).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_DELAY = 3.0


class FaultKind(StrEnum):
    DROP = "drop"
    REFUSE = "refuse"
    DELAY = "delay"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    LOGOUT = "logout"
    BAN = "ban"
    REPLACED = "replaced"
    DEAF = "deaf"
    HEAL = "heal"


FAULT_KINDS = tuple(k.value for k in FaultKind)
#: Conditions stored in :class:`Faults` as an expiry (monotonic seconds; inf = until heal).
TIMED = ("refuse", "duplicate", "reorder", "deaf")


@dataclass(slots=True)
class Faults:
    """The lasting fault conditions of one account (or of every account, for the global set)."""

    refuse: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    deaf: float = 0.0
    delay: float = 0.0  # seconds added to inbound and receipts (0 = none)

    def set(self, kind: FaultKind, seconds: float | None) -> None:
        """Start condition ``kind`` for ``seconds`` (None: until heal)."""
        if kind is FaultKind.DELAY:
            self.delay = DEFAULT_DELAY if seconds is None else seconds
            return
        expiry = math.inf if seconds is None else time.monotonic() + seconds
        setattr(self, kind.value, expiry)

    def on(self, name: str, now: float | None = None) -> bool:
        """Whether condition ``name`` (one of :data:`TIMED`) is in force."""
        expiry: float = getattr(self, name)
        return expiry > (time.monotonic() if now is None else now)

    def clear(self) -> None:
        self.refuse = self.duplicate = self.reorder = self.deaf = self.delay = 0.0

    def describe(self) -> list[str]:
        """Active conditions, e.g. ``["deaf", "delay:3.0"]``."""
        now = time.monotonic()
        active = [name for name in TIMED if self.on(name, now)]
        if self.delay > 0:
            active.append(f"delay:{self.delay:g}")
        return active


def validate(kind: str, seconds: float | None) -> FaultKind:
    """Check a fault request; raises ValueError with a short code."""
    try:
        fault = FaultKind(kind)
    except ValueError as exc:
        raise ValueError("unknown_fault") from exc
    if seconds is not None and (not math.isfinite(seconds) or seconds <= 0):
        raise ValueError("bad_seconds")
    return fault


class FaultBook:
    """Global conditions plus the per-account ones; answers "is X on for this account?"."""

    def __init__(self) -> None:
        self.everyone = Faults()

    def on(self, own: Faults, name: str) -> bool:
        now = time.monotonic()
        return own.on(name, now) or self.everyone.on(name, now)

    def delay(self, own: Faults) -> float:
        return max(own.delay, self.everyone.delay)

    def describe(self) -> list[str]:
        return self.everyone.describe()
