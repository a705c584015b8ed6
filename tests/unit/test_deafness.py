"""The deaf-channel detector (pure) and the watch that acts on it (fake supervisor and store).

Time is passed in: every test plays hours of a clinic's day in microseconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import pytest

from app.channels.deafwatch import WARNING, DeafWatch
from app.channels.worker import reconcile
from app.domain.channels import Backoff
from app.domain.deafness import DeafDetector, DeafSettings, Verdict, reconnect_delay
from app.services.audit import Auditor
from app.services.events import (
    ChannelDeafCleared,
    ChannelDeafSuspected,
    ChannelStateChanged,
    Event,
    EventBus,
    InboundReceived,
    ReceiptReceived,
)
from app.store.types import utcnow

SMALL = DeafSettings(
    floor_s=60.0, gap_factor=3.0, min_receipts=3, min_expected_replies=1.0,
    reconnect=Backoff(100.0, 400.0), tick_s=3600.0,
)  # fmt: skip
HOUR = 3600.0


def connected(settings: DeafSettings = SMALL, at: float = 0.0) -> DeafDetector:
    d = DeafDetector(settings)
    d.connected(at)
    return d


def receipts(d: DeafDetector, *ids: str) -> None:
    for wa_id in ids:
        d.receipt(wa_id)


# ---- the detector ------------------------------------------------------------------------------


def test_a_quiet_night_without_sends_is_never_suspected() -> None:
    d = connected()
    d.inbound(0.0)
    for hour in range(1, 13):
        assert d.check(hour * HOUR)[0] is Verdict.OK


def test_a_long_silence_with_too_few_receipts_is_not_evidence() -> None:
    d = connected()
    receipts(d, "a", "b")  # two reminders went out and were delivered; nobody had to answer
    assert d.check(10 * HOUR)[0] is Verdict.OK


def test_a_chatty_day_of_sends_and_replies_is_never_suspected() -> None:
    d = connected()
    now = 0.0
    for n in range(200):  # a reply every 40-80 s, two sends in between
        receipts(d, f"out-{n}-1", f"out-{n}-2")
        now += 40.0 + (n % 3) * 20.0
        assert d.check(now)[0] is Verdict.OK
        d.inbound(now)
    assert d.suspected_since is None


def test_receipts_with_no_reply_past_the_threshold_raise_one_suspicion() -> None:
    d = connected()
    d.inbound(0.0)
    receipts(d, "a", "b", "c")
    assert d.check(59.0)[0] is Verdict.OK  # under the 60 s floor
    verdict, evidence = d.check(61.0)
    assert verdict is Verdict.SUSPECTED
    assert evidence is not None and (evidence.since, evidence.receipts) == (0.0, 3)
    receipts(d, "d", "e")
    assert [d.check(t)[0] for t in (70.0, 500.0, HOUR)] == [Verdict.OK] * 3  # no repeat


def test_delivered_and_read_of_one_send_count_once() -> None:
    d = connected()
    receipts(d, "a", "a", "b", "b")
    assert d.check(HOUR)[0] is Verdict.OK


def test_the_threshold_follows_the_usual_gap_between_patient_messages() -> None:
    d = connected()
    for n in range(10):
        d.inbound(n * 100.0)  # a message every 100 s: threshold 3 × 100 s
    assert d.threshold_s() == pytest.approx(300.0)
    receipts(d, "a", "b", "c")
    assert d.check(900.0 + 250.0)[0] is Verdict.OK
    assert d.check(900.0 + 301.0)[0] is Verdict.SUSPECTED


def test_a_night_gap_does_not_teach_that_hours_of_silence_are_normal() -> None:
    settings = DeafSettings(floor_s=60.0, gap_factor=3.0, gap_cap_s=600.0, min_receipts=3)
    d = connected(settings)
    d.inbound(0.0)
    d.inbound(12 * HOUR)  # the night
    assert d.threshold_s() == pytest.approx(1800.0)  # 3 × the 600 s cap, not 36 hours


def test_a_channel_whose_patients_rarely_reply_needs_more_evidence() -> None:
    settings = DeafSettings(floor_s=60.0, min_receipts=3, min_expected_replies=2.0)
    d = connected(settings)
    for n in range(300):  # reminders: one reply per 20 sends
        d.receipt(f"r{n}")
        if n % 20 == 0:
            d.inbound(float(n))
    assert d.reply_ratio() < 0.2
    receipts(d, "x1", "x2", "x3", "x4", "x5")
    assert d.check(400.0 + HOUR)[0] is Verdict.OK  # five unanswered reminders are normal here
    receipts(d, *(f"y{n}" for n in range(60)))
    assert d.check(400.0 + HOUR)[0] is Verdict.SUSPECTED


def test_inbound_clears_the_suspicion_and_evidence_starts_again() -> None:
    d = connected()
    receipts(d, "a", "b", "c")
    assert d.check(100.0)[0] is Verdict.SUSPECTED
    assert d.inbound(120.0) is True
    assert d.suspected_since is None
    receipts(d, "d")
    assert d.check(500.0)[0] is Verdict.OK  # one receipt is not evidence: no flapping back
    assert d.inbound(130.0) is False


def test_a_deaf_period_is_not_learnt_as_a_normal_gap() -> None:
    d = connected()
    d.inbound(0.0)
    d.inbound(30.0)
    receipts(d, "a", "b", "c")
    assert d.check(2 * HOUR)[0] is Verdict.SUSPECTED
    d.inbound(2 * HOUR)
    assert d.usual_gap_s == pytest.approx(30.0)


def test_a_fresh_session_that_is_still_deaf_says_so_once() -> None:
    d = connected()
    receipts(d, "a", "b", "c")
    assert d.check(100.0)[0] is Verdict.SUSPECTED
    d.disconnected()
    assert d.check(200.0)[0] is Verdict.OK  # silence while down proves nothing
    d.connected(210.0)
    assert d.check(400.0)[0] is Verdict.OK  # no new evidence on the new connection yet
    receipts(d, "d", "e", "f")
    verdict, evidence = d.check(400.0)
    assert verdict is Verdict.STILL_DEAF
    assert evidence is not None and evidence.since == 0.0  # the silence began before
    assert d.check(900.0)[0] is Verdict.OK


def test_reconnect_delays_double_up_to_the_cap() -> None:
    assert [reconnect_delay(SMALL, n) for n in range(4)] == [100.0, 200.0, 400.0, 400.0]


def test_settings_from_plain_values_and_typos_refused() -> None:
    s = DeafSettings.from_mapping({"floor_s": "1.5", "min_receipts": 2, "reconnect_base_s": 1})
    assert (s.floor_s, s.min_receipts, s.reconnect) == (1.5, 2, Backoff(1.0, 3600.0))
    with pytest.raises(ValueError, match="flor_s"):
        DeafSettings.from_mapping({"flor_s": 1})


# ---- the watch -----------------------------------------------------------------------------


@dataclass
class FakeSupervisor:
    warnings: dict[int, tuple[str | None, datetime | None]] = field(default_factory=dict)
    reconnects: list[tuple[int, float]] = field(default_factory=list)

    def set_warning(self, channel_id: int, warning: str | None, since: datetime | None) -> None:
        self.warnings[channel_id] = (warning, since)

    async def reconnect_deaf(self, channel_id: int, since: float) -> bool:
        self.reconnects.append((channel_id, since))
        return True


class FakeAudit:
    def __init__(self) -> None:
        self.actions: list[str] = []

    def append(self, entry: Any) -> None:
        self.actions.append(entry.action)


class FakeStore:
    def __init__(self) -> None:
        self.audit = FakeAudit()

    async def transaction(self, work: Any) -> Any:
        return work(self)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> datetime:
        return utcnow()


@dataclass
class Rig:
    bus: EventBus
    sup: FakeSupervisor
    store: FakeStore
    clock: Clock
    seen: list[Event]
    watch: DeafWatch

    def receipts(self, channel: int, *ids: str) -> None:
        for wa_id in ids:
            self.bus.publish(ReceiptReceived(7, channel, wa_id, "delivered"))

    def state(self, channel: int, state: str) -> None:
        self.bus.publish(ChannelStateChanged(7, channel, state, "x"))

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.seen if isinstance(e, kind)]


@pytest.fixture
async def rig() -> Any:
    bus, sup, store, clock = EventBus(), FakeSupervisor(), FakeStore(), Clock()
    seen: list[Event] = []
    bus.subscribe(seen.append, None)
    watch = DeafWatch(
        store, bus, Auditor(clock), sup, SMALL, monotonic=lambda: clock.t, wall=lambda: 1.7e9
    )  # type: ignore[arg-type]
    watch.start()
    yield Rig(bus, sup, store, clock, seen, watch)
    await watch.stop()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_watch_warns_records_and_reconnects_only_the_deaf_channel(rig: Rig) -> None:
    rig.state(1, "CONNECTED")
    rig.state(2, "CONNECTED")
    rig.clock.t += 120.0
    rig.receipts(1, "a", "b", "c")
    rig.bus.publish(InboundReceived(7, 2, "in-1"))
    rig.receipts(2, "d", "e", "f")
    await settle()
    [raised] = rig.of(ChannelDeafSuspected)
    assert isinstance(raised, ChannelDeafSuspected)
    assert (raised.channel_id, raised.branch_id, raised.receipts) == (1, 7, 3)
    assert rig.sup.warnings[1][0] == WARNING and 2 not in rig.sup.warnings
    assert [c for c, _ in rig.sup.reconnects] == [1]
    assert rig.store.audit.actions == ["channel.deaf_suspected"]


async def test_a_channel_still_deaf_is_reconnected_with_growing_waits(rig: Rig) -> None:
    rig.state(1, "CONNECTED")
    rig.clock.t += 120.0
    rig.receipts(1, "a", "b", "c")
    await settle()
    for n in range(6):  # each fresh session is deaf as well, with new receipts every 10 s
        rig.state(1, "CONNECTING")
        rig.state(1, "CONNECTED")
        rig.clock.t += 70.0
        rig.receipts(1, f"x{n}", f"y{n}", f"z{n}")
        await settle()
    # 120 + 6 × 70 s = 540 s: the first at once, then after ≥100 s and ≥200 s more; no storm
    assert len(rig.sup.reconnects) == 3
    assert len(rig.of(ChannelDeafSuspected)) == 1


async def test_inbound_clears_the_warning_once(rig: Rig) -> None:
    rig.state(1, "CONNECTED")
    rig.clock.t += 120.0
    rig.receipts(1, "a", "b", "c")
    await settle()
    rig.bus.publish(InboundReceived(7, 1, "late-1"))
    rig.bus.publish(InboundReceived(7, 1, "late-2"))
    await settle()
    [cleared] = rig.of(ChannelDeafCleared)
    assert isinstance(cleared, ChannelDeafCleared) and cleared.channel_id == 1
    assert rig.sup.warnings[1] == (None, None)
    assert rig.store.audit.actions == ["channel.deaf_suspected", "channel.deaf_cleared"]


# ---- the worker's optional reconcile op --------------------------------------------------------


class PlainTransport:
    """A transport without ``reconcile`` (the simulator's): a new connection replays anyway."""


class SyncingTransport:
    def __init__(self) -> None:
        self.asked: list[float] = []

    async def reconcile(self, since: float) -> None:
        self.asked.append(since)


async def test_reconcile_is_a_no_op_for_transports_that_cannot_do_it() -> None:
    plain, syncing = PlainTransport(), SyncingTransport()
    assert await reconcile(cast(Any, plain), 1.7e9) is False
    assert await reconcile(cast(Any, syncing), 1.7e9) is True
    assert syncing.asked == [1.7e9]


async def test_the_clearing_names_the_very_start_the_warning_announced() -> None:
    # The wall clock moves a little between the two conversions of the monotonic start (it
    # does on a real PC: both clocks tick independently); the clearing must still repeat the
    # warning's own timestamp, or the desk and the CLI cannot match the two.
    bus, sup, store, clock = EventBus(), FakeSupervisor(), FakeStore(), Clock()
    seen: list[Event] = []
    bus.subscribe(seen.append, None)
    ticks = iter(1.7e9 + n * 1.3e-6 for n in range(10_000))
    watch = DeafWatch(
        store, bus, Auditor(clock), sup, SMALL, monotonic=lambda: clock.t, wall=lambda: next(ticks)
    )  # type: ignore[arg-type]
    watch.start()
    try:
        bus.publish(ChannelStateChanged(7, 1, "CONNECTED", "x"))
        clock.t += 120.0
        for wa_id in ("a", "b", "c"):
            bus.publish(ReceiptReceived(7, 1, wa_id, "delivered"))
        await settle()
        bus.publish(InboundReceived(7, 1, "late-1"))
        await settle()
    finally:
        await watch.stop()
    [raised] = [e for e in seen if isinstance(e, ChannelDeafSuspected)]
    [cleared] = [e for e in seen if isinstance(e, ChannelDeafCleared)]
    assert isinstance(raised, ChannelDeafSuspected) and isinstance(cleared, ChannelDeafCleared)
    assert cleared.since == raised.since
