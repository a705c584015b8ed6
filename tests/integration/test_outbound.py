"""Outbound sending on a real encrypted store, with a scripted ``runtime_send`` in place of the
supervisor (our own seam): retries, failures, reviews, crash recovery, receipts, idempotency,
the retry API and the status counts.

Every wait polls the store or the fake with a deadline; nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select

from app.api.deps import current_actor
from app.api.errors import install_error_handlers
from app.api.routes_outbound import get_outbound, router
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.outbox import RetryPolicy
from app.domain.roles import Actor, Role
from app.services.audit import Auditor
from app.services.events import (
    ChannelStateChanged,
    Event,
    EventBus,
    InboundReceived,
    ReceiptReceived,
)
from app.services.events_outbound import MessageAckChanged, OutboxChanged
from app.services.outbound import OutboundService, OutboundView
from app.services.ports import NewChannel
from app.services.ports_outbox import NewOutbound
from app.services.sender import OutboxSender, SenderSettings
from app.services.stats import channel_counts
from app.services.transport import Receipt, SendFailedError, SendFailureKind
from app.store.repositories import SqlTx
from app.store.schema import audit_log, messages, outbox, tickets
from app.store.store import Store
from app.store.types import utcnow
from tests.helpers.channels import create_store

PATIENT = "5511987650000@s.whatsapp.net"
FAST = SenderSettings(policy=RetryPolicy(base=0.01), idle_poll=0.5, link_poll=60.0, stop_grace=1.0)


class SystemClock:
    def now(self) -> Any:
        return utcnow()


HANG = "hang"


@dataclass
class FakeRuntime:
    """Stands in for ``Supervisor.send_text``: each call takes the next scripted outcome
    (an exception, HANG, or nothing: success with a new wa_id)."""

    script: list[BaseException | str] = field(default_factory=list)
    calls: list[tuple[int, str, str]] = field(default_factory=list)
    before_return: list[Any] = field(default_factory=list)  # hooks run with the new wa_id

    async def __call__(self, channel_id: int, to_jid: str, text: str, key: str) -> str:
        self.calls.append((channel_id, to_jid, key))
        outcome = self.script.pop(0) if self.script else None
        if outcome == HANG:
            await asyncio.Event().wait()
        if isinstance(outcome, BaseException):
            raise outcome
        wa_id = f"WA{len(self.calls):04d}"
        for hook in self.before_return:
            hook(channel_id, wa_id)
        return wa_id


@dataclass
class Rig:
    store: Store
    bus: EventBus
    service: OutboundService
    branch_id: int
    other_branch: int
    channel_id: int
    ticket_id: int
    receptionist: Actor
    stranger: Actor
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    events: list[Event] = field(default_factory=list)
    sender: OutboxSender | None = None

    async def start_sender(
        self, runtime: FakeRuntime | None = None, settings: SenderSettings = FAST
    ) -> OutboxSender:
        self.runtime = runtime or FakeRuntime()
        clock = SystemClock()
        self.sender = OutboxSender(
            self.store, clock, self.runtime, self.bus, random.Random(7), settings=settings
        )
        self.service.sender = self.sender
        await self.sender.start()
        return self.sender

    async def send(self, key: str, text: str = "Olá, tudo bem?") -> OutboundView:
        return await self.service.send_text(self.receptionist, self.ticket_id, text, key)

    async def row(self, outbox_id: int) -> Any:
        return await self.store.read(lambda tx: tx.outbox.get(outbox_id))

    async def reach(self, outbox_id: int, status: str) -> Any:
        async def check() -> Any:
            item = await self.row(outbox_id)
            return item if item.status == status else None

        return await poll(check, f"outbox {outbox_id} {status}")

    def published(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


async def poll(check: Any, what: str, timeout: float = 15.0) -> Any:
    """``wait_for`` for an async check."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _seed(tx: SqlTx) -> dict[str, int]:
    at = utcnow()
    branch, other = tx.branches.add("Centro", at), tx.branches.add("Sul", at)
    user = tx.users.add("rec.centro", "Rec", "x", False, at)
    channel = tx.channels.add(NewChannel(branch, "centro", "Centro", "simulator"), at)
    contact = tx.contacts.add(branch, "+5511987650000", None, None, at)
    values = {"branch_id": branch, "contact_id": contact, "channel_id": channel, "status": "open"}
    values["assignee_id"] = user  # accepted by the receptionist: theirs to answer
    ticket = tx.conn.execute(insert(tickets).values(**values, last_activity_at=at, created_at=at))
    ticket_id = int(ticket.inserted_primary_key[0])  # type: ignore[index]
    inbound: dict[str, object] = {
        "ticket_id": ticket_id,
        "channel_id": channel,
        "contact_id": contact,
    }
    inbound |= {"chat_jid": PATIENT, "sender_jid": PATIENT, "wa_id": "IN1", "direction": "in"}
    tx.conn.execute(insert(messages).values(**inbound, body="Oi", sent_at=at, stored_at=at))
    return {"branch": branch, "other": other, "user": user, "channel": channel, "ticket": ticket_id}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = create_store(tmp_path / "data")
    ids = await store.transaction(_seed)
    bus = EventBus()
    service = OutboundService(store, SystemClock(), Auditor(SystemClock()), bus)
    rec = Actor(ids["user"], "rec.centro", roles={ids["branch"]: Role.RECEPTIONIST})
    stranger = Actor(None, "rec.sul", roles={ids["other"]: Role.RECEPTIONIST})
    made = Rig(
        store, bus, service, ids["branch"], ids["other"], ids["channel"], ids["ticket"],
        rec, stranger,
    )  # fmt: skip
    bus.subscribe(made.events.append, None)
    yield made
    if made.sender is not None:
        await made.sender.stop()
    store.close()


def failure(kind: SendFailureKind, code: str = "x", **kw: Any) -> SendFailedError:
    return SendFailedError(kind, code, **kw)


async def count_rows(store: Store, table: Any, **where: object) -> int:
    def work(tx: SqlTx) -> int:
        query = select(func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return int(tx.conn.execute(query).scalar_one())

    return await store.read(work)


# ---- queueing -----------------------------------------------------------------------------------


async def test_send_queues_one_row_audited_and_stamps_first_response(rig: Rig) -> None:
    view = await rig.send("k1")
    assert (view.status, view.ack, view.attempts, view.wa_id) == ("queued", "pending", 0, None)
    assert view.ticket_id == rig.ticket_id and view.branch_id == rig.branch_id
    item = await rig.row(view.outbox_id)
    assert item.to_jid == PATIENT
    assert await count_rows(rig.store, audit_log, action="message.send") == 1
    first = await rig.store.read(lambda tx: tx.outbox.ticket_target(rig.ticket_id))
    assert first is not None and first.first_response_at is not None
    assert rig.published(OutboxChanged)[-1].status == "queued"


async def test_same_client_key_twice_is_one_row(rig: Rig) -> None:
    first = await rig.send("same-key")
    again = await rig.send("same-key", "a different text is ignored")
    assert again.outbox_id == first.outbox_id and again.text == first.text
    assert await count_rows(rig.store, outbox) == 1
    assert await count_rows(rig.store, messages, direction="out") == 1
    assert await count_rows(rig.store, audit_log, action="message.send") == 1


async def test_other_branch_cannot_send_or_see(rig: Rig) -> None:
    with pytest.raises(ClinicDeskError) as info:
        await rig.service.send_text(rig.stranger, rig.ticket_id, "oi", "k")
    assert info.value.code is ErrorCode.NOT_FOUND
    assert await count_rows(rig.store, outbox) == 0


@pytest.mark.parametrize(("text", "key"), [("   ", "k"), ("oi", "bad key!"), ("x" * 5000, "k")])
async def test_bad_input_is_refused(rig: Rig, text: str, key: str) -> None:
    with pytest.raises(ClinicDeskError) as info:
        await rig.send(key, text)
    assert info.value.code is ErrorCode.INVALID_INPUT


# ---- sending ------------------------------------------------------------------------------------


async def test_success_records_wa_id_and_ack_sent(rig: Rig) -> None:
    await rig.start_sender()
    view = await rig.send("k1")
    item = await rig.reach(view.outbox_id, "sent")
    assert (item.wa_id, item.ack, item.attempts, item.last_error) == ("WA0001", "sent", 1, None)
    assert rig.runtime.calls == [(rig.channel_id, PATIENT, item.idempotency_key)]
    statuses = [e.status for e in rig.published(OutboxChanged)]
    assert statuses == ["queued", "sending", "sent"]


async def test_rows_go_out_in_order(rig: Rig) -> None:
    await rig.start_sender()
    views = [await rig.send(f"k{i}") for i in range(5)]
    for view in views:
        await rig.reach(view.outbox_id, "sent")
    keys = [(await rig.row(v.outbox_id)).idempotency_key for v in views]
    assert [c[2] for c in rig.runtime.calls] == keys


async def test_transient_retries_three_times_then_fails(rig: Rig) -> None:
    runtime = FakeRuntime([failure(SendFailureKind.TRANSIENT, "timeout") for _ in range(4)])
    await rig.start_sender(runtime)
    view = await rig.send("k1")
    item = await rig.reach(view.outbox_id, "failed")
    assert (item.attempts, item.last_error, item.ack) == (4, "transient:timeout", "failed")
    assert len(runtime.calls) == 4
    assert await count_rows(rig.store, audit_log, action="outbox.failed") == 1
    # The conversation shows the failed send with what the retry button needs.
    shown = await rig.store.read(lambda tx: tx.messaging.list_messages(rig.ticket_id, None, 10))
    mine = [m for m in shown if m.outbox_id == view.outbox_id]
    assert [(m.outbox_status, m.outbox_error) for m in mine] == [("failed", "transient:timeout")]
    assert all(m.outbox_id is None for m in shown if m.direction == "in")


async def test_transient_then_success(rig: Rig) -> None:
    await rig.start_sender(FakeRuntime([failure(SendFailureKind.TRANSIENT)]))
    view = await rig.send("k1")
    item = await rig.reach(view.outbox_id, "sent")
    assert item.attempts == 2 and len(rig.runtime.calls) == 2
    assert len({c[2] for c in rig.runtime.calls}) == 1  # the same key: transports dedupe by it


async def test_bad_recipient_fails_at_once(rig: Rig) -> None:
    await rig.start_sender(FakeRuntime([failure(SendFailureKind.BAD_RECIPIENT, "not_on_wa")]))
    view = await rig.send("k1")
    item = await rig.reach(view.outbox_id, "failed")
    assert (item.attempts, item.last_error) == (1, "bad_recipient:not_on_wa")
    assert len(rig.runtime.calls) == 1


async def test_ambiguous_goes_to_review_and_is_not_resent(rig: Rig) -> None:
    lost = failure(SendFailureKind.TRANSIENT, "lost", ambiguous=True)
    await rig.start_sender(FakeRuntime([lost]))
    view = await rig.send("k1")
    item = await rig.reach(view.outbox_id, "needs_review")
    assert item.last_error == "transient:lost"
    later = await rig.send("k2")  # the lane moves on past the reviewed row...
    await rig.reach(later.outbox_id, "sent")
    assert len(rig.runtime.calls) == 2  # ...and never sends it again
    assert await count_rows(rig.store, audit_log, action="outbox.needs_review") == 1


async def test_not_connected_stays_queued_without_using_attempts(rig: Rig) -> None:
    runtime = FakeRuntime([failure(SendFailureKind.NOT_CONNECTED, "CONNECTING")])
    await rig.start_sender(runtime)
    view = await rig.send("k1")

    async def released() -> bool:
        item = await rig.row(view.outbox_id)
        return len(runtime.calls) == 1 and item.status == "queued"

    await poll(released, "the row released after not_connected")
    item = await rig.row(view.outbox_id)
    assert (item.attempts, item.last_error) == (0, "not_connected:CONNECTING")
    await rig.send("k2")  # a new row does not bring the link back: nothing is tried
    await asyncio.sleep(0.1)
    assert len(runtime.calls) == 1
    rig.bus.publish(ChannelStateChanged(rig.branch_id, rig.channel_id, "CONNECTED", "connected"))
    item = await rig.reach(view.outbox_id, "sent")
    assert item.attempts == 1


async def test_crash_after_claim_is_reviewed_and_never_resent(rig: Rig) -> None:
    first = await rig.start_sender(FakeRuntime([HANG]))
    view = await rig.send("k1")
    await rig.reach(view.outbox_id, "sending")  # the claim is committed before the send
    first_runtime = rig.runtime
    await first.stop()  # the process "dies": the send is cut off, nothing is marked
    assert (await rig.row(view.outbox_id)).status == "sending"

    await rig.start_sender()  # restart: recovery runs before anything is sent
    item = await rig.reach(view.outbox_id, "needs_review")
    assert item.last_error == "crash_unknown_outcome"
    later = await rig.send("k2")
    await rig.reach(later.outbox_id, "sent")
    assert len(first_runtime.calls) == 1
    assert [c[2] for c in rig.runtime.calls] == [(await rig.row(later.outbox_id)).idempotency_key]
    assert await count_rows(rig.store, audit_log, action="outbox.needs_review") == 1


async def test_rows_queued_by_the_inbound_pipeline_go_out_on_its_event(rig: Rig) -> None:
    await rig.start_sender(settings=dataclasses.replace(FAST, idle_poll=600.0))

    def queue_greeting(tx: SqlTx) -> int:  # as the inbound pipeline does, without waking anyone
        target = tx.outbox.ticket_target(rig.ticket_id)
        assert target is not None
        new = NewOutbound(target, "Bem-vindo!", None, "greeting-1", utcnow(), automatic=True)
        return tx.outbox.add(new)[0].id

    outbox_id = await rig.store.transaction(queue_greeting)
    rig.bus.publish(InboundReceived(rig.branch_id, rig.channel_id, "IN2"))
    await rig.reach(outbox_id, "sent")


# ---- receipts -----------------------------------------------------------------------------------


async def _ack_is(rig: Rig, outbox_id: int, ack: str) -> Any:
    async def check() -> Any:
        item = await rig.row(outbox_id)
        return item if item.ack == ack else None

    return await poll(check, f"ack {ack}")


async def test_receipts_move_forward_only(rig: Rig) -> None:
    await rig.start_sender()
    view = await rig.send("k1")
    item = await rig.reach(view.outbox_id, "sent")

    def receipt(wa_id: str | None, value: Receipt) -> None:
        rig.bus.publish(ReceiptReceived(rig.branch_id, rig.channel_id, str(wa_id), value))

    receipt(item.wa_id, Receipt.READ)
    await _ack_is(rig, view.outbox_id, "read")
    marker = await rig.send("k2")
    marked = await rig.reach(marker.outbox_id, "sent")
    for late in (Receipt.DELIVERED, Receipt.SENT, Receipt.FAILED):
        receipt(item.wa_id, late)
    receipt(marked.wa_id, Receipt.READ)  # receipts apply in arrival order: wait past the late ones
    await _ack_is(rig, marker.outbox_id, "read")
    assert (await rig.row(view.outbox_id)).ack == "read"
    acks = [e.ack for e in rig.published(MessageAckChanged) if e.message_id == item.message_id]
    assert acks == ["sent", "read"]


async def test_receipt_before_the_result_is_stored_is_kept(rig: Rig) -> None:
    runtime = FakeRuntime()

    def early(channel_id: int, wa_id: str) -> None:
        rig.bus.publish(ReceiptReceived(rig.branch_id, channel_id, wa_id, Receipt.DELIVERED))

    runtime.before_return.append(early)
    await rig.start_sender(runtime)
    view = await rig.send("k1")
    await rig.reach(view.outbox_id, "sent")
    await _ack_is(rig, view.outbox_id, "delivered")


# ---- the retry API and problems -----------------------------------------------------------------


async def test_retry_failed_row(rig: Rig) -> None:
    await rig.start_sender(FakeRuntime([failure(SendFailureKind.PERMANENT, "boom")]))
    view = await rig.send("k1")
    await rig.reach(view.outbox_id, "failed")
    problems = await rig.service.list_problems(rig.receptionist)
    assert [p.outbox_id for p in problems] == [view.outbox_id]
    assert await rig.service.list_problems(rig.stranger) == []
    retried = await rig.service.retry(rig.receptionist, view.outbox_id)
    assert (retried.status, retried.attempts, retried.ack) == ("queued", 0, "pending")
    await rig.reach(view.outbox_id, "sent")
    assert await count_rows(rig.store, audit_log, action="outbox.retry") == 1
    assert await rig.service.list_problems(rig.receptionist) == []


async def test_retry_needs_review_requires_confirmation(rig: Rig) -> None:
    lost = failure(SendFailureKind.TRANSIENT, "lost", ambiguous=True)
    await rig.start_sender(FakeRuntime([lost]))
    view = await rig.send("k1")
    await rig.reach(view.outbox_id, "needs_review")
    with pytest.raises(ClinicDeskError) as info:
        await rig.service.retry(rig.receptionist, view.outbox_id)
    assert info.value.params.get("field") == "confirm_resend"
    with pytest.raises(ClinicDeskError) as info:
        await rig.service.retry(rig.stranger, view.outbox_id, confirm_resend=True)
    assert info.value.code is ErrorCode.NOT_FOUND
    await rig.service.retry(rig.receptionist, view.outbox_id, confirm_resend=True)
    await rig.reach(view.outbox_id, "sent")
    with pytest.raises(ClinicDeskError) as info:  # a sent row is not retried
        await rig.service.retry(rig.receptionist, view.outbox_id, confirm_resend=True)
    assert info.value.params.get("field") == "status"


# ---- counts and the HTTP routes -----------------------------------------------------------------


async def test_counts_per_channel(rig: Rig) -> None:
    await rig.start_sender(FakeRuntime([failure(SendFailureKind.BAD_RECIPIENT)]))
    failed, sent = await rig.send("k1"), await rig.send("k2")
    await rig.reach(failed.outbox_id, "failed")
    await rig.reach(sent.outbox_id, "sent")
    counts = await channel_counts(rig.store)
    entry = counts[rig.channel_id]
    assert (entry["name"], entry["in"], entry["out"]) == ("centro", 1, 2)
    assert entry["outbox"] == {
        "queued": 0, "sending": 0, "sent": 1, "failed": 1, "needs_review": 0,
    }  # fmt: skip


def _api(rig: Rig, actor: Actor) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[current_actor] = lambda: actor
    app.dependency_overrides[get_outbound] = lambda: rig.service
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_http_routes(rig: Rig) -> None:
    lost = failure(SendFailureKind.TRANSIENT, "lost", ambiguous=True)
    await rig.start_sender(FakeRuntime([lost]))
    async with _api(rig, rig.receptionist) as api:
        body = {"text": "Bom dia", "client_key": "c-1"}
        response = await api.post(f"/tickets/{rig.ticket_id}/messages", json=body)
        assert response.status_code == 202, response.text
        outbox_id = response.json()["outbox_id"]
        assert (await api.post(f"/tickets/{rig.ticket_id}/messages", json=body)).json()[
            "outbox_id"
        ] == outbox_id
        await rig.reach(outbox_id, "needs_review")
        problems = (await api.get("/outbox/problems")).json()
        assert [p["outbox_id"] for p in problems] == [outbox_id]
        refused = await api.post(f"/outbox/{outbox_id}/retry", json={})
        assert refused.status_code == 400
        assert refused.json()["error"]["params"]["field"] == "confirm_resend"
        ok = await api.post(f"/outbox/{outbox_id}/retry", json={"confirm_resend": True})
        assert ok.status_code == 200 and ok.json()["status"] == "queued"
    async with _api(rig, rig.stranger) as api:
        assert (await api.post(f"/outbox/{outbox_id}/retry", json={})).status_code == 404
        assert (await api.get("/outbox/problems")).json() == []
