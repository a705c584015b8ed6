"""Channel link state machine, disconnect reasons and what each one means (pure).

The mapping follows WHATSAPP_ENGINES.md §2.3: R = reconnect with backoff, Q = wait for a person
to pair again, S = stop and wait for a person. Transports only report facts (a reason); what to
do with them is decided here, the same for every transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import ClinicDeskError, ErrorCode


class LinkState(StrEnum):
    """Where a channel's WhatsApp link stands."""

    INITIALIZING = "INITIALIZING"
    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    QR_REQUIRED = "QR_REQUIRED"
    PAIRING = "PAIRING"
    CONNECTED = "CONNECTED"
    ERROR = "ERROR"
    SUSPENDED = "SUSPENDED"


S = LinkState
ALLOWED: dict[LinkState, frozenset[LinkState]] = {
    S.INITIALIZING: frozenset({S.CONNECTING, S.QR_REQUIRED, S.DISCONNECTED, S.SUSPENDED, S.ERROR}),
    S.DISCONNECTED: frozenset({S.CONNECTING, S.QR_REQUIRED, S.PAIRING, S.SUSPENDED, S.ERROR}),
    S.CONNECTING: frozenset(
        {S.CONNECTED, S.DISCONNECTED, S.QR_REQUIRED, S.PAIRING, S.ERROR, S.SUSPENDED}
    ),
    S.QR_REQUIRED: frozenset({S.PAIRING, S.CONNECTING, S.DISCONNECTED, S.SUSPENDED, S.ERROR}),
    S.PAIRING: frozenset(
        {S.CONNECTING, S.CONNECTED, S.QR_REQUIRED, S.DISCONNECTED, S.ERROR, S.SUSPENDED}
    ),
    S.CONNECTED: frozenset({S.DISCONNECTED, S.CONNECTING, S.QR_REQUIRED, S.ERROR, S.SUSPENDED}),
    S.ERROR: frozenset({S.CONNECTING, S.QR_REQUIRED, S.PAIRING, S.DISCONNECTED, S.SUSPENDED}),
    S.SUSPENDED: frozenset({S.CONNECTING, S.DISCONNECTED, S.QR_REQUIRED, S.ERROR}),
}


def check_transition(old: LinkState, new: LinkState) -> None:
    """Raise ``channel.invalid_transition`` unless ``old`` → ``new`` is allowed."""
    if new not in ALLOWED[old]:
        raise ClinicDeskError(
            ErrorCode.CHANNEL_INVALID_TRANSITION, from_state=old.value, to_state=new.value
        )


class Reason(StrEnum):
    """Why a channel changed state. Stable codes: the desk translates them."""

    STARTING = "starting"
    CONNECTED = "connected"
    PAIRED = "paired"
    NOT_PAIRED = "not_paired"  # no credentials yet: a person must pair
    PAIRING_STARTED = "pairing_started"
    PAIRING_TIMEOUT = "pairing_timeout"  # nobody scanned in time; no new QR by itself
    PAIRING_FAILED = "pairing_failed"
    CONNECTION_LOST = "connection_lost"  # drop, keep-alive timeout, server closed
    CONNECT_FAILED = "connect_failed"  # dial error (no internet, refused)
    SERVER_UNAVAILABLE = "server_unavailable"  # 500/503
    LOGGED_OUT = "logged_out"  # unlinked on the phone (401)
    MAIN_DEVICE_GONE = "main_device_gone"  # 403
    BANNED = "banned"  # 406
    TEMP_BANNED = "temp_banned"  # 402, with an expiry
    REPLACED = "replaced"  # same session connected elsewhere (440 / StreamReplaced)
    CLIENT_OUTDATED = "client_outdated"  # 405
    WORKER_CRASHED = "worker_crashed"
    WORKER_HUNG = "worker_hung"
    CIRCUIT_OPEN = "circuit_open"  # too many failures in a row; probing later
    SUSPENDED_BY_USER = "suspended_by_user"
    RESUMED_BY_USER = "resumed_by_user"
    LOGOUT_BY_USER = "logout_by_user"
    STOPPED = "stopped"  # engine shutting down
    DEAF_SUSPECTED = "deaf_suspected"  # connected, but inbound stopped: fresh session (engine)


class Policy(StrEnum):
    """What the supervisor does after a reason."""

    RECONNECT = "R"  # retry with backoff, under the breaker
    REPAIR = "Q"  # wait for a person to pair (no automatic QR)
    STOP = "S"  # stop, show the reason, wait for a person
    SUSPEND = "P"  # paused until an expiry or a person resumes
    NONE = "-"  # no action


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state a reason leads to and the policy that follows."""

    state: LinkState
    policy: Policy


_OUTCOMES: dict[Reason, Outcome] = {
    Reason.CONNECTED: Outcome(S.CONNECTED, Policy.NONE),
    Reason.PAIRED: Outcome(S.CONNECTING, Policy.NONE),
    Reason.NOT_PAIRED: Outcome(S.QR_REQUIRED, Policy.REPAIR),
    Reason.PAIRING_STARTED: Outcome(S.PAIRING, Policy.NONE),
    Reason.PAIRING_TIMEOUT: Outcome(S.QR_REQUIRED, Policy.REPAIR),
    Reason.PAIRING_FAILED: Outcome(S.QR_REQUIRED, Policy.REPAIR),
    Reason.CONNECTION_LOST: Outcome(S.CONNECTING, Policy.RECONNECT),
    Reason.CONNECT_FAILED: Outcome(S.DISCONNECTED, Policy.RECONNECT),
    Reason.SERVER_UNAVAILABLE: Outcome(S.CONNECTING, Policy.RECONNECT),
    Reason.LOGGED_OUT: Outcome(S.QR_REQUIRED, Policy.REPAIR),
    Reason.MAIN_DEVICE_GONE: Outcome(S.ERROR, Policy.STOP),
    Reason.BANNED: Outcome(S.ERROR, Policy.STOP),
    Reason.TEMP_BANNED: Outcome(S.SUSPENDED, Policy.SUSPEND),
    Reason.REPLACED: Outcome(S.ERROR, Policy.STOP),
    Reason.CLIENT_OUTDATED: Outcome(S.ERROR, Policy.STOP),
    Reason.WORKER_CRASHED: Outcome(S.CONNECTING, Policy.RECONNECT),
    Reason.WORKER_HUNG: Outcome(S.CONNECTING, Policy.RECONNECT),
    Reason.CIRCUIT_OPEN: Outcome(S.ERROR, Policy.RECONNECT),
    Reason.SUSPENDED_BY_USER: Outcome(S.SUSPENDED, Policy.SUSPEND),
    Reason.RESUMED_BY_USER: Outcome(S.CONNECTING, Policy.NONE),
    Reason.LOGOUT_BY_USER: Outcome(S.QR_REQUIRED, Policy.REPAIR),
    Reason.STARTING: Outcome(S.CONNECTING, Policy.NONE),
    Reason.STOPPED: Outcome(S.DISCONNECTED, Policy.NONE),
    Reason.DEAF_SUSPECTED: Outcome(S.CONNECTING, Policy.NONE),
}


def outcome_of(reason: Reason) -> Outcome:
    """The state and policy that ``reason`` leads to."""
    return _OUTCOMES[reason]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: delay = uniform(0, min(cap, base * 2**attempt)).

    Full jitter spreads a reconnect storm of many channels over the whole window instead of
    bunching them (AWS Architecture Blog, "Exponential Backoff And Jitter").
    """

    base: float = 1.0
    cap: float = 300.0

    def ceiling(self, attempt: int) -> float:
        """The largest delay for ``attempt`` (0-based)."""
        return float(min(self.cap, self.base * (1 << min(attempt, 30))))

    def delay(self, attempt: int, uniform: float) -> float:
        """The delay for ``attempt`` given a random ``uniform`` in [0, 1)."""
        return self.ceiling(attempt) * uniform


@dataclass(slots=True)
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; half-open probes every ``probe_after`` s.

    ``now`` values are monotonic seconds supplied by the caller (pure, testable).
    """

    threshold: int = 10
    probe_after: float = 600.0
    failures: int = 0
    opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def record_failure(self, now: float) -> bool:
        """Count a failure; returns True when this failure opened the circuit."""
        self.failures += 1
        if self.opened_at is None and self.failures >= self.threshold:
            self.opened_at = now
            return True
        if self.opened_at is not None:
            self.opened_at = now  # a failed half-open probe re-arms the wait
        return False

    def record_success(self) -> None:
        """A connection succeeded: close the circuit and forget the failures."""
        self.failures, self.opened_at = 0, None

    def may_attempt(self, now: float) -> bool:
        """True when closed, or when open long enough for one half-open probe."""
        return self.opened_at is None or now - self.opened_at >= self.probe_after


@dataclass(frozen=True, slots=True)
class SendLimits:
    """Per-channel send pacing (WHATSAPP_ENGINES.md §3). Sends wait; none is ever dropped."""

    min_gap_s: float = 4.0  # between two sends on the channel, plus jitter up to max_gap_s
    max_gap_s: float = 12.0
    per_minute: int = 10
    new_chats_per_hour: int = 60
    per_chat_gap_s: float = 6.0
    typing_s_per_char: float = 0.04
    typing_max_s: float = 8.0

    def typing_time(self, chars: int) -> float:
        """How long to show "typing…" before a message of ``chars`` characters."""
        return min(self.typing_max_s, self.typing_s_per_char * chars)


# Upper bounds nobody may configure past (the brief's tiers; Baileys sees 429 near 3 msg/s).
MAX_PER_MINUTE = 60
MIN_GAP_FLOOR_S = 1.0


def clamp_limits(limits: SendLimits) -> SendLimits:
    """``limits`` with every figure inside the allowed bounds."""
    return SendLimits(
        min_gap_s=max(MIN_GAP_FLOOR_S, limits.min_gap_s),
        max_gap_s=max(MIN_GAP_FLOOR_S, limits.min_gap_s, limits.max_gap_s),
        per_minute=max(1, min(MAX_PER_MINUTE, limits.per_minute)),
        new_chats_per_hour=max(1, min(600, limits.new_chats_per_hour)),
        per_chat_gap_s=max(MIN_GAP_FLOOR_S, limits.per_chat_gap_s),
        typing_s_per_char=max(0.0, limits.typing_s_per_char),
        typing_max_s=max(0.0, min(30.0, limits.typing_max_s)),
    )
