"""Outbound sending rules (pure): retries, what each send failure leads to, receipt order.

Patient-facing sends are **at most once** (RELIABILITY_SECURITY.md §3.2): a send whose outcome
is unknown (the transport says ``ambiguous``, or the engine died between claiming a row and
recording the result) goes to NEEDS_REVIEW and is never resent without a person confirming it.
Only failures that prove the message did not leave are retried automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutboxStatus(StrEnum):
    """Where an outbox row stands. ``sending`` is committed before the transport is called."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"


class Ack(StrEnum):
    """A stored message's delivery state (ticks in the desk)."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Action(StrEnum):
    """What the sender does with a row after a failed attempt."""

    RETRY = "retry"  # queued again after ``delay``; the attempt counts
    WAIT_LINK = "wait_link"  # queued again, the attempt does not count; wait for CONNECTED
    FAIL = "fail"  # FAILED with the reason; a person may retry it
    REVIEW = "review"  # NEEDS_REVIEW: it may have been sent; never resent automatically


# Failure kinds as the transport port names them (app.services.transport.SendFailureKind).
RETRIED_KINDS = frozenset({"transient", "rate_limited"})
WAIT_KINDS = frozenset({"not_connected"})

PROBLEM_STATUSES = (OutboxStatus.FAILED, OutboxStatus.NEEDS_REVIEW)
CRASH_CODE = "crash_unknown_outcome"  # last_error of rows found in ``sending`` at start
ERROR_MAX = 120  # the outbox.last_error column


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` automatic retries, waiting about ``base``·2ⁿ s (n = 0, 1, 2 → 1, 2, 4 s).

    Each wait is spread by ±``jitter`` (a fraction) so channels that failed together do not
    retry in lockstep.
    """

    retries: int = 3
    base: float = 1.0
    jitter: float = 0.25

    def delay(self, retry: int, uniform: float) -> float:
        """Seconds before retry number ``retry`` (0-based), given ``uniform`` in [0, 1)."""
        spread = 1.0 + self.jitter * (2.0 * uniform - 1.0)
        return self.base * (1 << min(retry, 30)) * spread


@dataclass(frozen=True, slots=True)
class SendFailure:
    """A failed send as the transport reported it (kind and code are short, stable codes)."""

    kind: str
    code: str
    ambiguous: bool = False
    retry_after: float | None = None

    @property
    def error(self) -> str:
        """The reason stored in ``last_error`` (codes only: never text or numbers)."""
        return f"{self.kind}:{self.code}"[:ERROR_MAX]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failed attempt; ``delay`` in seconds for RETRY."""

    action: Action
    error: str
    delay: float = 0.0


def decide(
    failure: SendFailure, attempts: int, uniform: float, policy: RetryPolicy | None = None
) -> Decision:
    """The next step for a row whose attempt number ``attempts`` (1-based) failed.

    Ambiguous failures go to review whatever their kind; "not connected" waits for the link
    without using an attempt; transient and rate-limited failures retry until the policy's
    retries are used up; anything else (bad recipient, auth, banned, permanent, unknown kinds)
    fails at once.
    """
    policy = policy or RetryPolicy()
    if failure.ambiguous:
        return Decision(Action.REVIEW, failure.error)
    if failure.kind in WAIT_KINDS:
        return Decision(Action.WAIT_LINK, failure.error)
    if failure.kind not in RETRIED_KINDS or attempts > policy.retries:
        return Decision(Action.FAIL, failure.error)
    delay = policy.delay(attempts - 1, uniform)
    return Decision(Action.RETRY, failure.error, max(delay, failure.retry_after or 0.0))


# Receipts only move a message forward. "failed" ranks above "sent" (WhatsApp accepted the
# message, then reported it undeliverable) but below "delivered" and "read": a later delivery
# or read receipt proves the patient got it after all, so it wins over an earlier "failed".
_RANK = {Ack.PENDING: 0, Ack.SENT: 1, Ack.FAILED: 2, Ack.DELIVERED: 3, Ack.READ: 4}


def advance(current: str, receipt: str) -> Ack | None:
    """The ack after ``receipt`` arrives for a message at ``current``; None if it changes nothing.

    Duplicate, late or reordered receipts never move a message backwards, so applying the
    same receipts in any order, any number of times, ends in the same state.
    """
    try:
        old, new = Ack(current), Ack(receipt)
    except ValueError:
        return None
    return new if _RANK[new] > _RANK[old] else None
