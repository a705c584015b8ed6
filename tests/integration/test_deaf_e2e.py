"""A deaf channel end to end: real engine, real worker, real simulator, tiny thresholds.

Patients write and the clinic answers on two channels. Then the simulator's ``deaf`` fault hits
one of them: the link stays up, the clinic's replies go out and come back with receipts, but
patient messages are held. The engine must warn (``/events``, ``status --json``, the channel
view) for that channel only, give it a fresh session once (no storm), and after ``heal`` store
every held message exactly once and clear the warning.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.channels import Simulator
from tests.helpers.cli import init_installation
from tests.helpers.e2e import Engine, EventStream, cli, sim_account, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes: POSIX here")

BRANCH = "Centro"
# A silence of 2 s (or 1 × the usual gap) with 3 receipted sends is suspicious; the watch looks
# 5 times a second; a second deaf reconnect could follow after 1 s at the earliest.
DEAF_WATCH = {
    "floor_s": 2.0, "gap_factor": 1.0, "min_receipts": 3, "min_expected_replies": 1.0,
    "tick_s": 0.2, "reconnect_base_s": 1.0, "reconnect_cap_s": 2.0,
}  # fmt: skip
# The fastest pacing the bounds allow (effective from the channel's next send).
LIMITS = {
    "min_gap_s": 1.0, "max_gap_s": 1.0, "per_chat_gap_s": 1.0, "per_minute": 60,
    "typing_s_per_char": 0.005,
}  # fmt: skip


@dataclass
class Rig:
    engine: Engine
    data: Path
    sim: Simulator
    stream: EventStream
    ids: dict[str, int]  # channel name → id
    accounts: dict[str, str]  # channel name → simulator account


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    base = tmp_path_factory.mktemp("deaf")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLINICDESK_KEY_DIR", str(base / "keys"))
        mp.setenv("CLINICDESK_DEAF_WATCH", json.dumps(DEAF_WATCH))
        init_installation(base, base / "data")
        sim = Simulator("--auto-pair", "--receipt-delay", "0.05")
        engine: Engine | None = None
        try:
            engine = Engine(base / "data")
            channels = _link(engine, sim)
            stream = EventStream(engine, engine.token)
            ids = {name: int(c["id"]) for name, c in channels.items()}
            accounts = {name: sim_account(sim, c) for name, c in channels.items()}
            yield Rig(engine, base / "data", sim, stream, ids, accounts)
            stream.close()
        finally:
            if engine is not None:
                engine.stop_or_kill(timeout=5)
            sim.stop()


def _link(engine: Engine, sim: Simulator) -> dict[str, dict[str, Any]]:
    engine.call("POST", "/branches", json={"name": BRANCH})
    channels = {}
    for name in ("surdo", "ouvinte"):
        channels[name] = engine.linked_channel(BRANCH, name, sim)
        engine.call("PUT", f"/channels/{name}/limits", json={"send_limits": LIMITS})
    return channels


# ---- helpers -----------------------------------------------------------------------------------


def patient_writes(rig: Rig, name: str, patient: int) -> str:
    body = {"channel": rig.accounts[name], "text": "Bom dia", "patient": patient}
    response = rig.sim.post("/control/inbound", **body)
    response.raise_for_status()
    return str(response.json()["wa_id"])


def stored(rig: Rig, name: str, wa_id: str) -> dict[str, Any]:
    """The InboundReceived event of ``wa_id`` (it is published once the message is stored)."""
    [event] = rig.stream.wait("InboundReceived", rig.ids[name], wa_id=wa_id)
    return event


def clinic_answers(rig: Rig, ticket_id: int, key: str) -> None:
    body = {"text": "Olá, como podemos ajudar?", "client_key": key}
    rig.engine.call("POST", f"/tickets/{ticket_id}/messages", json=body)


def read_receipts(rig: Rig, name: str) -> int:
    acks = rig.stream.of("MessageAckChanged", rig.ids[name])
    return sum(1 for e in acks if e["ack"] == "read")


def converse(rig: Rig, name: str, patient: int, rounds: int) -> int:
    """A patient writes, the clinic answers and its answer is read, ``rounds`` times."""
    ticket_id = 0
    for _ in range(rounds):
        ticket_id = stored(rig, name, patient_writes(rig, name, patient))["ticket_id"]
        answer_is_read(rig, name, ticket_id)
    return int(ticket_id)


def answer_is_read(rig: Rig, name: str, ticket_id: int) -> None:
    before = read_receipts(rig, name)
    clinic_answers(rig, ticket_id, f"{name}-{uuid.uuid4().hex}")
    wait_until(lambda: read_receipts(rig, name) > before, f"{name} answer read")


def status(rig: Rig) -> dict[str, Any]:
    result = cli("status", "--data-dir", rig.data, "--json")
    assert result.code == 0, result.err
    channels: dict[str, Any] = json.loads(result.out)["channels"]
    return channels


def deaf_reconnects(rig: Rig, name: str) -> int:
    return rig.engine.history(name).count(("CONNECTING", "deaf_suspected"))


# ---- the test ----------------------------------------------------------------------------------


def test_a_deaf_channel_is_flagged_refreshed_and_reconciled(rig: Rig) -> None:
    surdo, ouvinte = rig.ids["surdo"], rig.ids["ouvinte"]
    # normal: patients write, the clinic answers, nothing is suspicious
    ticket = converse(rig, "surdo", patient=1, rounds=2)
    converse(rig, "ouvinte", patient=2, rounds=1)
    assert not rig.stream.of("ChannelDeafSuspected")
    connects = rig.sim.count(rig.accounts["surdo"], "connects")

    # deaf: the link stays up, receipts keep coming, patient messages are held
    rig.sim.fault("deaf", rig.accounts["surdo"])
    held = [patient_writes(rig, "surdo", patient=3 + n) for n in range(2)]
    for n in range(3):
        clinic_answers(rig, ticket, f"deaf-{n}")
    converse(rig, "ouvinte", patient=2, rounds=3)  # the other channel goes on as usual
    [warning] = rig.stream.wait("ChannelDeafSuspected", surdo)
    assert warning["receipts"] >= 3 and warning["silence_s"] > DEAF_WATCH["floor_s"]
    assert set(warning) == {
        "type", "branch_id", "channel_id", "since", "receipts", "silence_s", "threshold_s"
    }  # fmt: skip
    shown = status(rig)
    assert shown[str(surdo)]["warning"] == "deaf_suspected"
    assert shown[str(surdo)]["warning_since"] == warning["since"]
    assert shown[str(ouvinte)]["warning"] is None
    assert rig.engine.channel("surdo")["warning"] == "deaf_suspected"
    text = cli("status", "--data-dir", rig.data).out
    assert "Warning: channel surdo" in text and "channel ouvinte" not in text

    # the engine gave it a fresh session, once: no new evidence, no second reconnect
    wait_until(lambda: deaf_reconnects(rig, "surdo") == 1, "a deaf reconnect")
    rig.engine.wait_state("surdo", "CONNECTED", "connected")
    assert rig.sim.count(rig.accounts["surdo"], "connects") == connects + 1
    assert rig.sim.account(rig.accounts["surdo"])["pending"] == len(held)  # still held

    # heal: what was held arrives, exactly once, and the warning clears
    rig.sim.fault("heal", rig.accounts["surdo"])
    for wa_id in held:
        stored(rig, "surdo", wa_id)
    [cleared] = rig.stream.wait("ChannelDeafCleared", surdo)
    assert cleared["since"] == warning["since"]
    wait_until(lambda: rig.sim.account(rig.accounts["surdo"])["pending"] == 0, "all acked")
    shown = status(rig)
    assert shown[str(surdo)]["warning"] is None
    assert shown[str(surdo)]["in"] == 2 + len(held)  # each message stored once
    assert rig.engine.channel("surdo")["warning"] is None
    assert deaf_reconnects(rig, "surdo") == 1
    assert deaf_reconnects(rig, "ouvinte") == 0
    assert not rig.stream.of("ChannelDeafSuspected", ouvinte)
