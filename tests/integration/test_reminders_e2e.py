"""Reminders end to end: the real engine (API, scheduler, sender, supervisor, worker process)
and a real simulator. A campaign due now reaches the patient exactly once and shows in their
ticket history; the patient who wrote "Sair" gets the confirmation and nothing else; an engine
restart sends nothing again. Every wait polls with a deadline.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.simulator.patients import patient_jid
from tests.helpers.channels import Simulator
from tests.helpers.cli import init_installation
from tests.helpers.e2e import Engine, holds, sim_account, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes: POSIX here")

BRANCH = "Centro"
REMINDER = "Lembrete: {primeiro_nome}, sua consulta é amanhã às 9h."
FAST_LIMITS = {
    "min_gap_s": 1.0, "max_gap_s": 1.0, "per_chat_gap_s": 1.0, "per_minute": 60,
    "typing_s_per_char": 0.005,
}  # fmt: skip


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator("--auto-pair", "--receipt-delay", "0.05")
    yield simulator
    simulator.stop()


def _sent_to(sim: Simulator, account: str, index: int) -> list[str]:
    messages = sim.http.get(f"/control/outbox/{account}").json()["messages"]
    return [str(m.get("text")) for m in messages if m["to"] == patient_jid(index)]


def _reminders_to(sim: Simulator, account: str, index: int) -> list[str]:
    return [t for t in _sent_to(sim, account, index) if t.startswith("Lembrete")]


def _tickets_by_first_text(engine: Engine) -> dict[str, dict[str, Any]]:
    """The channel's tickets, keyed by the patient's first message."""
    found = {}
    for ticket in engine.call("GET", "/tickets")["items"]:
        items = engine.call("GET", f"/tickets/{ticket['id']}/messages")["items"]
        first = [m["body"] for m in items if m["direction"] == "in"][-1]  # newest first
        found[first] = ticket
    return found


def test_a_campaign_reaches_the_patient_once_and_never_the_opted_out_one(
    tmp_path: Path, data_dir: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINICDESK_REMINDER_PACING", '{"min_gap_s": 0.1, "max_gap_s": 0.2}')
    init_installation(tmp_path, data_dir)
    engine = Engine(data_dir)
    try:
        engine.call("POST", "/branches", json={"name": BRANCH})
        channel = engine.linked_channel(BRANCH, "lembretes", sim)
        account = sim_account(sim, channel)
        engine.call("PUT", "/channels/lembretes/limits", json={"send_limits": FAST_LIMITS})
        sim.post("/control/inbound", channel=account, text="Oi, tudo bem?", patient=1)
        sim.post("/control/inbound", channel=account, text="Sair", patient=2)
        tickets = wait_until(lambda: _two_tickets(engine), "2 tickets")
        wait_until(lambda: any("VOLTAR" in t for t in _sent_to(sim, account, 2)), "opt-out reply")
        contacts = [tickets["Oi, tudo bem?"]["contact_id"], tickets["Sair"]["contact_id"]]
        body = {
            "channel_id": channel["id"], "contact_ids": contacts, "text": REMINDER,
            "start_at": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        made = engine.call("POST", "/reminders", json=body)["items"]
        assert len({r["campaign"] for r in made}) == 1
        wait_until(lambda: _reminders_to(sim, account, 1), "the reminder at the simulator")
        skipped = made[1]["id"]
        wait_until(
            lambda: engine.call("GET", f"/reminders/{skipped}")["status"] == "skipped_opt_out",
            "the opted-out reminder skipped",
        )
        ticket = tickets["Oi, tudo bem?"]["id"]
        history = engine.call("GET", f"/tickets/{ticket}/messages")["items"]
        texts = [m["body"] for m in history if m["direction"] == "out"]
        assert [t for t in texts if t.startswith("Lembrete")] == [
            "Lembrete: " + _first_name(_reminders_to(sim, account, 1)[0]) + ", sua consulta é "
            "amanhã às 9h."
        ]
        assert engine.call("GET", f"/reminders/{made[0]['id']}")["status"] == "done"
        assert "{" not in _reminders_to(sim, account, 1)[0]  # placeholders filled
        assert engine.stop() == 0
        engine = Engine(data_dir)  # a restart plans nothing again: both are finished
        engine.wait_state("lembretes", "CONNECTED")
        holds(lambda: len(_reminders_to(sim, account, 1)) == 1, "exactly one reminder", seconds=2.0)
        assert _reminders_to(sim, account, 2) == []
        assert sim.count(account, "duplicate_sends") == 0
    finally:
        engine.stop_or_kill()


def _two_tickets(engine: Engine) -> dict[str, dict[str, Any]] | None:
    found = _tickets_by_first_text(engine)
    return found if len(found) == 2 else None


def _first_name(text: str) -> str:
    """The name the engine filled into the reminder (the simulator's patient push name)."""
    return text.removeprefix("Lembrete: ").split(",", 1)[0]


@dataclass
class Asked:
    """A patient who wrote once and then got a reminder that asks for confirmation."""

    engine: Engine
    account: str
    ticket: dict[str, Any]
    reminder: dict[str, Any]


@contextlib.contextmanager
def asked_patient(tmp_path: Path, data_dir: Path, sim: Simulator, patient: int) -> Iterator[Asked]:
    """A fresh engine whose channel has sent ``patient`` a confirming reminder due now."""
    init_installation(tmp_path, data_dir)
    engine = Engine(data_dir)
    try:
        engine.call("POST", "/branches", json={"name": BRANCH})
        channel = engine.linked_channel(BRANCH, "confirma", sim)
        account = sim_account(sim, channel)
        engine.call("PUT", "/channels/confirma/limits", json={"send_limits": FAST_LIMITS})
        sim.post("/control/inbound", channel=account, text="Oi", patient=patient)
        [ticket] = wait_until(lambda: engine.call("GET", "/tickets")["items"] or None, "ticket")
        body = {
            "channel_id": channel["id"], "contact_ids": [ticket["contact_id"]],
            "text": REMINDER, "start_at": datetime.now(UTC).isoformat(),
            "ask_confirmation": True,
        }  # fmt: skip
        [made] = engine.call("POST", "/reminders", json=body)["items"]
        yield Asked(engine, account, ticket, made)
    finally:
        engine.stop_or_kill()


def test_a_patients_1_confirms_the_appointment_end_to_end(
    tmp_path: Path, data_dir: Path, sim: Simulator
) -> None:
    with asked_patient(tmp_path, data_dir, sim, 3) as a:
        [sent] = wait_until(lambda: _reminders_to(sim, a.account, 3), "the reminder")
        assert sent.endswith("\n\nResponda 1 para confirmar ou 2 para remarcar.")
        sim.post("/control/inbound", channel=a.account, text="1", patient=3)
        answered = wait_until(
            lambda: _answered(a.engine, a.reminder["id"]), "the answer recorded by the engine"
        )
        assert answered["answer"] == "confirmed"
        assert answered["asked_ticket_id"] == a.ticket["id"]
        wait_until(
            lambda: "Obrigado! Sua presença está confirmada." in _sent_to(sim, a.account, 3),
            "the acknowledgement at the patient",
        )
        listed = a.engine.call("GET", "/reminders", params={"answer": "confirmed"})["items"]
        assert [r["id"] for r in listed] == [a.reminder["id"]]
        assert sim.count(a.account, "duplicate_sends") == 0


def _answered(engine: Engine, reminder_id: int) -> dict[str, Any] | None:
    found: dict[str, Any] = engine.call("GET", f"/reminders/{reminder_id}")
    return found if found["answer"] else None


def test_a_thumbs_up_on_the_reminder_confirms_it_end_to_end(
    tmp_path: Path, data_dir: Path, sim: Simulator
) -> None:
    with asked_patient(tmp_path, data_dir, sim, 4) as a:
        [question] = wait_until(lambda: _reminder_sends(sim, a.account, 4), "the reminder")
        wait_until(  # WhatsApp's id for it is recorded with the send's result
            lambda: _reminder_sent(a.engine, a.ticket["id"]), "the reminder's send recorded"
        )
        sim.post(
            "/control/inbound", channel=a.account, patient=4, kind="reaction", text="👍",
            reacted_to=question["wa_id"],
        )  # fmt: skip
        answered = wait_until(
            lambda: _answered(a.engine, a.reminder["id"]), "the 👍 taken as an answer"
        )
        assert answered["answer"] == "confirmed"
        history = a.engine.call("GET", f"/tickets/{a.ticket['id']}/messages")["items"]
        assert [m["body"] for m in history if m["kind"] == "reaction"] == ["👍"]


def _reminder_sends(sim: Simulator, account: str, index: int) -> list[dict[str, Any]]:
    messages = sim.http.get(f"/control/outbox/{account}").json()["messages"]
    return [
        m for m in messages
        if m["to"] == patient_jid(index) and str(m.get("text")).startswith("Lembrete")
    ]  # fmt: skip


def _reminder_sent(engine: Engine, ticket_id: int) -> bool:
    items = engine.call("GET", f"/tickets/{ticket_id}/messages")["items"]
    sent = [m for m in items if str(m["body"]).startswith("Lembrete")]
    return bool(sent) and sent[0]["outbox_status"] == "sent"
