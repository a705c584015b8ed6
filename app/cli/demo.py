"""``clinicdesk --demo``: simulator + engine + demo branches, staff, channels and patients.

The demo plays the person at the front desk: once the engine runs it pairs every channel
through the engine API, and the simulator (``--auto-pair --chatty``) accepts at once and lets
its patients write in. With ``--quit-after S`` it stops after S seconds and prints a JSON
summary of channel states and message counts. Without ``--headless`` the desk opens too
(``app/cli/demo_desk.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx

from app.bootstrap import Core, FirstAdmin, init_installation
from app.cli.remote import EngineClient
from app.config import DataDir
from app.domain.roles import Role
from app.engine import EngineOptions, run_engine
from app.infra.engine_info import read_engine_info
from app.infra.logging import configure_logging
from app.services.branches import SettingsChange
from app.services.channels import ChannelSpec
from app.services.events import ChannelStateChanged, Event, InboundReceived
from app.services.reminders import ReminderRequest
from app.services.users import NewUser
from app.simulator.protocol import DEFAULT_URL

DEMO_BRANCHES = ("Clínica Centro", "Clínica Zona Sul")
DEMO_CHANNELS = (("recepcao", "Recepção"), ("exames", "Exames"))
DEMO_STAFF = (("ana", "Ana Souza", Role.RECEPTIONIST), ("bruno", "Bruno Lima", Role.SUPERVISOR))
DEMO_QUEUES = (
    ("Agendamento", "#3B82F6", "Olá! Vamos agendar sua consulta. Em que dia fica melhor?"),
    ("Exames", "#10B981", "Olá! Envie o pedido do exame e a carteirinha do convênio, por favor."),
)
DEMO_REPLIES = (
    ("endereco", "Estamos na {clinica}: Rua das Palmeiras, 120, 2º andar."),
    ("retorno", "Olá {primeiro_nome}! Podemos marcar o retorno por aqui. Qual dia prefere?"),
    ("jejum", "Para este exame é preciso jejum de 8 horas. Água pode, {primeiro_nome}."),
)
DEMO_PATIENTS = (("+55 11 98765-4321", "Maria Oliveira"), ("(21) 99876-5432", "João Santos"))
DEMO_REMINDERS = (  # (text, every N days, ask the patient to confirm)
    ("Olá {primeiro_nome}, lembramos da sua consulta amanhã às 9h na {clinica}.", None, True),
    ("Olá {primeiro_nome}, hora da sua sessão semanal de fisioterapia na {clinica}.", 7, False),
)


async def seed(core: Core, password: str, simulator_url: str) -> None:
    """Demo branches with staff, two simulator channels and a few patients each."""
    actor = core.local_actor()
    for index, name in enumerate(DEMO_BRANCHES, start=1):
        branch = await core.branches.add(actor, name)
        staff = []
        for username, display, role in DEMO_STAFF:
            new = NewUser(f"{username}{index}", display, password, branch.id, role)
            staff.append(await core.users.add(actor, new))
        for order, (queue_name, color, greeting) in enumerate(DEMO_QUEUES, start=1):
            queue = await core.queues.create(
                actor, branch.id, queue_name, greeting=greeting, menu_order=order, color=color
            )
            for member in staff:
                await core.queues.add_member(actor, queue.id, member.id)
        channel_ids = [
            (await core.channels.create(actor, _demo_channel(branch.id, key, label, index,
                                                              simulator_url))).id
            for key, label in DEMO_CHANNELS
        ]  # fmt: skip
        patients = [
            (await core.contacts.add(actor, branch.id, phone, patient)).id
            for phone, patient in DEMO_PATIENTS
        ]
        await _demo_reminders(core, channel_ids[0], patients)
        await _demo_replies(core, branch.id, name)


async def _demo_replies(core: Core, branch_id: int, clinic: str) -> None:
    """The clinic's name for {clinica} and a few quick replies (Clínica page, /atalho)."""
    actor = core.local_actor()
    await core.branches.configure(actor, branch_id, SettingsChange(clinic_name=clinic))
    for shortcut, text in DEMO_REPLIES:
        await core.tickets.add_quick_reply(actor, branch_id, shortcut, text)


def _demo_channel(branch_id: int, key: str, label: str, index: int, url: str) -> ChannelSpec:
    config: dict[str, object] = {"simulator_url": url}
    return ChannelSpec(branch_id, f"{key}-{index}", label, "simulator", None, config)


async def _demo_reminders(core: Core, channel_id: int, patients: list[int]) -> None:
    """A one-off appointment reminder tomorrow at 9:00 that asks for confirmation, and a
    weekly one (Lembretes page)."""
    local = datetime.now().astimezone()
    tomorrow = datetime.combine(local.date() + timedelta(days=1), clock_time(9), local.tzinfo)
    for contact_id, (text, every, ask) in zip(patients, DEMO_REMINDERS, strict=False):
        request = ReminderRequest(
            channel_id, (contact_id,), text, tomorrow, every, ask_confirmation=ask
        )
        await core.reminders.create(core.local_actor(), request)


async def create_demo(root: Path, password: str, simulator_url: str) -> None:
    """A fresh demo installation in ``root``."""
    core, _recovery = await init_installation(root, FirstAdmin("admin", "Administrador", password))
    try:
        await seed(core, password, simulator_url)
    finally:
        core.close()


@dataclass
class DemoTracker:
    """Follows the event bus: last state per channel and inbound messages per channel."""

    states: dict[int, dict[str, object]] = field(default_factory=dict)
    inbound: Counter[int] = field(default_factory=Counter)

    def on_event(self, event: Event) -> None:
        if isinstance(event, ChannelStateChanged) and event.reason != "stopped":
            self.states[event.channel_id] = {
                "state": event.state,
                "reason": event.reason,
                "reconnects": event.reconnects,
            }
        elif isinstance(event, InboundReceived):
            self.inbound[event.channel_id] += 1

    def summary(self, names: dict[int, str]) -> dict[str, object]:
        channels = {names.get(cid, str(cid)): s for cid, s in sorted(self.states.items())}
        inbound = {names.get(cid, str(cid)): n for cid, n in sorted(self.inbound.items())}
        return {"channels": channels, "messages_in": inbound, "total_in": sum(inbound.values())}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name != "nt":  # as the server binds: a closed socket in TIME_WAIT is no obstacle
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_simulator(url: str) -> subprocess.Popen[bytes]:
    """``clinicdesk simulator serve --auto-pair --chatty`` on the default port; waits for it.

    Refuses when the port is taken (another demo or simulator runs): the demo's channels
    would otherwise talk to someone else's simulator.
    """
    port = url.rsplit(":", 1)[1]
    if not _port_free(int(port)):
        raise SystemExit(f"clinicdesk: error: {url} is in use (another demo or simulator?)")
    cmd = [sys.executable, "-m", "app", "simulator", "serve", "--port", port]
    args = [*cmd, "--auto-pair", "--chatty"]  # our own interpreter and module: no user input
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if _answers(f"{url}/control/health"):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"clinicdesk: error: the simulator did not start on {url}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


SETTLED = frozenset({"QR_REQUIRED", "CONNECTED", "ERROR", "SUSPENDED", "DISCONNECTED"})


def pair_all(root: Path, timeout: float = 30.0) -> None:
    """Pair every channel that waits for a person, through the engine API (background).

    Waits until the channels have settled (their workers answered), as the desk's pairing
    dialog would only be opened on a channel that shows "needs pairing".
    """
    time.sleep(0.5)  # on_ready runs just before the server accepts connections
    info = read_engine_info(DataDir(root))
    if info is None:
        return
    client = EngineClient(str(info["url"]), str(info["token"]))
    try:
        _pair_when_settled(client, time.monotonic() + timeout)
    except Exception:  # the demo goes on; the channel states show what happened
        return
    finally:
        client.close()


def _pair_when_settled(client: EngineClient, deadline: float) -> None:
    while time.monotonic() < deadline:
        channels = client.call("GET", "/channels")
        if all(c["state"] in SETTLED for c in channels):
            for channel in channels:
                if channel["state"] == "QR_REQUIRED":
                    client.call("POST", f"/channels/{channel['name']}/pair", json={})
            return
        time.sleep(0.2)


def run_demo(args: argparse.Namespace) -> int:
    """Create (or reuse) the demo installation, run the simulator and the engine on it."""
    root = Path(args.demo_data_dir) if args.demo_data_dir else _throwaway_dir()
    password = f"demo-{secrets.token_hex(6)}"
    simulator = start_simulator(DEFAULT_URL)
    try:
        if not args.headless:
            from app.cli.demo_desk import run_demo_desk

            return run_demo_desk(root, password, args)
        return _run(root, password, args.quit_after)
    finally:
        simulator.terminate()
        simulator.wait(10)


def _run(root: Path, password: str, quit_after: float | None) -> int:
    if not (root / "keystore.json").exists():
        asyncio.run(create_demo(root, password, DEFAULT_URL))
    else:
        password = "(as set when the demo folder was made)"  # noqa: S105 - a label
    configure_logging(root / "logs", console=False)
    tracker, names = DemoTracker(), dict[int, str]()

    def ready(core: Core, url: str) -> None:
        core.bus.subscribe(tracker.on_event, None)
        names.update({c.id: c.name for c in core.store.read_sync(lambda tx: tx.channels.list())})
        intro = {"data_dir": str(root), "engine_url": url, "users": "admin, ana1, bruno1, ana2…"}
        print(json.dumps(intro | {"password": password}, ensure_ascii=False), flush=True)
        threading.Thread(target=pair_all, args=(root,), daemon=True).start()

    code = run_engine(EngineOptions(root, port=0, stop_after=quit_after), on_ready=ready)
    if quit_after is not None:
        print(json.dumps(tracker.summary(names), ensure_ascii=False, indent=2))
    return code


def _throwaway_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="clinicdesk-demo-")) / "data"
