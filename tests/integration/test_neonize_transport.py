"""NeonizeTransport in this process on the fake Go boundary: a failing step is logged, not fatal.

(The worker-process tests are in test_whatsapp_web.py; this one reaches inside the consumer.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.channels.transports import wa_mapping
from app.channels.transports.neonize_transport import make_neonize_transport
from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.transport import EventKind, SendFailedError, SendFailureKind, TransportEvent
from tests.helpers.channels import wait_for
from tests.helpers.fake_neonize import FakeGo


class Notes:
    """Stands in for the control link: keeps the fake's notes."""

    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any]) -> None:
        self.notes.append(body)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGo]:
    import neonize.aioze.client as client
    import neonize.aioze.events as events

    go = FakeGo(Notes())  # type: ignore[arg-type]
    monkeypatch.setattr(client, "gocode", go)
    yield go
    events.event_global_loop = None  # neonize's first-wins global: leave none behind


def _message(wa_id: str) -> dict[str, Any]:
    source = {"Chat": {"User": "5511987654321", "Server": "s.whatsapp.net"},
              "Sender": {"User": "5511987654321", "Server": "s.whatsapp.net"}}  # fmt: skip
    return {"Info": {"MessageSource": source, "ID": wa_id, "Timestamp": 1_790_000_000},
            "Message": {"conversation": "oi"}}  # fmt: skip


async def test_a_failing_step_is_counted_and_later_events_still_flow(
    fake: FakeGo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[TransportEvent] = []
    config = {"device_store_key": os.urandom(32).hex()}
    transport = make_neonize_transport("9", config, str(tmp_path), events.append)
    real = wa_mapping.normalise

    def flaky(ev: Any, kind: str) -> Any:
        if ev.Info.ID == "BOOM":
            raise RuntimeError("a bug in a mapping step")
        return real(ev, kind)

    monkeypatch.setattr(wa_mapping, "normalise", flaky)
    await transport.pair_qr()
    await wait_for(lambda: [e for e in events if e.kind is EventKind.QR], "qr")
    await asyncio.to_thread(fake.handle, {"cmd": "pair"})  # from a thread, as Go does
    await wait_for(lambda: any(e.reason is Reason.CONNECTED for e in events), "connected")
    for wa_id in ("BOOM", "OK"):
        await asyncio.to_thread(fake.handle, {"cmd": "event", "type": "Message",
                                              "fields": _message(wa_id)})  # fmt: skip
    inbound = await wait_for(lambda: [e for e in events if e.kind is EventKind.INBOUND], "ok")
    assert [e.wa_id for e in inbound] == ["OK"]
    assert transport.handler_errors == 1
    await transport.stop()
    assert not (tmp_path / "live").exists()


async def test_sends_say_why_they_fail(fake: FakeGo, tmp_path: Path) -> None:
    events: list[TransportEvent] = []
    config = {"device_store_key": os.urandom(32).hex()}
    transport = make_neonize_transport("9", config, str(tmp_path), events.append)
    with pytest.raises(SendFailedError) as exc:
        await transport.send_text("5511987654321@s.whatsapp.net", "oi", "k0")
    assert exc.value.kind is SendFailureKind.NOT_CONNECTED
    await transport.pair_qr()
    await wait_for(lambda: [e for e in events if e.kind is EventKind.QR], "qr")
    await asyncio.to_thread(fake.handle, {"cmd": "pair"})
    await wait_for(lambda: any(e.reason is Reason.CONNECTED for e in events), "connected")
    await asyncio.to_thread(fake.handle, {"cmd": "flags", "fail_sends": True})
    with pytest.raises(SendFailedError) as exc:
        await transport.send_text("5511987654321@s.whatsapp.net", "oi", "k1")
    assert (exc.value.kind, exc.value.ambiguous) == (SendFailureKind.TRANSIENT, True)
    ban = {"cmd": "event", "type": "TemporaryBan", "fields": {"Code": 1, "Expire": 600}}
    await asyncio.to_thread(fake.handle, ban)
    await wait_for(lambda: any(e.reason is Reason.TEMP_BANNED for e in events), "banned")
    with pytest.raises(SendFailedError) as exc:
        await transport.send_text("5511987654321@s.whatsapp.net", "oi", "k2")
    assert exc.value.kind is SendFailureKind.BANNED and exc.value.code == "402:101"
    assert exc.value.retry_after is not None and 0 < exc.value.retry_after <= 600
    await transport.stop()


async def test_pair_by_code_fails_at_once_when_the_client_cannot_dial(
    fake: FakeGo, tmp_path: Path
) -> None:
    events: list[TransportEvent] = []
    config = {"device_store_key": os.urandom(32).hex(), "code_wait": 60}
    transport = make_neonize_transport("9", config, str(tmp_path), events.append)
    fake.refuse_dial = True  # Neonize() returns an error at once, like an offline dial
    with pytest.raises(ClinicDeskError) as exc:
        await asyncio.wait_for(transport.pair_code("+5511999990000"), 30)
    assert exc.value.code is ErrorCode.CHANNEL_PAIRING_FAILED
    await wait_for(lambda: any(e.reason is Reason.PAIRING_FAILED for e in events), "reported")
    await transport.stop()
