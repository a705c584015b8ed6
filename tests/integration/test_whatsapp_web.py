"""The whatsapp-web (neonize) transport through real worker processes and the real engine.

The engine is wired as in production (``init_installation`` → ``build_supervisor``: keystore,
SQLCipher store, supervisor, inbound pipeline, device-store keys derived from the DEK). Each
channel worker is the real ``channel-worker`` running the real neonize Python package; only
neonize's Go library is replaced by the fake in tests/helpers/fake_neonize.py, which the test
drives over loopback. Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.bootstrap import Core, FirstAdmin, build_supervisor, init_installation
from app.channels.protocol import Op
from app.channels.supervisor import Supervisor, SupervisorSettings
from app.channels.transports.wa_store import LIVE_DIR, SEALED_NAME
from app.domain.channels import Backoff, LinkState
from app.security.protectors import FileMachineProtector
from app.services.channels import ChannelSpec
from app.services.events import Event, PairingCode, PairingQr, ReceiptReceived
from app.services.transport import OutboundMedia
from app.store import schema
from tests.helpers.channels import wait_for
from tests.helpers.fake_neonize import ENV
from tests.helpers.neonize_hub import WORKER_COMMAND, FakeHub, FakeWorker

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes are POSIX here")

S = LinkState
PATIENT = "5511987654321@s.whatsapp.net"
PATIENT_LID = "123456789012345@lid"
FAST = SupervisorSettings(
    connect_cap=8,
    backoff=Backoff(0.05, 0.5),
    breaker_threshold=50,
    breaker_probe_after=1.0,
    heartbeat_interval=0.5,
    heartbeat_timeout=10.0,
    pairing_timeout=60.0,
    connect_timeout=10.0,
    shutdown_timeout=10.0,
    worker_command=WORKER_COMMAND,
)
QUICK_SENDS = {"min_gap_s": 1, "max_gap_s": 1, "per_chat_gap_s": 1, "per_minute": 60,
               "typing_s_per_char": 0.001, "typing_max_s": 0.01}  # fmt: skip


class Desk:
    """The engine under test: core, supervisor, the fake hub and what the bus published."""

    def __init__(self, core: Core, root: Path, hub: FakeHub) -> None:
        self.core, self.root, self.hub = core, root, hub
        self.events: list[Event] = []
        core.bus.subscribe(self.events.append, None)
        self.sup: Supervisor = build_supervisor(core, FAST)
        self.branch_id = 0

    async def add(self, name: str, **config: Any) -> int:
        actor = self.core.local_actor()
        spec = ChannelSpec(self.branch_id, name, name.title(), "whatsapp-web", config=config)
        return (await self.core.channels.create(actor, spec)).id

    async def restart(self) -> None:
        await self.sup.stop()
        self.sup = build_supervisor(self.core, FAST)
        await self.sup.start()

    async def reach(self, cid: int, state: LinkState, reason: str | None = None) -> None:
        def there() -> bool:
            status = self.sup.status(cid)
            return status.state is state and reason in (None, status.reason)

        await wait_for(there, f"{cid} {state}({reason}); now {self.sup.status(cid)}", 30)

    def private(self, cid: int) -> Path:
        return self.root / "channels" / str(cid)

    def published(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def messages(self, cid: int) -> list[Any]:
        query = select(schema.messages).where(schema.messages.c.channel_id == cid)
        return await self.core.store.read(lambda tx: list(tx.conn.execute(query)))

    async def paired(self, cid: int) -> FakeWorker:
        """Pair ``cid`` by QR through the fake and wait until it is CONNECTED."""
        await wait_for(lambda: self.sup._runtime(cid).worker_ready(), "worker up", 30)
        before = self.hub.find(str(cid))
        count = len(before.of("started")) if before else 0
        await self.sup.pair(cid)
        fake = await self.hub.worker(str(cid))
        await wait_for(lambda: len(fake.of("started")) > count or fake is not before, "client")
        await fake.call("pair")
        await self.reach(cid, S.CONNECTED, "connected")
        return fake

    async def request(self, cid: int, op: Op, **args: Any) -> Any:
        """A worker request the engine has no public call for yet (mark_read)."""
        return await self.sup._request(self.sup._runtime(cid), op, **args)


@pytest.fixture
async def desk(
    data_dir: Path, key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Desk]:
    hub = FakeHub()
    monkeypatch.setenv(ENV, await hub.start())
    admin = FirstAdmin("root.admin", "Root", "correct horse battery staple")
    core, _ = await init_installation(data_dir, admin, machine=FileMachineProtector(key_dir))
    d = Desk(core, data_dir, hub)
    d.branch_id = (await core.branches.add(core.local_actor(), "Centro")).id
    yield d
    await d.sup.stop()
    await hub.close()
    core.close()


def message_event(wa_id: str, **message: Any) -> dict[str, Any]:
    """A Neonize.proto ``Message`` event from PATIENT (LID sender, phone as SenderAlt)."""
    lid_user, _, lid_server = PATIENT_LID.partition("@")
    user, _, server = PATIENT.partition("@")
    source = {
        "Chat": {"User": user, "Server": server},
        "Sender": {"User": lid_user, "Server": lid_server},
        "SenderAlt": {"User": user, "Server": server}, "IsFromMe": False, "IsGroup": False,
    }  # fmt: skip
    info = {"MessageSource": source, "ID": wa_id, "Timestamp": 1_790_000_000, "Pushname": "Ana"}
    return {"Info": info, "Message": message}


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


async def test_pairing_messages_receipts_and_media_through_the_engine(desk: Desk) -> None:
    cid = await desk.add("recepcao")
    await desk.sup.start()
    await desk.reach(cid, S.QR_REQUIRED, "not_paired")
    assert desk.hub.find(str(cid)) is None  # no device: no client was started, so no QR
    await desk.sup.pair(cid)
    fake = await desk.hub.worker(str(cid))
    await wait_for(lambda: [e.qr for e in desk.published(PairingQr)] == ["2@fake-qr-1"], "qr")
    await fake.call("qr", code="2@fake-qr-2")  # whatsmeow's refresh: each code is forwarded
    await wait_for(lambda: len(desk.published(PairingQr)) == 2, "second qr")
    started = fake.of("started")[0]
    assert started["level"] == "WARN"  # Go log level kept low
    assert started["props"]["historySyncConfig"]["fullSyncDaysLimit"] == 1  # history limited
    assert started["props"].get("requireFullSync") in (None, False)
    assert 13 not in started["subs"]  # HistorySync blobs are not even marshalled
    await fake.call("pair")
    await desk.reach(cid, S.CONNECTED, "connected")
    sealed = desk.private(cid) / SEALED_NAME
    await wait_for(sealed.exists, "sealed device store")
    assert not sealed.read_bytes().startswith(b"SQLite format 3")

    # inbound: text (LID sender, phone alternate), image (downloaded at once), location, contact
    await fake.event("Message", **message_event("IN1", conversation="Bom dia, @5511900000000"))
    blob = png()
    sha = (await fake.call("blob", b64=base64.b64encode(blob).decode()))["sha256_b64"]
    image = {
        "mimetype": "image/png",
        "caption": "exame",
        "fileSHA256": sha,
        "fileLength": len(blob),
    }
    await fake.event("Message", **message_event("IN2", imageMessage=image))
    location = {"degreesLatitude": -23.55, "degreesLongitude": -46.63, "name": "Clínica"}
    await fake.event("Message", **message_event("IN3", locationMessage=location))
    contact = {"displayName": "Dr. Luiz", "vcard": "BEGIN:VCARD\nEND:VCARD"}
    await fake.event("Message", **message_event("IN4", contactMessage=contact))
    liked = {"key": {"ID": "IN1"}, "text": "👍"}
    await fake.event("Message", **message_event("IN5", reactionMessage=liked))
    taken_back = {"key": {"ID": "IN1"}, "text": ""}  # not a message: dropped by the worker
    await fake.event("Message", **message_event("IN6", reactionMessage=taken_back))
    await fake.event("Message", **message_event("IN7", conversation="ok"))  # after IN6, in order
    mine = message_event("OUT0", conversation="sent from the phone")
    mine["Info"]["MessageSource"]["IsFromMe"] = True
    await fake.event("Message", **mine)
    stored = await wait_for_messages(desk, cid, 6)
    by_id = {r.wa_id: r for r in stored}
    assert by_id["IN1"].kind == "text" and by_id["IN1"].body == "Bom dia, @5511900000000"
    assert by_id["IN1"].chat_jid == PATIENT and by_id["IN1"].sender_jid == PATIENT_LID
    assert by_id["IN2"].kind == "image" and by_id["IN2"].media_size == len(blob)
    assert by_id["IN2"].media_sha256 is not None
    assert (by_id["IN3"].kind, by_id["IN4"].kind) == ("location", "contact")
    assert (by_id["IN5"].kind, by_id["IN5"].body) == ("reaction", "👍")
    assert "IN7" in by_id and "IN6" not in by_id and "OUT0" not in by_id

    # outbound: explicit text (no mention parsing), image, document, audio; typing before sends
    desk.sup.set_send_limits(cid, QUICK_SENDS)
    wa_text = await desk.sup.send_text(cid, PATIENT, "Olá @5511900000000", "k1")
    sent = (await wait_for(lambda: fake.of("sent"), "sent"))[-1]
    assert sent["message"] == {"conversation": "Olá @5511900000000"}
    assert sent["to"] == PATIENT and sent["wa_id"] == wa_text
    await wait_for(lambda: fake.of("presence"), "typing")  # typing went out with the send
    data = base64.b64encode(blob).decode()
    for mime, field in (("image/png", "imageMessage"), ("application/pdf", "documentMessage"),
                        ("audio/ogg", "audioMessage")):  # fmt: skip
        media = OutboundMedia(data, mime, filename="f", caption="c")
        wa_media = await desk.sup.send_media(cid, PATIENT, media, f"k-{mime}")
        got = await wait_for(
            lambda w=wa_media: [s for s in fake.of("sent") if s["wa_id"] == w], mime
        )
        assert got[0]["message"][field]["mimetype"] == mime

    # receipts → acks on the bus; read receipts for inbound
    await fake.event("Receipt", MessageIDs=[wa_text], Type="DELIVERED",
                     MessageSource=message_event("x")["Info"]["MessageSource"])  # fmt: skip
    await fake.event("Receipt", MessageIDs=[wa_text], Type="READ",
                     MessageSource=message_event("x")["Info"]["MessageSource"])  # fmt: skip
    await wait_for(
        lambda: (
            [(r.wa_id, r.receipt) for r in desk.published(ReceiptReceived)]
            == [(wa_text, "delivered"), (wa_text, "read")]
        ),
        "receipts",
    )
    await desk.request(cid, Op.MARK_READ, chat=PATIENT, ids=["IN1", "IN2"])
    read = await wait_for(lambda: fake.of("mark_read"), "read receipts sent")
    assert read[-1] == {"note": "mark_read", "ids": ["IN1", "IN2"], "chat": PATIENT}


async def wait_for_messages(desk: Desk, cid: int, count: int) -> list[Any]:
    """The channel's stored messages once there are at least ``count`` (polled, bounded)."""
    found: list[Any] = []
    for _ in range(400):
        found = await desk.messages(cid)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(found)} messages stored")


def live_files(desk: Desk, cid: int) -> list[str]:
    live = desk.private(cid) / LIVE_DIR
    return sorted(p.name for p in live.iterdir()) if live.is_dir() else []


# (event to emit, state, reason, device store wiped) — WHATSAPP_ENGINES.md §2.3
OUTCOMES = [
    (("event", "StreamReplaced", {}), S.ERROR, "replaced", False),
    (("event", "ClientOutdated", {}), S.ERROR, "client_outdated", False),
    (("event", "ConnectFailure", {"Reason": "BAD_USER_AGENT"}), S.ERROR, "client_outdated", False),
    (("logged_out", 4, {}), S.ERROR, "main_device_gone", True),
    (("logged_out", 5, {}), S.ERROR, "banned", True),
    (("logged_out", 2, {}), S.QR_REQUIRED, "logged_out", True),
    (("event", "TemporaryBan", {"Code": "BLOCKED_BY_USERS", "Expire": 3600}), S.SUSPENDED,
     "temp_banned", False),
]  # fmt: skip


async def test_every_stop_outcome_maps_to_its_state_and_stops_the_client(desk: Desk) -> None:
    cid = await desk.add("recepcao")
    await desk.sup.start()
    await desk.reach(cid, S.QR_REQUIRED, "not_paired")
    sealed = desk.private(cid) / SEALED_NAME
    for (how, what, fields), state, reason, wiped in OUTCOMES:
        fake = await desk.paired(cid)
        await wait_for(sealed.exists, "sealed after pairing")
        uuid = (await fake.call("state"))["current"]
        if how == "event":
            await fake.event(what, **fields)
        else:
            await fake.call("logged_out", reason=what)
        await desk.reach(cid, state, reason)
        await wait_for(lambda u=uuid, f=fake: u in fake_stopped(f), f"{reason}: client stopped")
        assert not sealed.exists() if wiped else sealed.exists(), reason
        await wait_for(lambda: live_files(desk, cid) == [], f"{reason}: no plaintext left")
    status = desk.sup.status(cid)
    assert status.until is not None and status.until > 3000  # the ban's expiry came through


def fake_stopped(fake: FakeWorker) -> list[str]:
    return [n["uuid"] for n in fake.of("stopped")]


def connected_since(desk: Desk, cid: int, moment: datetime) -> bool:
    """Whether the channel became CONNECTED again after ``moment``."""
    status = desk.sup.status(cid)
    return status.state is S.CONNECTED and status.since > moment


async def test_drops_reconnect_and_the_keepalive_watchdog_recreates_the_client(
    desk: Desk,
) -> None:
    cid = await desk.add("recepcao", recover_after=1.0, restart_grace=60.0)
    await desk.sup.start()
    fake = await desk.paired(cid)
    first = (await fake.call("state"))["current"]
    # a drop whatsmeow recovers from by itself: same client, CONNECTED again
    await fake.event("Disconnected", status=False)
    await desk.reach(cid, S.CONNECTING, "connection_lost")
    await fake.event("Connected", status=True)
    await desk.reach(cid, S.CONNECTED, "connected")
    assert (await fake.call("state"))["current"] == first
    # keep-alives fail and nothing recovers: the watchdog stops and re-creates the client
    before = desk.sup.status(cid).since
    await fake.event("KeepAliveTimeout", ErrorCount=1, LastSuccess=1)
    await wait_for(lambda: first in fake_stopped(fake), "old client stopped")
    # CONNECTED again, not the CONNECTED from before the drop (its report may still be on its way)
    await wait_for(lambda: connected_since(desk, cid, before), "connected again", 30)
    second = (await fake.call("state"))["current"]
    assert second != first and second.split("#")[0] == first.split("#")[0]
    # the finalizer trap: collecting the old client must not stop the new one
    await fake.call("gc")
    assert second not in fake_stopped(fake)
    desk.sup.set_send_limits(cid, QUICK_SENDS)
    await desk.sup.send_text(cid, PATIENT, "ainda aqui", "k1")
    sent = await wait_for(lambda: fake.of("sent"), "send on the new client")
    assert sent[-1]["uuid"] == second


async def test_engine_death_is_reported_and_a_fresh_client_connects(desk: Desk) -> None:
    cid = await desk.add("recepcao")
    await desk.sup.start()
    fake = await desk.paired(cid)
    first = (await fake.call("state"))["current"]
    await fake.call("end", error="proto: required field not set")  # Neonize() returned
    await wait_for(lambda: first in fake_stopped(fake), "dead client stopped")
    await wait_for(lambda: fake.of("started")[-1]["uuid"] != first, "fresh client")
    await desk.reach(cid, S.CONNECTED, "connected")
    assert ("CONNECTED", "CONNECTING", "connection_lost") in await history(desk, cid)


async def history(desk: Desk, cid: int) -> list[tuple[str | None, str, str | None]]:
    rows = await desk.core.store.read(lambda tx: tx.channels.history(cid, 500))
    return [(r.from_state, r.to_state, r.reason) for r in reversed(rows)]


async def test_several_channels_run_in_parallel_one_client_per_process(desk: Desk) -> None:
    ids = [await desk.add(f"canal{i}") for i in range(3)]
    await desk.sup.start()
    fakes = await asyncio.gather(*(desk.paired(cid) for cid in ids))
    pids = {f.pid for f in fakes}
    assert len(pids) == 3 and None not in pids
    for cid, fake in zip(ids, fakes, strict=True):
        assert {n["uuid"].split("#")[0] for n in fake.of("started")} == {str(cid)}
        await fake.event("Message", **message_event(f"M{cid}", conversation="oi"))
    for cid in ids:
        stored = await wait_for_messages(desk, cid, 1)
        assert [r.wa_id for r in stored] == [f"M{cid}"]


async def test_handler_errors_and_bad_events_do_not_kill_the_worker(desk: Desk) -> None:
    cid = await desk.add("recepcao")
    await desk.sup.start()
    fake = await desk.paired(cid)
    pid = fake.pid
    await fake.call("raw", code=17, hex="ffff0102")  # a Message that is not a protobuf
    await fake.call("raw", code=999, hex="00")  # a code neonize does not know
    bad = message_event("BAD", imageMessage={"mimetype": "image/png", "fileSHA256": "AAAA",
                                             "fileLength": 10})  # fmt: skip
    await fake.event("Message", **bad)  # the download fails: kept, without media
    await fake.event("Message", **message_event("GOOD", conversation="depois"))
    stored = {r.wa_id: r for r in await wait_for_messages(desk, cid, 2)}
    assert stored["GOOD"].body == "depois" and stored["BAD"].media_sha256 is None
    assert desk.hub.find(str(cid)) is fake and fake.pid == pid
    assert desk.sup.status(cid).state is S.CONNECTED


async def test_the_qr_window_ends_pairing_and_stops_the_client(desk: Desk) -> None:
    cid = await desk.add("recepcao", qr_window=1.0)
    await desk.sup.start()
    await desk.reach(cid, S.QR_REQUIRED, "not_paired")
    await desk.sup.pair(cid)
    fake = await desk.hub.worker(str(cid))
    await desk.reach(cid, S.QR_REQUIRED, "pairing_timeout")
    await wait_for(lambda: fake.of("stopped"), "pairing client stopped")
    count = len(desk.published(PairingQr))
    await fake.call("state")
    assert len(desk.published(PairingQr)) == count == 1


async def test_pair_by_code_then_restart_without_pairing_then_logout(desk: Desk) -> None:
    cid = await desk.add("recepcao")
    await desk.sup.start()
    await desk.reach(cid, S.QR_REQUIRED, "not_paired")
    code = await desk.sup.pair(cid, "+5511999990000")
    assert code == "FAKE-CODE"
    fake = await desk.hub.worker(str(cid))
    phone = await wait_for(lambda: fake.of("pair_phone"), "pair phone")
    assert phone[0]["phone"] == "5511999990000"
    assert not desk.published(PairingQr)  # code pairing shows no QR
    await wait_for(lambda: desk.published(PairingCode), "pairing code event")
    await fake.call("pair")
    await desk.reach(cid, S.CONNECTED, "connected")
    sealed = desk.private(cid) / SEALED_NAME
    await wait_for(sealed.exists, "sealed")

    await desk.restart()  # clean stop: sealed, plaintext wiped; the restart needs no pairing
    await desk.reach(cid, S.CONNECTED, "connected")
    again = desk.hub.find(str(cid))
    assert again is not None and again is not fake and again.of("started")[0]["paired"]

    await desk.sup.logout(cid)
    await desk.reach(cid, S.QR_REQUIRED, "logout_by_user")
    await wait_for(lambda: again.of("logout"), "logout sent to whatsmeow")
    assert not sealed.exists() and live_files(desk, cid) == []


async def test_at_rest_only_the_sealed_store_exists(desk: Desk) -> None:
    cid = await desk.add("recepcao")
    await desk.sup.start()
    fake = await desk.paired(cid)
    assert live_files(desk, cid)  # plaintext while running
    assert desk.core.device_keys is not None
    key = desk.core.device_keys.for_channel(str(cid)).hex().encode()
    for exposed in ("cmdline", "environ"):  # the key travels on stdin only
        assert key not in Path(f"/proc/{fake.pid}/{exposed}").read_bytes()
    for path in desk.root.rglob("*"):
        assert not path.is_file() or key not in path.read_bytes(), path
    await desk.sup.stop()
    assert live_files(desk, cid) == []
    assert (desk.private(cid) / SEALED_NAME).exists()
    desk.sup = build_supervisor(desk.core, dataclasses.replace(FAST))


async def test_a_killed_worker_comes_back_from_the_sealed_copy(desk: Desk) -> None:
    cid = await desk.add("recepcao", seal_every=0.2)
    await desk.sup.start()
    fake = await desk.paired(cid)
    await wait_for((desk.private(cid) / SEALED_NAME).exists, "sealed")
    assert fake.pid is not None
    os.kill(fake.pid, signal.SIGKILL)  # no clean stop: plaintext left behind in live/
    await wait_for(lambda: desk.hub.find(str(cid)) not in (None, fake), "a new worker", 30)
    await desk.reach(cid, S.CONNECTED, "connected")
    again = desk.hub.find(str(cid))
    assert again is not None and again.of("started")[0]["paired"]
