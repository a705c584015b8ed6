"""The sync agent against a real HTTP central on loopback (tests/helpers/fake_central.py):
what a report contains (and never contains), store-and-forward through a long outage, the
buffer's caps, retries, clock correction, refusal, TLS pinning and a restored store's seqs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.domain.errors import ClinicDeskError, ErrorCode
from app.store.repositories import SqlTx
from app.sync.sender import SenderState
from app.sync.service import SyncService
from tests.helpers.fake_central import CentralServer, CentralState, Fault, free_port
from tests.helpers.messaging import make_desk, patient
from tests.helpers.sync_agent import (
    RecordingSleep,
    drain,
    enrolled_agent,
    make_agent,
    report_through_outage,
)
from tests.helpers.tls import make_test_pki
from tests.integration.conftest import BRANCHES, SUPER, FakeClock, Installation

MINUTE = timedelta(minutes=1)
REPORT_EVERY = timedelta(minutes=5)  # simulated; 864 reports in 3 days keep the test short


@pytest.fixture
def central() -> Iterator[CentralServer]:
    with CentralServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _queued(agent: SyncService) -> list[int]:
    return [r.seq for r in await agent.outbox.batch(10_000, 2**40)]


async def _bodies(inst: Installation) -> list[str]:
    return [r.body for r in await inst.core.store.read(lambda tx: tx.sync.oldest(10_000))]


# ---- (1) no patient data ------------------------------------------------------------------

CANARY_TEXT = "CANARYTEXT-consulta-de-retorno"
CANARY_NAME = "Zebedeu Canarinho"
CHANNEL_NAME = "canal-canario"
CHANNEL_DISPLAY = "Recepcao Canario"
CHANNEL_PHONE = "+5511955554444"


async def test_reports_carry_counts_never_patient_data(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    central.state.now = lambda: clock.now().timestamp()
    agent, _ = await enrolled_agent(fresh, clock, central)
    desk = await make_desk(fresh, clock)
    await fresh.core.store.transaction(
        lambda tx: tx.channels.update(
            desk.channel_id, name=CHANNEL_NAME, display_name=CHANNEL_DISPLAY,
            phone_e164=CHANNEL_PHONE,
        )
    )  # fmt: skip
    phones = [patient(n) for n in range(3)]
    for n, chat in enumerate(phones):
        clock.advance(MINUTE)
        await desk.ingest(desk.event(chat, f"{CANARY_TEXT}-{n}", push_name=CANARY_NAME))
    clock.advance(MINUTE)
    await agent.make_report()
    preview = await agent.preview()
    clock.advance(MINUTE)
    await agent.make_report()
    documents = [*await _bodies(fresh), preview]
    assert (await agent.push_now())["sent"] == 2
    documents += [json.dumps(r) for r in central.state.stored.values()]
    canaries = [CANARY_TEXT, CANARY_NAME, "Zebedeu", CHANNEL_NAME, CHANNEL_DISPLAY, CHANNEL_PHONE]
    canaries += [*BRANCHES, SUPER, *(c.split("@")[0] for c in phones), *(c[-8:] for c in phones)]
    for document in documents:
        for canary in canaries:
            assert canary not in document, canary
    first = json.loads(documents[0])["figures"]
    centro = next(b for b in first["branches"] if b["branch_id"] == desk.branch_id)
    assert centro["messages_in"] == 3 and centro["tickets_opened"] == 3
    assert centro["tickets_waiting"] == 3
    assert centro["channels"][0]["channel_id"] == desk.channel_id
    assert first["audit"]["head_seq"] >= 1 and len(first["audit"]["head_hash"]) == 64


# ---- (2) a long outage --------------------------------------------------------------------


async def test_central_down_for_days_gets_every_report_exactly_once(
    fresh: Installation, clock: FakeClock
) -> None:
    state = CentralState(now=lambda: clock.now().timestamp())
    port = free_port()
    with CentralServer(state, port=port) as up:
        agent, appliance = await enrolled_agent(fresh, clock, up)
    # the central is gone: connections to its port are refused for three simulated days
    made = await report_through_outage(agent, clock, days=3, every=REPORT_EVERY)
    assert agent.sender.state is SenderState.BACKOFF
    attempts_down = agent.sender.attempts
    # full jitter up to the 300 s cap: about one attempt per 150 s, far from one per report
    assert 3 * 24 * 3600 / 300 < attempts_down < 3 * 24 * 3600 / 100
    assert agent.sender.backoff.next_delay() <= 300
    with CentralServer(state, port=port):
        await drain(agent)
    assert agent.sender.state is SenderState.IDLE
    assert state.seqs(appliance) == made == sorted(set(made))
    assert len(state.inserts) == len(set(state.inserts)) == len(made)
    assert await _queued(agent) == []
    await agent.sender.stop()


# ---- (3) the buffer's caps ----------------------------------------------------------------


async def test_byte_cap_drops_the_oldest_and_says_so(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, _ = await enrolled_agent(fresh, clock, central, max_bytes=4000)
    seqs = []
    for _ in range(12):
        clock.advance(MINUTE)
        seqs.append(await agent.make_report())
    queued = await agent.outbox.batch(10_000, 2**40)
    largest = max(r.size for r in queued)
    count, size = await agent.outbox.totals()
    assert size <= 4000 + largest
    assert [r.seq for r in queued] == seqs[-count:]  # the newest kept, oldest dropped
    dropped = len(seqs) - count
    assert dropped > 0 and (await agent.outbox.state()).dropped_total == dropped
    last = json.loads(queued[-1].body)["figures"]["sync"]
    assert last == {"dropped_total": dropped, "queued": count - 1}


async def test_age_cap_drops_reports_older_than_seven_days(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, _ = await enrolled_agent(fresh, clock, central)
    old = [await agent.make_report() for _ in range(3)]
    clock.advance(timedelta(days=7, minutes=1))
    new = await agent.make_report()
    assert await _queued(agent) == [new]
    assert new > max(old)
    body = json.loads((await _bodies(fresh))[0])
    assert body["figures"]["sync"] == {"dropped_total": 3, "queued": 0}


# ---- (4) retries --------------------------------------------------------------------------


async def test_503_then_ok(fresh: Installation, clock: FakeClock, central: CentralServer) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    seq = await agent.make_report()
    central.state.fault = Fault("503", times=1)
    delay = await agent.sender.step()
    assert delay is not None and agent.sender.state is SenderState.BACKOFF
    assert (await agent.outbox.state()).last_error == "busy"
    assert await agent.sender.step() is None
    assert central.state.seqs(appliance) == [seq] and await _queued(agent) == []
    assert (await agent.outbox.state()).last_error is None


async def test_429_retry_after_is_a_floor_for_the_background_sender(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    sleep = RecordingSleep()
    agent, appliance = await enrolled_agent(fresh, clock, central, sleep=sleep)
    central.state.fault = Fault("429", times=2, retry_after="7")
    seq = await agent.make_report()
    await agent.sender.start()
    for _ in range(200):
        if central.state.seqs(appliance):
            break
        await asyncio.sleep(0.02)
    await agent.sender.stop()
    assert central.state.seqs(appliance) == [seq]
    assert len(sleep.delays) == 2 and all(d >= 7 for d in sleep.delays)


async def test_connection_reset_after_store_loses_nothing_and_stores_once(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    seqs = [await agent.make_report() for _ in range(3)]
    central.state.fault = Fault("reset_after_store", times=1)
    assert await agent.sender.step() is not None  # the answer never came: retry later
    assert await _queued(agent) == seqs and central.state.seqs(appliance) == seqs
    assert await agent.sender.step() is None
    assert await _queued(agent) == []
    assert central.state.inserts == [(appliance, s) for s in seqs]
    assert central.state.duplicates == 3


async def test_connection_reset_before_store_then_ok(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    seq = await agent.make_report()
    central.state.fault = Fault("reset", times=1)
    assert await agent.sender.step() is not None
    assert (await agent.outbox.state()).last_error == "network"
    assert await agent.sender.step() is None
    assert central.state.seqs(appliance) == [seq]


async def test_malformed_batch_is_split_and_single_reports_dead_lettered(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    seqs = [await agent.make_report() for _ in range(4)]
    central.state.fault = Fault("422", times=3)  # the batch of 4, then each half of 2, …
    result = await agent.push_now()
    stored = central.state.seqs(appliance)
    state = await agent.outbox.state()
    assert await _queued(agent) == []
    assert state.dead_letter_total == 4 - len(stored) and set(stored) <= set(seqs)
    assert result["sent"] == len(stored) and state.dead_letter_total >= 1


# ---- (5) clock offset ---------------------------------------------------------------------


async def test_stale_timestamp_corrects_the_offset_and_succeeds_on_the_second_attempt(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    seq = await agent.make_report()
    central.state.now = lambda: clock.now().timestamp() + 3600  # the central is an hour ahead
    assert (await agent.push_now())["sent"] == 1
    assert agent.sender.attempts == 2
    assert central.state.seqs(appliance) == [seq]
    assert abs((await agent.outbox.state()).clock_offset_s - 3600) < 2


# ---- (6) unenrolled, refused --------------------------------------------------------------


async def test_unenrolled_appliance_cannot_push(fresh: Installation, clock: FakeClock) -> None:
    agent = make_agent(fresh, clock)
    for call in (agent.push_now, agent.make_report):
        with pytest.raises(ClinicDeskError) as excinfo:
            await call()
        assert excinfo.value.code is ErrorCode.SYNC_NOT_ENROLLED
    assert (await agent.status())["enrolled"] is False
    # the preview is allowed before enrolment (IT reads it before agreeing); nothing is queued
    assert json.loads(await agent.preview())["seq"] == 1
    assert await _queued(agent) == []


async def test_unknown_appliance_is_rejected_and_reports_are_kept(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    seqs = [await agent.make_report() for _ in range(2)]
    central.state.keys.pop(appliance)  # the central forgot us (or IT deleted the appliance)
    assert await agent.sender.step() == agent.sender.rejected_retry_s
    assert agent.sender.state is SenderState.REJECTED
    with pytest.raises(ClinicDeskError) as excinfo:
        await agent.push_now()
    assert excinfo.value.code is ErrorCode.SYNC_REJECTED
    assert await _queued(agent) == seqs
    status = await agent.status()
    assert status["last_error"] == "unknown_appliance" and status["queued"] == 2


async def test_bad_code_and_double_enrolment_are_refused(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent = make_agent(fresh, clock)
    actor = fresh.core.local_actor()
    with pytest.raises(ClinicDeskError) as bad:
        await agent.enroll(actor, central.url, "AAAA-BBBB-CCCC")
    assert bad.value.code is ErrorCode.SYNC_BAD_CODE
    await agent.enroll(actor, central.url, central.state.issue_code())
    with pytest.raises(ClinicDeskError) as again:
        await agent.enroll(actor, central.url, central.state.issue_code())
    assert again.value.code is ErrorCode.SYNC_ALREADY_ENROLLED
    forced = await agent.enroll(actor, central.url + "/", central.state.issue_code(), force=True)
    assert forced["central_url"] == central.url and "private_key" not in forced
    with pytest.raises(ClinicDeskError) as down:
        await agent.enroll(actor, f"http://127.0.0.1:{free_port()}", "AAAA-BBBB", force=True)
    assert down.value.code is ErrorCode.SYNC_CENTRAL_UNREACHABLE


# ---- (7) TLS --------------------------------------------------------------------------------


async def test_https_with_the_pinned_ca_works_and_another_ca_is_refused(
    fresh: Installation, clock: FakeClock, tmp_path: Path
) -> None:
    pki = make_test_pki(tmp_path / "pki")
    with CentralServer(certfile=pki.server_cert, keyfile=pki.server_key) as central:
        assert central.url.startswith("https://")
        wrong = make_agent(fresh, clock)
        with pytest.raises(ClinicDeskError) as refused:
            await wrong.enroll(
                fresh.core.local_actor(), central.url, central.state.issue_code(),
                str(pki.other_ca_cert),
            )  # fmt: skip
        assert refused.value.code is ErrorCode.SYNC_TLS_FAILED
        agent = make_agent(fresh, clock)
        identity = await agent.enroll(
            fresh.core.local_actor(), central.url, central.state.issue_code(), str(pki.ca_cert)
        )
        seq = await agent.make_report()
        assert (await agent.push_now())["sent"] == 1
        assert central.state.seqs(str(identity["appliance_id"])) == [seq]
        await agent.sender.stop()


# ---- (9) a store restored from an older backup --------------------------------------------


async def test_seq_jump_after_restore_renumbers_above_the_central(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    central.state.last_seq_floor = 50  # the central already holds 1..50 from before the restore
    for _ in range(3):
        await agent.make_report()
    await agent.push_now()
    assert await _queued(agent) == []
    assert (await agent.outbox.state()).min_next_seq == 54
    assert [s for s in central.state.seqs(appliance) if s > 50] == [51, 52, 53]
    assert await agent.make_report() == 54
    assert central.state.stored[(appliance, 52)]["seq"] == 52


async def test_status_counts_and_state(
    fresh: Installation, clock: FakeClock, central: CentralServer
) -> None:
    agent, appliance = await enrolled_agent(fresh, clock, central)
    await agent.make_report()
    status = await agent.status()
    assert status["enrolled"] is True and status["appliance_id"] == appliance
    assert status["queued"] == 1 and status["state"] == "idle"

    def audited(tx: SqlTx) -> list[str]:
        return [row.entry.action for row in tx.audit.iter_rows()]

    assert "sync.enroll" in await fresh.core.store.read(audited)
