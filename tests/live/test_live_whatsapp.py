"""Live kit: the whatsapp-web transport against real WhatsApp with a spare number.

Skipped unless ``CLINICDESK_LIVE_WHATSAPP=1``. See docs/LIVE_WHATSAPP.md for the checklist.
Run with ``-s`` (the QR or pairing code is printed to the terminal):

    CLINICDESK_LIVE_WHATSAPP=1 CLINICDESK_LIVE_WHATSAPP_TO=5511987654321 \\
        .venv/bin/pytest -s tests/live/test_live_whatsapp.py

Optional: ``CLINICDESK_LIVE_WHATSAPP_PHONE`` (the spare number, E.164) pairs by code instead of
QR. One test, in order: pairing, send, receive, restart without re-pairing, logout (the device
disappears from the phone's "Linked devices"). It uses the production wiring and worker command.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.bootstrap import Core, FirstAdmin, build_supervisor, init_installation
from app.channels.supervisor import Supervisor, SupervisorSettings
from app.channels.transports.wa_store import SEALED_NAME
from app.cli.channel_cmd import render_qr
from app.domain.channels import LinkState
from app.security.protectors import FileMachineProtector
from app.services.channels import ChannelSpec
from app.services.events import Event, PairingQr
from app.store import schema

ENABLED = os.environ.get("CLINICDESK_LIVE_WHATSAPP") == "1"
pytestmark = pytest.mark.skipif(
    not ENABLED, reason="live WhatsApp test: set CLINICDESK_LIVE_WHATSAPP=1 (spare number)"
)
S = LinkState
PAIR_WAIT = 170.0  # whatsmeow's QR window
REPLY_WAIT = 180.0
SETTINGS = SupervisorSettings(pairing_timeout=PAIR_WAIT, connect_timeout=90.0)


async def until(check: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"live: timed out waiting for {what}")


@pytest.fixture
async def live(data_dir: Path, key_dir: Path) -> AsyncIterator[tuple[Core, list[Event]]]:
    admin = FirstAdmin("live.admin", "Live", "correct horse battery staple")
    core, _ = await init_installation(data_dir, admin, machine=FileMachineProtector(key_dir))
    events: list[Event] = []
    core.bus.subscribe(events.append, None)
    yield core, events
    core.close()


def state(sup: Supervisor, cid: int) -> tuple[LinkState, str]:
    status = sup.status(cid)
    return status.state, status.reason


async def test_pair_send_receive_restart_logout(
    live: tuple[Core, list[Event]], data_dir: Path
) -> None:
    core, events = live
    to = os.environ.get("CLINICDESK_LIVE_WHATSAPP_TO", "").lstrip("+")
    assert to.isdigit(), "set CLINICDESK_LIVE_WHATSAPP_TO to a second number you can read"
    actor = core.local_actor()
    branch = await core.branches.add(actor, "Live")
    spec = ChannelSpec(branch.id, "live", "Live", "whatsapp-web")
    cid = (await core.channels.create(actor, spec)).id
    sup = build_supervisor(core, SETTINGS)
    await sup.start()
    await until(lambda: state(sup, cid)[0] is S.QR_REQUIRED, "not_paired", 60)

    # 1. pairing (QR by default, or a code for CLINICDESK_LIVE_WHATSAPP_PHONE)
    phone = os.environ.get("CLINICDESK_LIVE_WHATSAPP_PHONE")
    code = await sup.pair(cid, phone)
    if code:
        print(f"\nlive: on the phone, Linked devices → Link with phone number → {code}")
    else:
        qr = await until(lambda: [e for e in events if isinstance(e, PairingQr)], "a QR", 60)
        print("\nlive: scan this with the spare phone (Linked devices):\n" + render_qr(qr[-1].qr))
    await until(lambda: state(sup, cid)[0] is S.CONNECTED, "CONNECTED", PAIR_WAIT)
    sealed = data_dir / "channels" / str(cid) / SEALED_NAME
    await until(sealed.exists, "sealed device store", 90)

    # 2. send, 3. receive
    jid = f"{to}@s.whatsapp.net"
    sup.set_send_limits(cid, {"min_gap_s": 1, "max_gap_s": 2})
    wa_id = await sup.send_text(cid, jid, "ClinicDesk live test: reply with any text", "live-1")
    print(f"live: sent {wa_id}; now reply from the other phone")
    query = select(schema.messages).where(
        schema.messages.c.channel_id == cid, schema.messages.c.direction == "in"
    )
    found: list[Any] = []

    async def poll() -> list[Any]:
        found[:] = await core.store.read(lambda tx: list(tx.conn.execute(query)))
        return found

    deadline = time.monotonic() + REPLY_WAIT
    while not await poll() and time.monotonic() < deadline:
        await asyncio.sleep(1)
    assert found, "live: no reply stored"

    # 4. restart without re-pairing
    await sup.stop()
    assert not (data_dir / "channels" / str(cid) / "live").exists()
    sup = build_supervisor(core, SETTINGS)
    await sup.start()
    await until(lambda: state(sup, cid)[0] is S.CONNECTED, "CONNECTED after restart", 90)

    # 5. logout: unlinked, credentials wiped
    await sup.logout(cid)
    assert state(sup, cid) == (S.QR_REQUIRED, "logout_by_user")
    assert not sealed.exists()
    await sup.stop()
    print("live: check the phone: the device is gone from Linked devices")
