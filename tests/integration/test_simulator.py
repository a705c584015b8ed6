"""The simulator server (a real process on loopback) and the simulator transport over WebSocket.

Every test uses its own channel name, so the tests share one simulator process per module; the
scale check and the "drop every channel" check get their own process. Waiting is polling with a
deadline; no assert depends on how fast the machine is (the only time check is a lower bound).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from app.channels.transports.simulator import (
    SESSION_FILE,
    SimulatorTransport,
    make_simulator_transport,
)
from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.tickets import MenuOption, menu_choice, menu_text
from app.services.transport import (
    EventKind,
    OutboundMedia,
    Receipt,
    SendFailedError,
    SendFailureKind,
    TransportEvent,
)
from app.simulator.patients import REPLIES, TINY_PNG, patient_jid
from app.simulator.protocol import ws_url

DEADLINE = 20.0
PATIENT = patient_jid(3)


# ---- the simulator process -------------------------------------------------------------------


class Simulator:
    """``python -m app.cli.simulator_cmd simulator serve --port 0 ...`` as a subprocess."""

    def __init__(self, log_path: Path, *extra: str) -> None:
        cmd = [sys.executable, "-m", "app.cli.simulator_cmd", "simulator", "serve", "--port", "0"]
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [*cmd, *extra], stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        self.url = self._read_url()
        self._wait_healthy()

    def _read_url(self) -> str:
        box: list[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: box.append(stdout.readline()))
        reader.start()
        reader.join(DEADLINE)
        match = re.search(r"listening on (\S+)", box[0] if box else "")
        if match is None:
            self.stop()
            raise AssertionError(f"simulator did not start: {box}")
        return match.group(1)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/control/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("simulator not healthy")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    log = tmp_path_factory.mktemp("sim") / "simulator.log"
    server = Simulator(log, "--qr-interval", "0.3", "--receipt-delay", "0.05")
    yield server
    server.stop()


@pytest.fixture
def channel() -> str:
    return f"ch-{uuid.uuid4().hex[:10]}"


# ---- helpers --------------------------------------------------------------------------------


class Events:
    """An event sink that records, with polling waits."""

    def __init__(self) -> None:
        self.items: list[TransportEvent] = []

    def __call__(self, event: TransportEvent) -> None:
        self.items.append(event)

    def of(self, kind: EventKind) -> list[TransportEvent]:
        return [e for e in self.items if e.kind is kind]

    def reasons(self) -> list[Reason | None]:
        return [e.reason for e in self.of(EventKind.STATE)]

    async def until(self, check: Callable[[], Any], what: str = "condition") -> Any:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; events: {self.items[-10:]}")

    async def state(self, reason: Reason, start: int = 0) -> TransportEvent:
        def found() -> TransportEvent | None:
            hits = [e for e in self.items[start:] if e.reason is reason]
            return hits[0] if hits else None

        event: TransportEvent = await self.until(found, f"state {reason}")
        return event

    async def count(self, kind: EventKind, n: int) -> list[TransportEvent]:
        await self.until(lambda: len(self.of(kind)) >= n, f"{n} x {kind}")
        return self.of(kind)


def control(sim: Simulator, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, sim.url + path, json=body, timeout=10)
    return response.status_code, response.json()


def fault(sim: Simulator, kind: str, channel: str | None, seconds: float | None = None) -> None:
    status, _ = control(
        sim, "POST", "/control/fault", {"kind": kind, "channel": channel, "seconds": seconds}
    )
    assert status == 200


def account(sim: Simulator, name: str) -> dict[str, Any]:
    status, body = control(sim, "GET", f"/control/accounts/{name}")
    assert status == 200
    return body  # type: ignore[no-any-return]


def burst(sim: Simulator, name: str, count: int, kind: str = "text") -> list[str]:
    status, body = control(
        sim, "POST", "/control/burst", {"channel": name, "count": count, "kind": kind}
    )
    assert status == 200
    return body["wa_ids"]  # type: ignore[no-any-return]


def transport(
    sim: Simulator, name: str, private: Path, events: Events, **config: Any
) -> SimulatorTransport:
    conf = {"simulator_url": sim.url, **config}
    return make_simulator_transport(name, conf, str(private), events)


async def paired(sim: Simulator, name: str, private: Path) -> tuple[SimulatorTransport, Events]:
    """A transport paired by QR and CONNECTED."""
    events = Events()
    t = transport(sim, name, private, events)
    await t.connect()
    await events.state(Reason.NOT_PAIRED)
    await t.pair_qr()
    await events.count(EventKind.QR, 1)
    assert control(sim, "POST", "/control/scan", {"channel": name})[0] == 200
    await events.state(Reason.CONNECTED)
    return t, events


# ---- pairing ----------------------------------------------------------------------------------


async def test_no_session_reports_not_paired_and_never_a_qr(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    events = Events()
    t = transport(sim, channel, tmp_path, events)
    await t.connect()
    await events.state(Reason.NOT_PAIRED)
    await asyncio.sleep(1.2)  # four QR intervals: a QR would have come by now
    assert events.of(EventKind.QR) == []
    assert account(sim, channel)["counts"].get("qr_codes", 0) == 0
    with pytest.raises(SendFailedError) as err:
        await t.send_text(PATIENT, "oi", "k1")
    assert err.value.kind is SendFailureKind.AUTH
    await t.stop()


async def test_pair_by_qr_refreshes_codes_then_scan_connects(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    events = Events()
    t = transport(sim, channel, tmp_path, events, qr_interval=0.1, qr_first=0.1)
    await t.connect()
    await events.state(Reason.NOT_PAIRED)
    await t.pair_qr()
    await events.state(Reason.PAIRING_STARTED)
    qrs = await events.count(EventKind.QR, 2)
    assert qrs[0].qr != qrs[1].qr and qrs[0].qr.startswith("2@")  # type: ignore[union-attr]
    status, body = control(sim, "POST", "/control/scan", {"channel": channel})
    assert (status, body["paired"]) == (200, True)
    await events.state(Reason.PAIRED)
    await events.state(Reason.CONNECTED)
    session = tmp_path / SESSION_FILE
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert json.loads(session.read_text())["account"] == channel
    assert account(sim, channel)["connected"] is True
    with pytest.raises(ClinicDeskError) as err:
        await t.pair_qr()
    assert err.value.code is ErrorCode.CHANNEL_ALREADY_CONNECTED
    await t.stop()


async def test_qr_pairing_times_out_after_the_last_code(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    events = Events()
    t = transport(sim, channel, tmp_path, events, qr_interval=0.05, qr_first=0.05)
    await t.connect()
    await t.pair_qr()
    await events.state(Reason.PAIRING_TIMEOUT)
    assert len(events.of(EventKind.QR)) == 6
    assert control(sim, "POST", "/control/scan", {"channel": channel})[0] == 409
    await t.stop()


async def test_cancel_pairing_stops_the_codes(sim: Simulator, channel: str, tmp_path: Path) -> None:
    events = Events()
    t = transport(sim, channel, tmp_path, events)
    await t.pair_qr()  # opens its own socket; no not_paired event for it
    await events.count(EventKind.QR, 1)
    await t.cancel_pairing()
    seen = len(events.of(EventKind.QR))
    await asyncio.sleep(1.2)
    assert len(events.of(EventKind.QR)) == seen
    assert Reason.NOT_PAIRED not in events.reasons()
    assert account(sim, channel)["pairing"] is False


async def test_pair_by_code(sim: Simulator, channel: str, tmp_path: Path) -> None:
    events = Events()
    t = transport(sim, channel, tmp_path, events)
    await t.connect()
    with pytest.raises(ClinicDeskError) as err:
        await t.pair_code("12ab")
    assert err.value.code is ErrorCode.PHONE_INVALID
    code = await t.pair_code("+5511987654321")
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert [e.code for e in events.of(EventKind.PAIR_CODE)] == [code]
    assert events.of(EventKind.QR) == []
    assert control(sim, "POST", "/control/scan", {"channel": channel})[0] == 200
    await events.state(Reason.CONNECTED)
    await t.stop()


async def test_session_survives_a_transport_restart(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, _ = await paired(sim, channel, tmp_path)
    await t.stop()
    events = Events()
    again = transport(sim, channel, tmp_path, events)
    await again.connect()
    await events.state(Reason.CONNECTED)
    assert events.reasons() == [Reason.CONNECTED]
    assert events.of(EventKind.QR) == []
    assert account(sim, channel)["counts"]["pairings"] == 1
    await again.stop()


async def test_a_second_copy_of_the_session_replaces_the_first(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    first, first_events = await paired(sim, channel, tmp_path)
    events = Events()
    second = transport(sim, channel, tmp_path, events)
    await second.connect()
    await events.state(Reason.CONNECTED)
    await first_events.state(Reason.REPLACED)
    await second.stop()
    await first.stop()


async def test_transport_logout_wipes_the_session(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    seen = len(events.items)
    await t.logout()
    assert not (tmp_path / SESSION_FILE).exists()
    assert account(sim, channel)["status"] == "unpaired"
    assert events.items[seen:] == []  # the caller knows: no connection_lost
    await t.connect()
    await events.state(Reason.NOT_PAIRED)
    await t.stop()


async def test_logout_while_offline_still_unlinks(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, _ = await paired(sim, channel, tmp_path)
    await t.stop()
    await t.logout()
    assert not (tmp_path / SESSION_FILE).exists()
    assert account(sim, channel)["status"] == "unpaired"


async def test_auto_pair_accepts_at_once(tmp_path: Path) -> None:
    server = Simulator(tmp_path / "sim.log", "--auto-pair")
    try:
        events = Events()
        t = make_simulator_transport("auto", {"simulator_url": server.url}, str(tmp_path), events)
        await t.pair_qr()
        await events.state(Reason.CONNECTED)
        assert len(events.of(EventKind.QR)) == 1
        await t.stop()
    finally:
        server.stop()


async def test_chatty_patients_answer_a_menu_with_a_choice_the_engine_understands(
    tmp_path: Path,
) -> None:
    args = ("--auto-pair", "--chatty", "--reply-delay", "0", "--chat-interval", "3600")
    server = Simulator(tmp_path / "sim.log", *args)
    try:
        events = Events()
        t = make_simulator_transport("chat", {"simulator_url": server.url}, str(tmp_path), events)
        await t.pair_qr()
        await events.state(Reason.CONNECTED)
        options = [MenuOption(7, "Recepção"), MenuOption(9, "Exames")]
        await t.send_text(PATIENT, menu_text("Olá! Escolha:", options), "menu-1")
        await t.send_text(PATIENT, "Sua consulta está confirmada.", "text-1")
        first, second = [e.message for e in await events.count(EventKind.INBOUND, 2)]
        assert first is not None and menu_choice(first.text, options) in options
        assert second is not None and second.text in REPLIES
        await t.stop()
    finally:
        server.stop()


# ---- messages ---------------------------------------------------------------------------------


async def test_send_gets_receipts_and_is_idempotent_on_the_key(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    wa_id = await t.send_text(PATIENT, "Olá, sua consulta está confirmada.", "outbox-1")
    again = await t.send_text(PATIENT, "Olá, sua consulta está confirmada.", "outbox-1")
    assert again == wa_id
    await events.until(
        lambda: (
            {e.receipt for e in events.of(EventKind.RECEIPT) if e.wa_id == wa_id}
            >= {Receipt.SENT, Receipt.DELIVERED, Receipt.READ}
        ),
        "three receipts",
    )
    order = [e.receipt for e in events.of(EventKind.RECEIPT) if e.wa_id == wa_id]
    assert order == [Receipt.SENT, Receipt.DELIVERED, Receipt.READ]
    _, outbox = control(sim, "GET", f"/control/outbox/{channel}")
    assert [m["wa_id"] for m in outbox["messages"]] == [wa_id]
    assert account(sim, channel)["counts"]["sent"] == 1
    with pytest.raises(SendFailedError) as err:
        await t.send_text("not-a-jid", "x", "outbox-2")
    assert err.value.kind is SendFailureKind.BAD_RECIPIENT
    await t.stop()


async def test_media_both_ways_read_marks_and_typing(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    media = OutboundMedia(TINY_PNG, "image/png", "receita.png", "Sua receita")
    wa_id = await t.send_media(PATIENT, media, "media-1")
    assert wa_id
    burst(sim, channel, 1, "image")
    (inbound,) = await events.count(EventKind.INBOUND, 1)
    assert inbound.message is not None and inbound.message.kind == "image"
    assert inbound.message.media_b64 == TINY_PNG and inbound.message.media_mime == "image/png"
    await t.mark_read(inbound.message.chat_jid, [inbound.message.wa_id])
    await t.set_typing(inbound.message.chat_jid, True)
    await events.until(
        lambda: {"marked_read", "typing_on"} <= set(account(sim, channel)["counts"]), "counts"
    )
    await t.stop()


async def test_send_while_disconnected_is_not_connected(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, _ = await paired(sim, channel, tmp_path)
    await t.stop()
    with pytest.raises(SendFailedError) as err:
        await t.send_text(PATIENT, "oi", "k")
    assert err.value.kind is SendFailureKind.NOT_CONNECTED
    assert not err.value.ambiguous


async def test_burst_delivers_n_messages_with_unique_ids(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    sent = burst(sim, channel, 25)
    got = await events.count(EventKind.INBOUND, 25)
    assert [e.wa_id for e in got] == sent
    assert len({e.ack_ref for e in got}) == 25
    message = got[0].message
    assert message is not None and message.text and message.push_name
    assert re.fullmatch(r"55119\d{8}@s\.whatsapp\.net", message.sender_jid)
    await t.stop()


async def test_unacked_inbound_is_redelivered_after_reconnect_acked_is_not(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    await t.stop()
    sent = burst(sim, channel, 5)  # queued while offline
    await t.connect()
    first = await events.count(EventKind.INBOUND, 5)
    assert [e.wa_id for e in first] == sent
    for event in first[:2]:
        assert event.ack_ref is not None
        await t.ack(event.ack_ref)
    await events.until(lambda: account(sim, channel)["pending"] == 3, "two acks")
    fault(sim, "drop", channel)
    await events.state(Reason.CONNECTION_LOST)
    await t.connect()
    again = await events.count(EventKind.INBOUND, 8)
    assert [e.wa_id for e in again[5:]] == sent[2:]
    await t.stop()


# ---- faults -----------------------------------------------------------------------------------


async def test_drop_reports_connection_lost_once_and_reconnects(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    start = len(events.items)
    fault(sim, "drop", channel)
    await events.state(Reason.CONNECTION_LOST, start)
    await asyncio.sleep(0.5)
    assert events.reasons().count(Reason.CONNECTION_LOST) == 1
    with pytest.raises(SendFailedError) as err:
        await t.send_text(PATIENT, "oi", "k")
    assert err.value.kind is SendFailureKind.NOT_CONNECTED
    await t.connect()
    await events.state(Reason.CONNECTED, start)
    await t.stop()


async def test_refuse_fails_connects_until_healed(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    await t.stop()
    fault(sim, "refuse", channel)
    start = len(events.items)
    await t.connect()
    event = await events.until(lambda: events.items[start:] and events.items[start], "refusal")
    assert (event.reason, event.detail) == (Reason.SERVER_UNAVAILABLE, "503")
    assert account(sim, channel)["faults"] == ["refuse"]
    fault(sim, "heal", channel)
    await t.connect()
    await events.state(Reason.CONNECTED, start)
    await t.stop()


async def test_refuse_for_some_seconds_ends_by_itself(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    await t.stop()
    fault(sim, "refuse", channel, 0.5)
    start = len(events.items)

    async def try_connect() -> bool:
        await t.connect()
        return Reason.CONNECTED in [e.reason for e in events.items[start:]]

    deadline = time.monotonic() + DEADLINE
    while not await try_connect():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert events.items[start].reason in (Reason.SERVER_UNAVAILABLE, Reason.CONNECT_FAILED)
    await t.stop()


async def test_connect_to_nothing_is_connect_failed(tmp_path: Path) -> None:
    events = Events()
    t = make_simulator_transport(
        "x", {"simulator_url": "http://127.0.0.1:9"}, str(tmp_path), events
    )
    await t.connect()
    assert events.reasons() == [Reason.CONNECT_FAILED]
    with pytest.raises(ClinicDeskError) as err:
        await t.pair_qr()
    assert err.value.code is ErrorCode.SIMULATOR_UNREACHABLE


async def test_logout_fault_is_logged_out_and_wipes_the_session(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    start = len(events.items)
    fault(sim, "logout", channel)
    event = await events.state(Reason.LOGGED_OUT, start)
    assert event.detail == "401"
    await events.until(lambda: not (tmp_path / SESSION_FILE).exists(), "session wiped")
    await asyncio.sleep(0.3)
    assert Reason.CONNECTION_LOST not in events.reasons()
    with pytest.raises(SendFailedError) as err:
        await t.send_text(PATIENT, "oi", "k")
    assert err.value.kind is SendFailureKind.AUTH
    await t.connect()
    await events.state(Reason.NOT_PAIRED, start)
    await t.stop()


async def test_a_stale_session_gets_logged_out(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, _ = await paired(sim, channel, tmp_path)
    await t.stop()
    fault(sim, "logout", channel)  # unlinked on the phone while the worker was down
    events = Events()
    again = transport(sim, channel, tmp_path, events)
    await again.connect()
    assert events.reasons() == [Reason.LOGGED_OUT]
    assert not (tmp_path / SESSION_FILE).exists()


async def test_permanent_ban_survives_heal(sim: Simulator, channel: str, tmp_path: Path) -> None:
    t, events = await paired(sim, channel, tmp_path)
    start = len(events.items)
    fault(sim, "ban", channel)
    event = await events.state(Reason.BANNED, start)
    assert (event.detail, event.until) == ("406", None)
    with pytest.raises(SendFailedError) as err:
        await t.send_text(PATIENT, "oi", "k")
    assert err.value.kind is SendFailureKind.BANNED
    fault(sim, "heal", channel)
    mark = len(events.items)
    await t.connect()
    await events.state(Reason.BANNED, mark)
    assert account(sim, channel)["status"] == "banned"


async def test_temporary_ban_has_an_expiry_and_ends(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    start = len(events.items)
    before = time.time()
    fault(sim, "ban", channel, 1.0)
    event = await events.state(Reason.TEMP_BANNED, start)
    assert event.until is not None and event.until > before
    with pytest.raises(SendFailedError) as err:
        await t.send_text(PATIENT, "oi", "k")
    assert err.value.kind is SendFailureKind.BANNED and err.value.retry_after is not None
    mark = len(events.items)
    await t.connect()  # still banned
    await events.state(Reason.TEMP_BANNED, mark)
    while time.time() <= event.until:
        await asyncio.sleep(0.05)
    await t.connect()
    await events.state(Reason.CONNECTED, mark)
    await t.stop()


async def test_replaced_until_healed(sim: Simulator, channel: str, tmp_path: Path) -> None:
    t, events = await paired(sim, channel, tmp_path)
    start = len(events.items)
    fault(sim, "replaced", channel)
    assert (await events.state(Reason.REPLACED, start)).detail == "440"
    mark = len(events.items)
    await t.connect()
    await events.state(Reason.REPLACED, mark)
    assert Reason.CONNECTION_LOST not in events.reasons()
    fault(sim, "heal", channel)
    await t.connect()
    await events.state(Reason.CONNECTED, mark)
    assert (tmp_path / SESSION_FILE).exists()
    await t.stop()


async def test_deaf_link_loses_inbound_but_sends_and_receipts_work(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    fault(sim, "deaf", channel)
    held = burst(sim, channel, 3)
    wa_id = await t.send_text(PATIENT, "Bom dia!", "deaf-1")
    await events.until(
        lambda: any(
            e.wa_id == wa_id and e.receipt is Receipt.READ for e in events.of(EventKind.RECEIPT)
        ),
        "read receipt while deaf",
    )
    await asyncio.sleep(0.5)
    assert events.of(EventKind.INBOUND) == []
    assert Reason.CONNECTION_LOST not in events.reasons()
    assert account(sim, channel)["connected"] is True
    fault(sim, "heal", channel)
    got = await events.count(EventKind.INBOUND, 3)
    assert [e.wa_id for e in got] == held
    await t.stop()


async def test_duplicate_delivers_the_same_id_twice(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    fault(sim, "duplicate", channel)
    (wa_id,) = burst(sim, channel, 1)
    got = await events.count(EventKind.INBOUND, 2)
    assert [e.wa_id for e in got] == [wa_id, wa_id]
    assert got[0].ack_ref != got[1].ack_ref
    fault(sim, "heal", channel)
    burst(sim, channel, 1)
    await events.count(EventKind.INBOUND, 3)
    await asyncio.sleep(0.3)
    assert len(events.of(EventKind.INBOUND)) == 3
    await t.stop()


async def test_reorder_shuffles_a_batch(sim: Simulator, channel: str, tmp_path: Path) -> None:
    t, events = await paired(sim, channel, tmp_path)
    fault(sim, "reorder", channel)
    sent = burst(sim, channel, 8)
    got = [str(e.wa_id) for e in await events.count(EventKind.INBOUND, 8)]
    assert sorted(got) == sorted(sent) and got != sent
    await t.stop()


async def test_delay_holds_inbound_and_receipts(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    fault(sim, "delay", channel, 0.6)
    assert account(sim, channel)["faults"] == ["delay:0.6"]
    started = time.monotonic()
    burst(sim, channel, 1)
    await events.count(EventKind.INBOUND, 1)
    assert time.monotonic() - started >= 0.5  # a lower bound only: it was held
    sent_at = time.monotonic()
    wa_id = await t.send_text(PATIENT, "oi", "delay-1")
    await events.until(lambda: any(e.wa_id == wa_id for e in events.of(EventKind.RECEIPT)), "rcpt")
    assert time.monotonic() - sent_at >= 0.5
    fault(sim, "heal", channel)
    assert account(sim, channel)["faults"] == []
    await t.stop()


async def test_fault_without_channel_reaches_every_account(tmp_path: Path) -> None:
    server = Simulator(tmp_path / "sim.log", "--auto-pair")
    try:
        pairs = []
        for index in range(3):
            events = Events()
            conf = {"simulator_url": server.url}
            t = make_simulator_transport(f"all-{index}", conf, str(tmp_path / f"{index}"), events)
            await t.pair_qr()
            await events.state(Reason.CONNECTED)
            pairs.append((t, events))
        fault(server, "deaf", None)
        for index in range(3):
            burst(server, f"all-{index}", 1)
        fault(server, "drop", None)
        for t, events in pairs:
            await events.state(Reason.CONNECTION_LOST)
            await t.connect()
            assert events.reasons()[-1] is Reason.CONNECTED
        await asyncio.sleep(0.3)
        assert all(not events.of(EventKind.INBOUND) for _, events in pairs)  # still deaf
        fault(server, "heal", None)
        for t, events in pairs:
            await events.count(EventKind.INBOUND, 1)
            await t.stop()
    finally:
        server.stop()


# ---- control API and protocol errors ----------------------------------------------------------


def test_control_api_rejects_bad_requests(sim: Simulator) -> None:
    assert control(sim, "POST", "/control/fault", {"kind": "nope"})[0] == 400
    assert control(sim, "POST", "/control/fault", {"kind": "ban", "seconds": -1})[0] == 400
    assert control(sim, "POST", "/control/burst", {"channel": "c", "count": 0})[0] == 400
    assert control(sim, "POST", "/control/burst", {"count": 1})[0] == 400
    reaction = {"channel": "c", "text": "👍", "kind": "reaction"}  # on no message
    assert control(sim, "POST", "/control/inbound", reaction)[0] == 400
    assert control(sim, "POST", "/control/scan", {"channel": "never-seen"})[0] == 404
    assert control(sim, "GET", "/control/accounts/never-seen")[0] == 404
    status, body = control(sim, "GET", "/control/health")
    assert status == 200 and body["ok"] is True


async def test_malformed_frames_get_an_error_and_the_server_stays_up(
    sim: Simulator, channel: str
) -> None:
    async with ws_connect(ws_url(sim.url, channel), proxy=None) as ws:
        await ws.send("not json")
        assert json.loads(await ws.recv())["code"] == "malformed"
        await ws.send(json.dumps({"v": 99, "type": "hello"}))
        assert json.loads(await ws.recv())["code"] == "malformed"
        await ws.send(json.dumps({"v": 1, "type": "send", "to": PATIENT}))
        assert json.loads(await ws.recv())["code"] == "hello_first"
    assert control(sim, "GET", "/control/health")[0] == 200


# ---- scale (scaled down from the 1,000-channel benchmark) --------------------------------------


async def test_200_transports_connect_and_come_back_after_drop_all(tmp_path: Path) -> None:
    server = Simulator(tmp_path / "sim.log", "--auto-pair", "--receipt-delay", "0.05")
    n = 200
    try:
        sinks = [Events() for _ in range(n)]
        transports = [
            make_simulator_transport(
                f"scale-{i}", {"simulator_url": server.url}, str(tmp_path / str(i)), sinks[i]
            )
            for i in range(n)
        ]
        await asyncio.gather(*(t.pair_qr() for t in transports))
        await sinks[0].until(
            lambda: all(Reason.CONNECTED in s.reasons() for s in sinks), "all connected"
        )
        await asyncio.gather(*(t.stop() for t in transports))
        for sink in sinks:
            sink.items.clear()
        await asyncio.gather(*(t.connect() for t in transports))  # resume with sessions
        assert all(s.reasons() == [Reason.CONNECTED] for s in sinks)
        fault(server, "drop", None)
        await sinks[0].until(
            lambda: all(Reason.CONNECTION_LOST in s.reasons() for s in sinks), "all lost"
        )
        await asyncio.gather(*(t.connect() for t in transports))
        assert all(s.reasons()[-1] is Reason.CONNECTED for s in sinks)
        assert control(server, "GET", "/control/health")[1]["connected"] == n
        await asyncio.gather(*(t.stop() for t in transports))
    finally:
        server.stop()


def test_session_file_is_private(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX modes")
    private = tmp_path / "p"
    t = SimulatorTransport(
        "c", url="http://127.0.0.1:9", account="c", private_dir=private, emit=Events()
    )
    t._save_session("tok")
    assert stat.S_IMODE((private / SESSION_FILE).stat().st_mode) == 0o600
    assert t._load_session() == "tok"


async def test_state_file_keeps_sessions_and_queue_across_simulator_restarts(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.json"
    server = Simulator(tmp_path / "a.log", "--auto-pair", "--state-file", str(state))
    events = Events()
    conf = {"simulator_url": server.url}
    try:
        t = make_simulator_transport("kept", conf, str(tmp_path / "p"), events)
        await t.pair_qr()
        await events.state(Reason.CONNECTED)
        await t.stop()
        sent = burst(server, "kept", 2)
    finally:
        server.stop()  # SIGTERM: the state file is written on the way out
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    server = Simulator(tmp_path / "b.log", "--state-file", str(state))
    try:
        events = Events()
        conf = {"simulator_url": server.url}
        t = make_simulator_transport("kept", conf, str(tmp_path / "p"), events)
        await t.connect()
        await events.state(Reason.CONNECTED)
        got = await events.count(EventKind.INBOUND, 2)
        assert [e.wa_id for e in got] == sent
        await t.stop()
    finally:
        server.stop()


# ---- connect() on a socket that is already open ------------------------------------------------


async def _open_by_connect(t: SimulatorTransport, events: Events) -> None:
    await t.connect()
    await events.state(Reason.NOT_PAIRED)


async def _open_by_pair_qr(t: SimulatorTransport, events: Events) -> None:
    await t.pair_qr()  # a socket opened only to pair: no not_paired event for it
    await events.state(Reason.PAIRING_STARTED)


@pytest.mark.parametrize("open_socket", [_open_by_connect, _open_by_pair_qr])
async def test_connect_on_an_open_unpaired_socket_reports_not_paired_again(
    sim: Simulator,
    channel: str,
    tmp_path: Path,
    open_socket: Callable[[SimulatorTransport, Events], Any],
) -> None:
    """Regression: connect() used to return silently here and a supervisor hung until its
    connect_timeout, then looped."""
    events = Events()
    t = transport(sim, channel, tmp_path, events)
    await open_socket(t, events)
    start = len(events.items)
    await t.connect()
    new = [(e.reason, e.detail) for e in events.items[start:] if e.kind is EventKind.STATE]
    assert new == [(Reason.NOT_PAIRED, "already_open")]
    assert account(sim, channel)["counts"]["hellos"] == 1  # the same socket, no new dial
    await t.stop()


async def test_connect_on_a_linked_socket_reports_connected_again(
    sim: Simulator, channel: str, tmp_path: Path
) -> None:
    t, events = await paired(sim, channel, tmp_path)
    connects = account(sim, channel)["counts"]["connects"]
    start = len(events.items)
    await t.connect()
    new = [(e.reason, e.detail) for e in events.items[start:] if e.kind is EventKind.STATE]
    assert new == [(Reason.CONNECTED, "already_open")]
    assert account(sim, channel)["counts"]["connects"] == connects
    await t.stop()
