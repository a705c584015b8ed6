"""The outbound rules: which failures retry, how long they wait, and receipt order."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.outbox import Ack, Action, RetryPolicy, SendFailure, advance, decide

POLICY = RetryPolicy()


@pytest.mark.parametrize("kind", ["transient", "rate_limited"])
def test_retried_kinds_retry_three_times_then_fail(kind: str) -> None:
    failure = SendFailure(kind, "x")
    actions = [decide(failure, attempt, 0.5).action for attempt in (1, 2, 3, 4)]
    assert actions == [Action.RETRY, Action.RETRY, Action.RETRY, Action.FAIL]
    assert decide(failure, 4, 0.5).error == f"{kind}:x"


def test_retry_waits_about_one_two_four_seconds() -> None:
    waits = [decide(SendFailure("transient", "x"), a, 0.5).delay for a in (1, 2, 3)]
    assert waits == [1.0, 2.0, 4.0]


@given(st.integers(0, 2), st.floats(0.0, 0.999999))
def test_jitter_stays_within_a_quarter(retry: int, uniform: float) -> None:
    nominal = float(1 << retry)
    assert 0.75 * nominal <= POLICY.delay(retry, uniform) <= 1.25 * nominal


def test_rate_limit_waits_at_least_retry_after() -> None:
    decision = decide(SendFailure("rate_limited", "429", retry_after=30.0), 1, 0.5)
    assert (decision.action, decision.delay) == (Action.RETRY, 30.0)


@pytest.mark.parametrize("kind", ["bad_recipient", "auth", "banned", "permanent", "new_kind"])
def test_final_kinds_fail_at_once(kind: str) -> None:
    assert decide(SendFailure(kind, "x"), 1, 0.5).action is Action.FAIL


def test_not_connected_waits_for_the_link_however_often() -> None:
    decision = decide(SendFailure("not_connected", "closed"), 99, 0.5)
    assert decision.action is Action.WAIT_LINK


@pytest.mark.parametrize("kind", ["transient", "not_connected", "bad_recipient", "banned"])
def test_ambiguous_goes_to_review_whatever_the_kind(kind: str) -> None:
    decision = decide(SendFailure(kind, "lost", ambiguous=True), 1, 0.5)
    assert (decision.action, decision.error) == (Action.REVIEW, f"{kind}:lost")


def test_error_is_cut_to_the_column() -> None:
    assert len(SendFailure("transient", "x" * 500).error) == 120


def test_receipts_move_forward_only() -> None:
    assert advance("pending", "sent") is Ack.SENT
    assert advance("sent", "read") is Ack.READ
    assert advance("read", "delivered") is None
    assert advance("delivered", "delivered") is None
    assert advance("sent", "failed") is Ack.FAILED
    assert advance("failed", "read") is Ack.READ  # proof of delivery wins over "failed"
    assert advance("delivered", "failed") is None
    assert advance("sent", "bogus") is None


@pytest.mark.parametrize("order", list(itertools.permutations(["sent", "delivered", "read"])))
def test_any_receipt_order_ends_read(order: tuple[str, ...]) -> None:
    ack = "pending"
    for receipt in (*order, *order):
        ack = advance(ack, receipt) or ack
    assert ack == "read"
