""" "Connected but deaf" detection for one channel (pure: no I/O, the caller passes the time).

A deaf channel stays CONNECTED, its sends go out and their receipts come back, but no patient
message arrives any more (PEERS_AND_USER_PAINS.md §2-D: Bad MAC loops, openclaw#14146). Silence
alone proves nothing: a clinic is quiet at night. Receipts are the evidence: a ``delivered`` or
``read`` receipt proves the path *from* WhatsApp to us works for acks, and patients normally
answer a fair share of what the clinic sends. So the detector learns, per channel:

- the usual gap between two inbound messages (an exponentially weighted mean, each gap capped
  so one night or one weekend does not teach it that hours of silence are normal), and
- the usual replies per receipted send (decayed counts with a prior, so a new channel starts
  from "patients answer about half the time"),

and suspects deafness while CONNECTED when, since the last inbound message (or since the link
came up, whichever is later), at least ``min_receipts`` sends got receipts, the replies those
sends should have produced are at least ``min_expected_replies``, and the silence is longer than
``max(floor_s, gap_factor × usual gap)``. Without sends there is no evidence, so no suspicion.

Once suspected, the channel stays suspected until an inbound message arrives (no flapping on
threshold noise). A reconnect starts a new connection with fresh evidence: if the link is still
deaf after it, :meth:`DeafDetector.check` says so again (``STILL_DEAF``), and the caller decides
whether another reconnect is due (:func:`reconnect_delay`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.channels import Backoff


@dataclass(frozen=True, slots=True)
class DeafSettings:
    """Thresholds of the detector and of the reconnects it asks for (tests make them tiny)."""

    floor_s: float = 600.0  # never suspect a silence shorter than this
    gap_factor: float = 4.0  # ... nor one shorter than this many usual gaps
    gap_cap_s: float = 3600.0  # a learnt gap counts at most this much (nights, weekends)
    gap_alpha: float = 0.2  # weight of the newest gap in the moving mean
    min_receipts: int = 5  # receipted sends during the silence, at least
    min_expected_replies: float = 2.0  # replies those sends should have produced, at least
    prior_reply_ratio: float = 0.5  # replies per receipted send before anything is learnt
    prior_weight: float = 20.0  # how many sends the prior is worth
    ratio_window: float = 400.0  # decayed counts are halved beyond this many sends
    reconnect: Backoff = field(default_factory=lambda: Backoff(300.0, 3600.0))
    tick_s: float = 15.0  # how often the watcher re-checks every channel

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> DeafSettings:
        """Settings from plain values (``reconnect_base_s`` / ``reconnect_cap_s`` for the
        backoff); unknown keys raise ``ValueError`` so a typo is not silently ignored."""
        known = {f for f in cls.__dataclass_fields__ if f != "reconnect"}
        extra = set(values) - known - {"reconnect_base_s", "reconnect_cap_s"}
        if extra:
            raise ValueError(f"unknown deaf-watch settings: {sorted(extra)}")
        base = float(str(values.get("reconnect_base_s", 300.0)))
        cap = float(str(values.get("reconnect_cap_s", 3600.0)))
        typed: dict[str, Any] = {k: _typed(k, v) for k, v in values.items() if k in known}
        return dataclasses.replace(cls(reconnect=Backoff(base, cap)), **typed)


def _typed(name: str, value: object) -> float | int:
    return int(str(value)) if name == "min_receipts" else float(str(value))


RECENT_IDS = 256  # receipted wa_ids remembered so delivered + read count as one send


class Verdict(StrEnum):
    """What :meth:`DeafDetector.check` concluded."""

    OK = "ok"  # nothing to report (or not enough evidence)
    SUSPECTED = "suspected"  # deafness suspected now, for the first time since inbound flowed
    STILL_DEAF = "still_deaf"  # already suspected, and a new connection is deaf as well


@dataclass(frozen=True, slots=True)
class Suspicion:
    """The evidence behind a verdict (counts only, no patient data)."""

    since: float  # when inbound went silent (the caller's clock)
    silence_s: float
    receipts: int  # sends with a delivered/read receipt during the silence
    threshold_s: float


@dataclass(slots=True)
class DeafDetector:
    """One channel's inbound pattern and current evidence (see the module docstring)."""

    settings: DeafSettings
    usual_gap_s: float | None = None
    replies: float = 0.0  # decayed inbound count
    sends: float = 0.0  # decayed receipted-send count
    last_inbound: float | None = None
    connected_at: float | None = None  # None: not CONNECTED, nothing is evaluated
    receipted: set[str] = field(default_factory=set)  # wa_ids receipted during the silence
    recent: dict[str, None] = field(default_factory=dict)  # wa_ids already learnt from (LRU)
    suspected_since: float | None = None
    flagged_this_link: bool = False  # a verdict was given for the current connection

    # ---- facts ----------------------------------------------------------------------------

    def connected(self, now: float) -> None:
        """The link came up: a new connection, with fresh evidence."""
        self.connected_at = now
        self.receipted.clear()
        self.flagged_this_link = False

    def disconnected(self) -> None:
        """The link went down: silence is expected now and proves nothing."""
        self.connected_at = None
        self.receipted.clear()

    def inbound(self, now: float) -> bool:
        """A patient message arrived. Returns True when this ends a suspicion."""
        if self.last_inbound is not None and self.suspected_since is None:
            self._learn_gap(now - self.last_inbound)
        self.last_inbound = now
        self.replies += 1.0
        self.receipted.clear()
        cleared = self.suspected_since is not None
        self.suspected_since, self.flagged_this_link = None, False
        return cleared

    def receipt(self, wa_id: str) -> None:
        """One of our sends got a delivered/read receipt (repeats of one wa_id count once)."""
        if self.connected_at is None:
            return
        if len(self.receipted) < max(self.settings.min_receipts, self._needed_sends()):
            self.receipted.add(wa_id)  # bounded: no more ids than the verdict needs
        if wa_id in self.recent:
            return
        self.recent[wa_id] = None
        if len(self.recent) > RECENT_IDS:
            del self.recent[next(iter(self.recent))]
        if self.suspected_since is None:  # a deaf period must not teach "nobody replies"
            self.sends += 1.0
            self._decay()

    # ---- judgement --------------------------------------------------------------------------

    def check(self, now: float) -> tuple[Verdict, Suspicion | None]:
        """Whether the channel looks deaf at ``now`` (one verdict per connection)."""
        evidence = self._evidence(now)
        if evidence is None or self.flagged_this_link:
            return Verdict.OK, evidence
        self.flagged_this_link = True
        if self.suspected_since is not None:
            return Verdict.STILL_DEAF, evidence
        self.suspected_since = evidence.since
        return Verdict.SUSPECTED, evidence

    def threshold_s(self) -> float:
        """How long a silence must last before it can be suspicious."""
        usual = self.usual_gap_s or 0.0
        return max(self.settings.floor_s, self.settings.gap_factor * usual)

    def reply_ratio(self) -> float:
        """Replies per receipted send, learnt (with the prior for a new channel)."""
        s = self.settings
        prior = s.prior_reply_ratio * s.prior_weight
        return (self.replies + prior) / (self.sends + s.prior_weight)

    def _evidence(self, now: float) -> Suspicion | None:
        if self.connected_at is None:
            return None
        since = max(self.connected_at, self.last_inbound or self.connected_at)
        receipts = len(self.receipted)
        if receipts < max(self.settings.min_receipts, self._needed_sends()):
            return None
        silence, threshold = now - since, self.threshold_s()
        if silence <= threshold:
            return None
        if self.suspected_since is not None:
            since = self.suspected_since
        return Suspicion(since, now - since, receipts, threshold)

    def _needed_sends(self) -> int:
        """Receipted sends whose expected replies reach ``min_expected_replies``."""
        ratio = max(self.reply_ratio(), 1e-3)
        return min(1000, math.ceil(self.settings.min_expected_replies / ratio))

    def _learn_gap(self, gap: float) -> None:
        gap = min(max(gap, 0.0), self.settings.gap_cap_s)
        if self.usual_gap_s is None:
            self.usual_gap_s = gap
            return
        alpha = self.settings.gap_alpha
        self.usual_gap_s = alpha * gap + (1 - alpha) * self.usual_gap_s

    def _decay(self) -> None:
        if self.sends > self.settings.ratio_window:
            self.sends, self.replies = self.sends / 2, self.replies / 2


def reconnect_delay(settings: DeafSettings, attempt: int) -> float:
    """How long after a deaf reconnect the next one may happen (doubling to a cap, no jitter:
    these are rare, per channel, and never synchronised across channels)."""
    return settings.reconnect.ceiling(attempt)
