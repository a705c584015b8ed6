"""The channel domain: transitions, reason → state and policy, backoff, breaker, limits,
and the supervisor's pure rules built on them."""

from __future__ import annotations

import itertools

import pytest

from app.channels.runtime import connects_at_boot, dropped_while
from app.domain.channels import (
    ALLOWED,
    MAX_PER_MINUTE,
    Backoff,
    CircuitBreaker,
    LinkState,
    Policy,
    Reason,
    SendLimits,
    check_transition,
    clamp_limits,
    outcome_of,
)
from app.domain.errors import ClinicDeskError, ErrorCode

S = LinkState
PAIRS = list(itertools.product(LinkState, LinkState))


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition_table(old: LinkState, new: LinkState) -> None:
    if new in ALLOWED[old]:
        check_transition(old, new)
        return
    with pytest.raises(ClinicDeskError) as info:
        check_transition(old, new)
    assert info.value.code is ErrorCode.CHANNEL_INVALID_TRANSITION


def test_no_state_moves_to_itself_or_back_to_initializing() -> None:
    assert all(state not in ALLOWED[state] for state in LinkState)
    assert all(S.INITIALIZING not in targets for targets in ALLOWED.values())


EXPECTED = {
    Reason.CONNECTED: (S.CONNECTED, Policy.NONE),
    Reason.CONNECTION_LOST: (S.CONNECTING, Policy.RECONNECT),
    Reason.CONNECT_FAILED: (S.DISCONNECTED, Policy.RECONNECT),
    Reason.SERVER_UNAVAILABLE: (S.CONNECTING, Policy.RECONNECT),
    Reason.WORKER_CRASHED: (S.CONNECTING, Policy.RECONNECT),
    Reason.WORKER_HUNG: (S.CONNECTING, Policy.RECONNECT),
    Reason.LOGGED_OUT: (S.QR_REQUIRED, Policy.REPAIR),
    Reason.NOT_PAIRED: (S.QR_REQUIRED, Policy.REPAIR),
    Reason.PAIRING_TIMEOUT: (S.QR_REQUIRED, Policy.REPAIR),
    Reason.BANNED: (S.ERROR, Policy.STOP),
    Reason.REPLACED: (S.ERROR, Policy.STOP),
    Reason.CLIENT_OUTDATED: (S.ERROR, Policy.STOP),
    Reason.MAIN_DEVICE_GONE: (S.ERROR, Policy.STOP),
    Reason.TEMP_BANNED: (S.SUSPENDED, Policy.SUSPEND),
    Reason.SUSPENDED_BY_USER: (S.SUSPENDED, Policy.SUSPEND),
    Reason.LOGOUT_BY_USER: (S.QR_REQUIRED, Policy.REPAIR),
}


@pytest.mark.parametrize("reason", list(EXPECTED), ids=str)
def test_outcome_of_reason(reason: Reason) -> None:
    outcome = outcome_of(reason)
    assert (outcome.state, outcome.policy) == EXPECTED[reason]


def test_every_reason_has_an_outcome() -> None:
    assert all(outcome_of(r).state in LinkState for r in Reason)


@pytest.mark.parametrize("attempt", range(0, 40, 3))
def test_backoff_stays_within_zero_and_the_capped_ceiling(attempt: int) -> None:
    b = Backoff(1.0, 300.0)
    assert b.ceiling(attempt) == min(300.0, 2.0**attempt)
    assert b.delay(attempt, 0.0) == 0.0
    assert 0 <= b.delay(attempt, 0.999) <= 300.0


def test_breaker_opens_at_threshold_then_half_opens_and_closes() -> None:
    breaker = CircuitBreaker(threshold=3, probe_after=10.0)
    assert [breaker.record_failure(t) for t in (0.0, 1.0, 2.0)] == [False, False, True]
    assert breaker.is_open and not breaker.may_attempt(5.0)
    assert breaker.may_attempt(12.0)  # half-open: one probe
    assert breaker.record_failure(12.0) is False  # the probe failed: wait again
    assert not breaker.may_attempt(20.0) and breaker.may_attempt(22.0)
    breaker.record_success()
    assert not breaker.is_open and breaker.failures == 0


def test_clamp_limits_keeps_defaults_and_enforces_bounds() -> None:
    assert clamp_limits(SendLimits()) == SendLimits()
    wild = clamp_limits(SendLimits(min_gap_s=0, max_gap_s=0, per_minute=10_000, typing_max_s=99))
    assert wild.min_gap_s >= 1.0 and wild.max_gap_s >= wild.min_gap_s
    assert wild.per_minute == MAX_PER_MINUTE and wild.typing_max_s == 30.0


BOOT = [
    (S.CONNECTED, Reason.CONNECTED, True),
    (S.DISCONNECTED, Reason.STOPPED, True),
    (S.INITIALIZING, None, True),
    (S.CONNECTING, Reason.CONNECTION_LOST, True),
    (S.PAIRING, Reason.PAIRING_STARTED, True),
    (S.ERROR, Reason.CIRCUIT_OPEN, True),
    (S.SUSPENDED, Reason.TEMP_BANNED, True),
    (S.QR_REQUIRED, Reason.LOGGED_OUT, False),
    (S.SUSPENDED, Reason.SUSPENDED_BY_USER, False),
    (S.ERROR, Reason.BANNED, False),
    (S.ERROR, Reason.REPLACED, False),
    (S.ERROR, Reason.CLIENT_OUTDATED, False),
]


@pytest.mark.parametrize(("state", "reason", "connects"), BOOT)
def test_who_connects_at_boot(state: LinkState, reason: Reason | None, connects: bool) -> None:
    assert connects_at_boot(state, reason) is connects


DROPPED_WHILE_PAIRING = [
    (Reason.CONNECTION_LOST, True),
    (Reason.CONNECT_FAILED, True),
    (Reason.NOT_PAIRED, True),
    (Reason.WORKER_CRASHED, False),
    (Reason.PAIRED, False),
    (Reason.PAIRING_TIMEOUT, False),
    (Reason.BANNED, False),
]


@pytest.mark.parametrize(("reason", "dropped"), DROPPED_WHILE_PAIRING)
def test_reports_ignored_while_a_person_pairs(reason: Reason, dropped: bool) -> None:
    assert dropped_while(S.PAIRING, reason) is dropped
    assert dropped_while(S.CONNECTED, reason) is False
