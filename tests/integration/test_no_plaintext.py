"""K3/S7: no patient name or phone number in any byte of the data directory, open or closed.
K2: a copied data directory does not open on another machine and is not a readable SQLite file.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.bootstrap import open_core
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.logging import LOG_FILE_NAME, REDACTED, configure_logging
from app.store.db import PLAINTEXT_HEADER
from tests.integration.conftest import Installation

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be")
log = logging.getLogger("clinicdesk.canary-test")


@dataclass(frozen=True)
class Canary:
    """A patient made up for the scan; each form below must never appear in clear."""

    number: int

    @property
    def name(self) -> str:
        return f"Zyxwvut Canary {self.number}"

    @property
    def typed(self) -> str:
        return f"+55 11 98888-{self.number}"

    @property
    def e164(self) -> str:
        return f"+551198888{self.number}"

    @property
    def national(self) -> str:
        return f"1198888{self.number}"

    def needles(self) -> list[str]:
        return [self.name, self.typed, self.e164, self.national]


CANARIES = [Canary(4800 + i) for i in range(40)]
LOGGED = CANARIES[:5]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name) with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def hits_in(folders: list[Path], canaries: list[Canary]) -> list[str]:
    """``file: needle (encoding)`` for every canary form found in any file under ``folders``."""
    patterns = [
        (needle, encoding, needle.encode(encoding))
        for canary in canaries
        for needle in canary.needles()
        for encoding in ENCODINGS
    ]
    files = {name: data for folder in folders for name, data in snapshot(folder).items()}
    return [
        f"{name}: {needle} ({encoding})"
        for name, data in files.items()
        for needle, encoding, raw in patterns
        if raw in data
    ]


@pytest.fixture
def log_to_data_dir(fresh: Installation) -> Iterator[Path]:
    """Send logging to ``<data dir>/logs`` for this test; restore the root logger afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging(fresh.root / "logs", console=False)
    yield fresh.root / "logs" / LOG_FILE_NAME
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved_level)


def log_canary_lines(canaries: list[Canary]) -> None:
    """Log lines that carry phone numbers the way careless code would."""
    for canary in canaries:
        log.info("inbound message from %s", canary.typed)
        log.warning("send to %s failed, retrying", canary.e164)
        log.info("lookup " + canary.national)
        log.info("contact %s saved", canary.name, extra={"sensitive": canary.name})
        try:
            raise ValueError(f"no chat for {canary.e164}@s.whatsapp.net")
        except ValueError:
            log.exception("delivery error")
    for handler in logging.getLogger().handlers:
        handler.flush()


@pytest.fixture
async def canary_install(fresh: Installation, log_to_data_dir: Path) -> Installation:
    """A fresh installation holding the canary contacts, with canary-laden log lines written."""
    actor = fresh.super_admin
    for canary in CANARIES:
        await fresh.core.contacts.add(actor, fresh.branch_ids["Centro"], canary.typed, canary.name)
    log_canary_lines(LOGGED)
    return fresh


def scanned(inst: Installation) -> list[Path]:
    return [inst.root, inst.key_dir]


# --- controls: the canaries are really there, and the scanner really finds them ---------------


async def test_store_holds_the_canary_contacts(canary_install: Installation) -> None:
    centro = canary_install.branch_ids["Centro"]
    found = await canary_install.core.store.read(
        lambda tx: [tx.contacts.find_by_phone(centro, c.e164) for c in CANARIES]
    )
    assert [c and c.display_name for c in found] == [c.name for c in CANARIES]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_scanner_finds_a_planted_canary(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "leak.bin").write_bytes(b"\x00junk" + CANARIES[7].e164.encode(encoding) + b"\xff")
    assert f"leak.bin: {CANARIES[7].e164} ({encoding})" in hits_in([tmp_path], CANARIES)


def test_log_file_was_written_and_redacted(
    canary_install: Installation, log_to_data_dir: Path
) -> None:
    lines = log_to_data_dir.read_text(encoding="utf-8").splitlines()
    assert (len(lines), all(REDACTED in line for line in lines)) == (5 * len(LOGGED), True)


def test_wal_is_present_while_open(canary_install: Installation) -> None:
    wal = canary_install.root / "clinicdesk.db-wal"
    assert wal.stat().st_size > 0


# --- K3 / S7 ----------------------------------------------------------------------------------


def test_no_canary_in_any_file_while_open(canary_install: Installation) -> None:
    assert hits_in(scanned(canary_install), CANARIES) == []


def test_no_canary_in_any_file_after_close(canary_install: Installation) -> None:
    canary_install.core.close()
    assert hits_in(scanned(canary_install), CANARIES) == []


def test_files_scanned_after_close(canary_install: Installation) -> None:
    canary_install.core.close()
    names = set(snapshot(canary_install.root))
    assert {"clinicdesk.db", "keystore.json", "keystore.bak", f"logs/{LOG_FILE_NAME}"} <= names


# --- K2 ---------------------------------------------------------------------------------------


@pytest.fixture
def copied_elsewhere(
    canary_install: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The closed data directory copied to "another PC" whose machine-key folder is empty."""
    canary_install.core.close()
    copy = tmp_path / "other-pc" / "data"
    shutil.copytree(canary_install.root, copy)
    empty_keys = tmp_path / "other-pc" / "machine-keys"
    empty_keys.mkdir(mode=0o700)
    monkeypatch.setenv("CLINICDESK_KEY_DIR", str(empty_keys))
    return copy


def test_copy_does_not_open_without_the_machine_key(copied_elsewhere: Path) -> None:
    with pytest.raises(ClinicDeskError) as info:
        open_core(copied_elsewhere)
    assert info.value.code is ErrorCode.MACHINE_KEY_MISSING


def test_failed_open_of_copy_changes_no_file(copied_elsewhere: Path) -> None:
    before = snapshot(copied_elsewhere)
    with pytest.raises(ClinicDeskError):
        open_core(copied_elsewhere)
    assert snapshot(copied_elsewhere) == before


def test_copy_is_not_readable_by_plain_sqlite(copied_elsewhere: Path) -> None:
    conn = sqlite3.connect(copied_elsewhere / "clinicdesk.db")
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("select * from sqlite_master").fetchall()
    conn.close()


def test_copy_has_no_sqlite_header(copied_elsewhere: Path) -> None:
    header = (copied_elsewhere / "clinicdesk.db").read_bytes()[: len(PLAINTEXT_HEADER)]
    assert header != PLAINTEXT_HEADER
