"""LGPD erasure and backups (RELIABILITY_SECURITY L4): the erasure ledger beside the archives,
and a restore of an archive made before an erasure erases the patient again, down to the
decrypted pages of the restored database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.backup.ledger import Erased, ledger_path, read_ledger, write_ledger
from app.backup.restore import restore_archive
from app.bootstrap import open_core
from app.security.protectors import FileMachineProtector
from tests.helpers.messaging import patient
from tests.helpers.pages import decrypted_pages
from tests.integration.test_backup import Clinic, audit, make_clinic
from tests.integration.test_no_plaintext import CANARIES


@pytest.fixture
async def clinic(tmp_path: Path, key_dir: Path) -> Any:
    made = await make_clinic(tmp_path, messages=3)
    yield made
    made.core.close()


async def _contact_of(clinic: Clinic, n: int) -> int:
    [row] = await clinic.desk.rows("contact_identities", kind="jid", value=patient(n))
    return int(row.contact_id)


async def test_every_backup_leaves_the_ledger_beside_its_archive(clinic: Clinic) -> None:
    archive = await asyncio.to_thread(clinic.backup)
    assert read_ledger(archive.parent, clinic.backup_key()) == []  # nobody erased yet
    contact = await _contact_of(clinic, 0)
    await clinic.core.erasures.erase(clinic.core.local_actor(), contact)
    [entry] = read_ledger(archive.parent, clinic.backup_key()) or []  # rewritten at once
    assert entry.contact_id == contact
    raw = ledger_path(archive.parent, clinic.backup_key()).read_bytes()
    assert b"contact_id" not in raw  # sealed, not plain JSON


async def test_restoring_an_older_archive_erases_the_patient_again(
    clinic: Clinic, tmp_path: Path
) -> None:
    archive = await asyncio.to_thread(clinic.backup)  # made before the erasure
    erased, kept = await _contact_of(clinic, 0), await _contact_of(clinic, 1)
    await clinic.core.erasures.erase(clinic.core.local_actor(), erased)
    new_root, new_keys = tmp_path / "new-pc" / "data", tmp_path / "new-pc" / "keys"
    machine = FileMachineProtector(new_keys)
    report = await asyncio.to_thread(restore_archive, archive, new_root, clinic.rk, machine)
    assert (report.ledger, report.erasures_replayed) == ("read", 1)
    restored = open_core(new_root, machine=machine)
    try:
        rows = restored.store.read_sync(
            lambda tx: (tx.contacts.erased(erased), tx.contacts.erased(kept))
        )
        assert rows == (True, False)
        found = await restored.search.search(restored.local_actor(), CANARIES[1].name, 10)
        assert found.contacts  # the other patient is all there
        assert audit(restored).ok  # the replay is in the hash chain like any erasure
    finally:
        restored.close()
    plain = decrypted_pages(new_root, new_keys)
    assert CANARIES[1].name.encode() in plain
    for gone in (CANARIES[0].name, CANARIES[0].national, patient(0).split("@")[0]):
        assert gone.encode() not in plain, gone


async def test_a_damaged_ledger_does_not_stop_a_restore_and_is_reported(
    clinic: Clinic, tmp_path: Path
) -> None:
    archive = await asyncio.to_thread(clinic.backup)
    await clinic.core.erasures.erase(clinic.core.local_actor(), await _contact_of(clinic, 0))
    ledger = ledger_path(archive.parent, clinic.backup_key())
    ledger.write_bytes(ledger.read_bytes()[:-1] + b"\x00")
    machine = FileMachineProtector(tmp_path / "keys2")
    report = await asyncio.to_thread(
        restore_archive, archive, tmp_path / "data2", clinic.rk, machine
    )
    assert (report.ledger, report.erasures_replayed) == ("unreadable", 0)


async def test_a_ledger_entry_never_erases_somebody_created_after_it(
    clinic: Clinic, tmp_path: Path
) -> None:
    archive = await asyncio.to_thread(clinic.backup)
    kept = await _contact_of(clinic, 1)
    [row] = await clinic.desk.rows("contacts", id=kept)
    before = Erased(kept, row.branch_id, row.created_at - timedelta(days=1))
    other_branch = Erased(kept, row.branch_id + 1, row.created_at + timedelta(days=1))
    write_ledger(archive.parent, [before, other_branch], clinic.backup_key())
    machine = FileMachineProtector(tmp_path / "keys3")
    report = await asyncio.to_thread(
        restore_archive, archive, tmp_path / "data3", clinic.rk, machine
    )
    assert (report.ledger, report.erasures_replayed) == ("read", 0)


def test_two_installations_sharing_a_folder_keep_their_own_ledgers(tmp_path: Path) -> None:
    share = tmp_path / "nas"
    share.mkdir()
    centro, sul = bytes(range(32)), bytes(range(1, 33))  # two installations' backup keys
    write_ledger(share, [Erased(7, 1, datetime(2026, 12, 1, tzinfo=UTC))], centro)
    write_ledger(share, [], sul)
    assert [e.contact_id for e in read_ledger(share, centro) or []] == [7]
    assert read_ledger(share, sul) == []
    assert len(list(share.iterdir())) == 2
