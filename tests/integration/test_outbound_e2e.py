"""Outbound end to end: service → outbox → sender → supervisor → real worker → real simulator.

Five replies to one patient reach the simulated WhatsApp exactly once each, after "typing…",
and their receipts come back to ``read`` in the store. Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from app.channels.supervisor import Supervisor, SupervisorSettings
from app.config import DataDir
from app.domain.channels import Backoff, LinkState
from app.domain.roles import Actor
from app.services.audit import Auditor
from app.services.events import Event, EventBus, PairingQr
from app.services.outbound import OutboundService
from app.services.sender import OutboxSender
from app.services.stats import channel_counts
from app.simulator.patients import patient_jid
from app.store.repositories import SqlTx
from app.store.schema import messages, tickets
from app.store.store import Store
from app.store.types import utcnow
from tests.helpers.channels import Simulator, add_channels, create_store, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes: POSIX here")

ACCOUNT = "envio"
PATIENT = patient_jid(3)
FAST = SupervisorSettings(
    connect_cap=4,
    backoff=Backoff(0.05, 0.5),
    breaker_threshold=50,
    breaker_probe_after=1.0,
    heartbeat_interval=0.2,
    heartbeat_timeout=2.0,
    pairing_timeout=30.0,
    connect_timeout=5.0,
    shutdown_timeout=3.0,
)
# The fastest pacing the bounds allow, with a short but real "typing…" before each send.
LIMITS = {
    "min_gap_s": 1.0, "max_gap_s": 1.0, "per_chat_gap_s": 1.0, "per_minute": 60,
    "typing_s_per_char": 0.005,
}  # fmt: skip


class SystemClock:
    def now(self) -> Any:
        return utcnow()


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = Simulator("--receipt-delay", "0.05")
    yield simulator
    simulator.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = create_store(tmp_path / "data")
    yield s
    s.close()


def _ticket(channel_id: int) -> Any:
    """A ticket with one inbound message from the patient, as the inbound pipeline stores it."""

    def work(tx: SqlTx) -> int:
        at = utcnow()
        channel = tx.channels.get(channel_id)
        assert channel is not None
        tx.channels.update(channel_id, send_limits=LIMITS)
        contact = tx.contacts.add(channel.branch_id, None, None, None, at)
        values: dict[str, object] = {"branch_id": channel.branch_id, "contact_id": contact}
        values["channel_id"] = channel_id
        values |= {"status": "open", "last_activity_at": at, "created_at": at}
        key = tx.conn.execute(insert(tickets).values(**values)).inserted_primary_key
        assert key is not None
        inbound: dict[str, object] = {
            "ticket_id": key[0],
            "channel_id": channel_id,
            "contact_id": contact,
        }
        inbound |= {"chat_jid": PATIENT, "sender_jid": PATIENT, "direction": "in"}
        inbound |= {"wa_id": "SIM-IN-1", "body": "Oi", "sent_at": at, "stored_at": at}
        tx.conn.execute(insert(messages).values(**inbound))
        return int(key[0])

    return work


async def _pair(sup: Supervisor, bus_events: list[Any], sim: Simulator, cid: int) -> None:
    await wait_for(lambda: sup.status(cid).state is LinkState.QR_REQUIRED, "QR_REQUIRED")
    await sup.pair(cid)
    await wait_for(lambda: any(isinstance(e, PairingQr) for e in bus_events), "a QR")
    await wait_for(lambda: sim.scan(ACCOUNT), "the scan")
    await wait_for(lambda: sup.status(cid).state is LinkState.CONNECTED, "CONNECTED")


async def test_five_replies_reach_the_patient_once_each_and_are_read(
    store: Store, tmp_path: Path, sim: Simulator
) -> None:
    [cid] = await add_channels(store, [ACCOUNT], sim.url)
    ticket_id = await store.transaction(_ticket(cid))
    bus, events = EventBus(), list[Event]()
    bus.subscribe(events.append, None)
    sup = Supervisor(store, bus, DataDir(tmp_path / "data"), FAST)
    clock = SystemClock()
    service = OutboundService(store, clock, Auditor(clock), bus)
    sender = OutboxSender(store, clock, sup.send_text, bus, random.Random(3))
    service.sender = sender
    await sup.start()
    try:
        await _pair(sup, events, sim, cid)
        await sender.start()
        await _send_five_and_check(store, service, sim, ticket_id, cid)
    finally:
        await sender.stop()
        await sup.stop()


async def _all_read(store: Store, outbox_ids: list[int], timeout: float = 60.0) -> None:
    """Poll the store until every row is sent and its message read (deadline, no timing)."""

    def acks(tx: SqlTx) -> list[str]:
        items = [tx.outbox.get(i) for i in outbox_ids]
        return [f"{i.status}/{i.ack}" if i is not None else "-" for i in items]

    loop = asyncio.get_running_loop()
    deadline, now = loop.time() + timeout, [""]
    while loop.time() < deadline:
        if (now := await store.read(acks)) == ["sent/read"] * len(outbox_ids):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not all read: {now}")


async def _send_five_and_check(
    store: Store, service: OutboundService, sim: Simulator, ticket_id: int, cid: int
) -> None:
    actor = Actor(None, "local-admin", super_admin=True)
    texts = [f"Resposta número {i}" for i in range(5)]
    views = [await service.send_text(actor, ticket_id, t, f"e2e-{i}") for i, t in enumerate(texts)]
    await _all_read(store, [v.outbox_id for v in views])
    sent = sim.http.get(f"/control/outbox/{ACCOUNT}").json()["messages"]
    assert sorted(m["text"] for m in sent if m["to"] == PATIENT) == sorted(texts)
    assert sim.count(ACCOUNT, "duplicate_sends") == 0
    assert sim.count(ACCOUNT, "typing_on") >= 5
    counts = (await channel_counts(store))[cid]
    assert (counts["in"], counts["out"]) == (1, 5)
    assert counts["outbox"] == {
        "queued": 0, "sending": 0, "sent": 5, "failed": 0, "needs_review": 0,
    }  # fmt: skip
