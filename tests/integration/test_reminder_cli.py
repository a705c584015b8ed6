"""``clinicdesk reminder list|cancel`` in subprocesses, on the store and through a running
engine: what is scheduled, who answered, stopping one reminder or a whole campaign. Bad input
is one line and a non-zero exit, and changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.bootstrap import open_core
from app.services.ports import NewChannel
from app.services.reminders import ReminderRequest
from app.store.types import utcnow
from tests.helpers.cli import EngineProcess, init_installation, run_cli, tree_digest


async def _seed(data_dir: Path) -> dict[str, object]:
    """Branch Centro, a channel, three patients: one reminder that asks, a two-patient
    campaign."""
    core = open_core(data_dir)
    try:
        actor = core.local_actor()
        branch = await core.branches.add(actor, "Centro")
        new = NewChannel(branch.id, "recepcao", "Recepção", "simulator")
        channel = int(await core.store.transaction(lambda tx: tx.channels.add(new, utcnow())))
        people = [
            (await core.contacts.add(actor, branch.id, f"+551198765000{n}", name)).id
            for n, name in enumerate(("Maria Silva", "João Souza", "Ana Lima"))
        ]
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        [asks] = await core.reminders.create(
            actor,
            ReminderRequest(channel, (people[0],), "Consulta amanhã", tomorrow,
                            ask_confirmation=True),
        )  # fmt: skip
        campaign = await core.reminders.create(
            actor, ReminderRequest(channel, tuple(people[1:]), "Vacina da gripe", tomorrow)
        )
        return {"asks": asks.id, "campaign": campaign[0].campaign}
    finally:
        core.close()


@pytest.fixture
def clinic(tmp_path: Path, key_dir: Path) -> tuple[Path, dict[str, object]]:
    data_dir = tmp_path / "data"
    init_installation(tmp_path, data_dir)
    return data_dir, asyncio.run(_seed(data_dir))


def _list(data_dir: Path, *extra: str) -> list[dict[str, object]]:
    shown = run_cli("reminder", "list", "--data-dir", data_dir, "--json", *extra)
    assert shown.code == 0, shown.err
    return list(json.loads(shown.out))


def test_listing_and_cancelling_on_the_store(clinic: tuple[Path, dict[str, object]]) -> None:
    data_dir, made = clinic
    table = run_cli("reminder", "list", "--data-dir", data_dir, "--branch", "centro")
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "PATIENT", "WHEN", "STATUS", "ANSWER", "CAMPAIGN"]
    assert len(rows) == 3 and any("Maria Silva" in r for r in rows)
    assert "Consulta" not in table.out  # the text is patient data: only in --json
    assert [r["id"] for r in _list(data_dir, "--answer", "waiting")] == []  # not sent yet
    one = run_cli("reminder", "cancel", "--data-dir", data_dir, "--id", str(made["asks"]))
    assert (one.code, one.out.strip()) == (0, f"Reminder {made['asks']}: cancelled"), one.err
    campaign = str(made["campaign"])
    many = run_cli("reminder", "cancel", "--data-dir", data_dir, "--campaign", campaign)
    assert many.out.strip() == f"Campaign {campaign}: 2 reminder(s) cancelled", many.err
    assert {r["status"] for r in _list(data_dir)} == {"cancelled"}
    assert _list(data_dir, "--status", "scheduled") == []


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["cancel", "--id", "999"], 1, "reminder"),
        (["list", "--branch", "Norte"], 1, "branch"),
        (["list", "--limit", "0"], 1, "limit"),
        (["list", "--answer", "maybe"], 2, "invalid choice"),
        (["cancel"], 2, "one of the arguments --id --campaign is required"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    clinic: tuple[Path, dict[str, object]], args: list[str], code: int, says: str
) -> None:
    data_dir, _ = clinic
    before = tree_digest(data_dir)
    refused = run_cli("reminder", *args, "--data-dir", data_dir)
    lines = refused.err.strip().splitlines()
    assert refused.code == code and says in lines[-1].lower(), refused.err
    assert code == 2 or len(lines) == 1  # argparse shows the usage above its one line
    assert tree_digest(data_dir) == before


def test_the_same_through_a_running_engine(clinic: tuple[Path, dict[str, object]]) -> None:
    data_dir, made = clinic
    engine = EngineProcess(data_dir)
    try:
        engine.wait_ready()
        rows = _list(data_dir, "--branch", "Centro")
        assert {r["contact_name"] for r in rows} == {"Maria Silva", "João Souza", "Ana Lima"}
        asks = next(r for r in rows if r["id"] == made["asks"])
        assert asks["ask_confirmation"] is True
        gone = run_cli("reminder", "cancel", "--data-dir", data_dir, "--id", str(made["asks"]))
        assert gone.code == 0 and "cancelled" in gone.out, gone.err
        missing = run_cli("reminder", "cancel", "--data-dir", data_dir, "--id", "999")
        assert missing.code == 1 and "reminder" in missing.err.lower()
    finally:
        assert engine.stop() == 0
