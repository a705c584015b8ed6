"""The supervisor against real worker processes and a real simulator process.

Every wait polls a condition with a deadline; nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.channels.runtime import INBOX_HIGH
from app.channels.supervisor import Supervisor, SupervisorSettings
from app.config import DataDir
from app.domain.channels import Backoff, LinkState, Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.events import (
    ChannelStateChanged,
    Event,
    EventBus,
    InboundReceived,
    PairingQr,
)
from app.services.transport import TransportEvent
from app.store.store import Store
from tests.helpers.channels import Simulator, add_channels, create_store, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP/SIGKILL are POSIX")

S = LinkState
FAST = SupervisorSettings(
    connect_cap=4,
    backoff=Backoff(0.05, 0.5),
    breaker_threshold=50,
    breaker_probe_after=1.0,
    heartbeat_interval=0.2,
    heartbeat_timeout=1.0,
    pairing_timeout=30.0,
    connect_timeout=5.0,
    shutdown_timeout=3.0,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = Simulator("--receipt-delay", "0.05")
    yield simulator
    simulator.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = create_store(tmp_path / "data")
    yield s
    s.close()


class Rig:
    """A supervisor under test plus everything it published."""

    def __init__(self, store: Store, root: Path, settings: SupervisorSettings) -> None:
        self.store, self.root, self.settings = store, root, settings
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append, None)
        self.inbound: list[tuple[int, TransportEvent]] = []
        self.sink_delay = 0.0  # a slow store: each inbound event takes this long to "commit"
        self.sup = self.new_supervisor()

    def new_supervisor(self) -> Supervisor:
        async def sink(channel_id: int, event: TransportEvent) -> None:
            if self.sink_delay:
                await asyncio.sleep(self.sink_delay)
            self.inbound.append((channel_id, event))

        return Supervisor(
            self.store, self.bus, DataDir(self.root), self.settings, inbound_sink=sink
        )

    def state(self, cid: int) -> LinkState:
        return self.sup.status(cid).state

    async def reach(self, cid: int, state: LinkState, reason: str | None = None) -> None:
        def there() -> bool:
            status = self.sup.status(cid)
            return status.state is state and reason in (None, status.reason)

        await wait_for(there, f"channel {cid} {state}({reason}); now {self.sup.status(cid)}")

    def published(self, kind: type[Event], cid: int) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and e.channel_id == cid]  # type: ignore[attr-defined]

    def saw(self, cid: int, reason: str) -> bool:
        """Whether a transition with ``reason`` was published for ``cid``."""
        return any(e.reason == reason for e in self.published(ChannelStateChanged, cid))

    async def history(self, cid: int) -> list[tuple[str | None, str, str | None]]:
        rows = await self.store.read(lambda tx: tx.channels.history(cid, 500))
        return [(r.from_state, r.to_state, r.reason) for r in reversed(rows)]


async def make_rig(
    store: Store, tmp_path: Path, sim: Simulator, names: list[str], **overrides: Any
) -> tuple[Rig, list[int]]:
    ids = await add_channels(store, names, sim.url)
    rig = Rig(store, tmp_path / "data", dataclasses.replace(FAST, **overrides))
    await rig.sup.start()
    return rig, ids


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        await rig.sup.stop()


async def pair(rig: Rig, sim: Simulator, cid: int, name: str) -> None:
    """Pair like a person: ask for a QR, "scan" it on the simulated phone, wait for CONNECTED."""
    await rig.reach(cid, S.QR_REQUIRED)
    assert await rig.sup.pair(cid) is None
    await wait_for(lambda: rig.published(PairingQr, cid), "a QR on the bus")
    await wait_for(lambda: sim.scan(name), "the scan")
    await rig.reach(cid, S.CONNECTED)


async def connected_rig(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig], names: list[str], **kw: Any
) -> tuple[Rig, list[int]]:
    rig, ids = await make_rig(store, tmp_path, sim, names, **kw)
    rigs.append(rig)
    for cid, name in zip(ids, names, strict=True):
        await pair(rig, sim, cid, name)
    return rig, ids


# ---- pairing ------------------------------------------------------------------------------


async def test_new_channel_waits_for_a_person_and_makes_no_qr_until_paired(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await make_rig(store, tmp_path, sim, ["novo"])
    rigs.append(rig)
    await rig.reach(cid, S.QR_REQUIRED, "not_paired")
    assert sim.count("novo", "qr_codes") == 0 and not rig.published(PairingQr, cid)
    await pair(rig, sim, cid, "novo")
    history = await rig.history(cid)
    assert history[:2] == [
        ("INITIALIZING", "CONNECTING", "starting"),
        ("CONNECTING", "QR_REQUIRED", "not_paired"),
    ]
    assert ("QR_REQUIRED", "PAIRING", "pairing_started") in history
    assert history[-1][1] == "CONNECTED"
    assert (tmp_path / "data" / "channels" / str(cid)).stat().st_mode & 0o077 == 0


async def test_pairing_window_ends_by_itself_and_qr_codes_stop(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await make_rig(store, tmp_path, sim, ["janela"], pairing_timeout=1.0)
    rigs.append(rig)
    await rig.reach(cid, S.QR_REQUIRED)
    await rig.sup.pair(cid)
    await rig.reach(cid, S.QR_REQUIRED, "pairing_timeout")
    await wait_for(lambda: not sim.account("janela")["pairing"], "the simulator to stop pairing")
    codes = sim.count("janela", "qr_codes")
    await asyncio.sleep(0.5)
    assert sim.count("janela", "qr_codes") == codes


async def test_pairing_code_is_returned(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await make_rig(store, tmp_path, sim, ["codigo"])
    rigs.append(rig)
    await rig.reach(cid, S.QR_REQUIRED)
    code = await rig.sup.pair(cid, "+5511987654321")
    assert code is not None and len(code) == 9
    assert rig.state(cid) is S.PAIRING
    await rig.sup.cancel_pairing(cid)
    await rig.reach(cid, S.QR_REQUIRED, "not_paired")


async def test_bad_requests_fail_clearly_and_change_nothing(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["ocupado"])
    before = await rig.history(cid)
    with pytest.raises(ClinicDeskError) as info:
        await rig.sup.pair(cid)
    assert info.value.code is ErrorCode.CHANNEL_ALREADY_CONNECTED
    for call in (rig.sup.pair(999), rig.sup.logout(999), rig.sup.suspend(999)):
        with pytest.raises(ClinicDeskError) as info:
            await call
        assert info.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(ClinicDeskError):
        rig.sup.status(999)
    assert rig.state(cid) is S.CONNECTED
    assert await rig.history(cid) == before


# ---- faults -------------------------------------------------------------------------------


async def test_drop_reconnects_with_backoff(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["queda"])
    sim.fault("drop", "queda")
    await wait_for(lambda: rig.sup.status(cid).reconnects >= 1, "a reconnect")
    await rig.reach(cid, S.CONNECTED)
    assert ("CONNECTED", "CONNECTING", "connection_lost") in await rig.history(cid)


@pytest.mark.parametrize(
    ("fault", "state", "reason"),
    [
        ("logout", S.QR_REQUIRED, "logged_out"),
        ("ban", S.ERROR, "banned"),
        ("replaced", S.ERROR, "replaced"),
    ],
)
async def test_fault_ends_in_its_documented_state_without_retry_loop(
    store: Store,
    tmp_path: Path,
    sim: Simulator,
    rigs: list[Rig],
    fault: str,
    state: LinkState,
    reason: str,
) -> None:
    name = f"falha-{fault}"
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, [name])
    sim.fault(fault, name)
    await rig.reach(cid, state, reason)
    hellos = sim.count(name, "hellos")
    await asyncio.sleep(1.0)  # several backoff periods: a retry loop would dial again
    assert sim.count(name, "hellos") == hellos
    assert sim.count(name, "qr_codes") == 1  # only the one shown while pairing
    assert rig.state(cid) is state


async def test_temporary_ban_suspends_until_it_expires(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["castigo"])
    sim.fault("ban", "castigo", seconds=1.5)
    await rig.reach(cid, S.SUSPENDED, "temp_banned")
    assert rig.sup.status(cid).until is not None
    await rig.reach(cid, S.CONNECTED)


async def test_circuit_opens_after_repeated_failures_then_probe_recovers(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(
        store, tmp_path, sim, rigs, ["circuito"], breaker_threshold=3, breaker_probe_after=1.0
    )
    sim.fault("refuse", "circuito")
    sim.fault("drop", "circuito")
    await rig.reach(cid, S.ERROR, "circuit_open")
    assert rig.sup.status(cid).breaker_open
    sim.fault("heal", "circuito")
    await rig.reach(cid, S.CONNECTED)
    assert not rig.sup.status(cid).breaker_open


# ---- workers ------------------------------------------------------------------------------


async def test_sigkill_drops_only_that_workers_channel_and_it_comes_back(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [a, b] = await connected_rig(
        store, tmp_path, sim, rigs, ["morto", "vivo"], channels_per_worker=1
    )
    pid_a, pid_b = rig.sup.status(a).worker_pid, rig.sup.status(b).worker_pid
    assert pid_a and pid_b and pid_a != pid_b
    b_before = await rig.history(b)
    os.kill(pid_a, signal.SIGKILL)
    await wait_for(lambda: rig.saw(a, "worker_crashed"), "the crash to be seen")
    await wait_for(lambda: rig.state(a) is S.CONNECTED, "A back", timeout=10.0)
    assert ("CONNECTED", "CONNECTING", "worker_crashed") in await rig.history(a)
    assert rig.sup.status(a).worker_pid not in (None, pid_a)
    assert await rig.history(b) == b_before
    assert rig.sup.status(b).worker_pid == pid_b


async def test_hung_worker_is_detected_killed_and_replaced(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["parado"])
    pid = rig.sup.status(cid).worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    await wait_for(lambda: rig.saw(cid, "worker_hung"), "the hang to be seen")
    await rig.reach(cid, S.CONNECTED)
    assert rig.sup.status(cid).worker_pid not in (None, pid)
    assert ("CONNECTED", "CONNECTING", "worker_hung") in await rig.history(cid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left stopped


async def test_restart_reconnects_without_pairing_and_keeps_person_waits(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [live, out] = await connected_rig(store, tmp_path, sim, rigs, ["reinicio", "saiu"])
    await rig.sup.logout(out)
    await rig.sup.stop()
    pids = [s.worker_pid for s in rig.sup.statuses()]
    assert all(p is None for p in pids)
    assert (await rig.history(live))[-1] == ("CONNECTED", "DISCONNECTED", "stopped")
    pairings, qrs = sim.count("reinicio", "pairings"), len(rig.published(PairingQr, live))
    rig.sup = rig.new_supervisor()
    await rig.sup.start()
    await rig.reach(live, S.CONNECTED)
    assert sim.count("reinicio", "pairings") == pairings
    assert len(rig.published(PairingQr, live)) == qrs
    assert rig.state(out) is S.QR_REQUIRED
    assert rig.sup.status(out).reason == "logout_by_user"


# ---- people -------------------------------------------------------------------------------


async def test_logout_waits_for_a_person_and_no_qr_until_pair(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["sair"])
    await rig.sup.logout(cid)
    assert rig.state(cid) is S.QR_REQUIRED
    assert rig.sup.status(cid).reason == "logout_by_user"
    qrs = sim.count("sair", "qr_codes")
    await asyncio.sleep(0.5)
    assert sim.count("sair", "qr_codes") == qrs
    await pair(rig, sim, cid, "sair")


async def test_suspend_keeps_credentials_and_resume_reconnects(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["pausa"])
    await rig.sup.suspend(cid)
    assert rig.state(cid) is S.SUSPENDED
    await wait_for(lambda: not sim.account("pausa")["connected"], "the link to close")
    await rig.sup.resume(cid)
    await rig.reach(cid, S.CONNECTED)
    assert sim.account("pausa")["paired"]


async def test_send_inbound_ack_and_receipts(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["mensagens"])
    sent = sim.post("/control/inbound", channel="mensagens", text="oi", patient=0).json()
    # with a sink, the sink (the durable pipeline) announces the message once it is stored
    await wait_for(lambda: bool(rig.inbound), "the inbound message reaching the sink")
    assert rig.inbound[0][1].message is not None
    assert not rig.published(InboundReceived, cid)
    await wait_for(lambda: sim.account("mensagens")["pending"] == 0, "the ack")
    chat = rig.inbound[0][1].message.chat_jid
    wa_id = await rig.sup.send_text(cid, chat, "Olá!", "outbox-1")
    assert wa_id and sent["wa_id"] != wa_id
    await wait_for(lambda: any(getattr(e, "wa_id", None) == wa_id for e in rig.events), "a receipt")


async def test_connects_in_flight_stay_under_the_cap(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    names = [f"lote-{i}" for i in range(6)]
    rig, ids = await make_rig(store, tmp_path, sim, names, connect_cap=2)
    rigs.append(rig)
    for cid in ids:
        await rig.reach(cid, S.QR_REQUIRED)
    await wait_for(lambda: rig.sup.connects_in_flight == 0, "every dial to finish")
    assert 1 <= rig.sup.peak_connects_in_flight <= 2
    states = [e for e in rig.events if isinstance(e, ChannelStateChanged)]
    assert {e.branch_id for e in states} == {rig.sup.status(ids[0]).branch_id}


async def test_new_send_limits_pace_the_running_channel_without_a_restart(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    rig, [cid] = await make_rig(store, tmp_path, sim, ["ritmo"])
    rigs.append(rig)
    before = rig.sup._runtime(cid).pacer.limits
    rig.sup.set_send_limits(cid, {"min_gap_s": 2.5, "max_gap_s": 3.0, "per_minute": 999})
    after = rig.sup._runtime(cid).pacer.limits
    assert (before.min_gap_s, after.min_gap_s, after.max_gap_s) == (4.0, 2.5, 3.0)
    assert after.per_minute == 60  # clamped to the bound, as at start
    rig.sup.set_send_limits(10_000, {"min_gap_s": 2.0})  # not hosted here: nothing to pace


async def test_a_burst_waits_in_the_worker_not_in_the_engine_and_nothing_is_lost(
    store: Store, tmp_path: Path, sim: Simulator, rigs: list[Rig]
) -> None:
    """Above INBOX_HIGH queued events the engine stops reading the worker (the burst waits in
    the worker and the simulator); draining takes longer than the heartbeat timeout, and the
    worker is not taken for hung."""
    rig, [cid] = await connected_rig(store, tmp_path, sim, rigs, ["rajada"])
    rig.sink_delay, count, peak = 0.004, INBOX_HIGH * 3, 0
    inbox = rig.sup._runtime(cid).inbox
    sim.post("/control/burst", channel="rajada", count=count).raise_for_status()

    async def watch() -> None:
        nonlocal peak
        while len(rig.inbound) < count:
            peak = max(peak, inbox.qsize())
            await asyncio.sleep(0.002)

    await asyncio.wait_for(watch(), 120)
    assert INBOX_HIGH // 2 < peak <= INBOX_HIGH  # it filled up, and no further
    assert len({e.wa_id for _, e in rig.inbound}) == count
    assert not rig.saw(cid, Reason.WORKER_HUNG.value) and rig.state(cid) is S.CONNECTED
    await wait_for(lambda: sim.account("rajada")["pending"] == 0, "every message acked")
