"""The erasure ledger beside the archives: which patients were erased (LGPD), so that restoring
an archive made *before* an erasure erases them again before anyone opens the desk
(RELIABILITY_SECURITY §5.2 item 5, test L4).

Every backup writes ``lgpd-erasures-<backup key id>.sealed`` into each target folder (one per
installation: several may share a network folder), and an erasure
rewrites it at once in the folders that are reachable. It holds contact ids, branch ids and
times, never a name or a number, sealed with AES-256-GCM under the backup key (the one a
restore opens with the recovery key), written atomically. A restore reads the one next to its
archive and replays each entry whose patient the archive still holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.roles import Actor
from app.infra.atomic import atomic_write_bytes
from app.infra.clock import SystemClock
from app.security.keystore import key_id_for
from app.services.audit import Auditor, AuditTarget
from app.store.repositories import SqlTx
from app.store.schema import erasures
from app.store.store import Store

log = logging.getLogger(__name__)

# One file per backup key: several clinics' PCs may back up into one network share.
# Not "clinicdesk-*": that is an archive's name.
LEDGER_PREFIX = "lgpd-erasures-"
_AAD = b"clinicdesk erasure ledger v1"
_NONCE = 12
REPLAY_ACTOR = Actor(user_id=None, username="system.restore")


@dataclass(frozen=True, slots=True)
class Erased:
    """One ledger entry: a patient erased at ``at`` (ids only)."""

    contact_id: int
    branch_id: int
    at: datetime


def entries_of(tx: SqlTx) -> list[Erased]:
    """The store's ledger (``erasures``), oldest first."""
    e = erasures.c
    rows = tx.conn.execute(erasures.select().order_by(e.id))
    return [Erased(int(r.contact_id), int(r.branch_id), r.at) for r in rows]


def ledger_path(folder: Path, backup_key: bytes) -> Path:
    """Where the ledger of the installation with ``backup_key`` lies in ``folder``."""
    return folder / f"{LEDGER_PREFIX}{key_id_for(backup_key)}.sealed"


def write_ledger(folder: Path, entries: Iterable[Erased], backup_key: bytes) -> None:
    """Seal ``entries`` into ``folder`` (atomically: a reader sees the old or the new file)."""
    body = [{"contact_id": x.contact_id, "branch_id": x.branch_id, "at": x.at.isoformat()}
            for x in entries]  # fmt: skip
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(backup_key).encrypt(nonce, json.dumps(body).encode("utf-8"), _AAD)
    atomic_write_bytes(ledger_path(folder, backup_key), nonce + sealed)


def read_ledger(folder: Path, backup_key: bytes) -> list[Erased] | None:
    """The ledger in ``folder``; None when there is none. A ledger that does not open with
    ``backup_key`` (damaged, or from another installation) is BACKUP_ARCHIVE_INVALID."""
    path = ledger_path(folder, backup_key)
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        plain = AESGCM(backup_key).decrypt(raw[:_NONCE], raw[_NONCE:], _AAD)
        return [
            Erased(int(x["contact_id"]), int(x["branch_id"]), datetime.fromisoformat(x["at"]))
            for x in json.loads(plain)
        ]
    except (InvalidTag, ValueError, KeyError, TypeError):
        raise ClinicDeskError(ErrorCode.BACKUP_ARCHIVE_INVALID, reason="ledger") from None


def _still_held(tx: SqlTx, e: Erased) -> bool:
    """Whether the restored store holds the patient ``e`` names: the id exists, is not
    erased, and was created before the erasure (ids are the store's; a patient created
    after it, on a store that went on without it, is somebody else)."""
    contact = tx.messaging.get_contact(e.contact_id)
    if contact is None or contact.branch_id != e.branch_id or contact.created_at > e.at:
        return False
    return not tx.contacts.erased(e.contact_id)


def replay(store: Store, entries: Iterable[Erased], delete_blob: Callable[[str], bool]) -> int:
    """Erase again every patient of ``entries`` that the restored store still holds (one
    transaction, audited as ``contact.erase`` with ``replayed``), then their files; how many
    patients were erased."""
    auditor, blobs = Auditor(SystemClock()), list[str]()

    def work(tx: SqlTx) -> int:
        done = 0
        for e in entries:
            if not _still_held(tx, e):
                continue
            counts = tx.erasure.erase(e.contact_id, e.at)
            tx.erasure.record(e.branch_id, e.contact_id, e.at, None, counts.as_dict())
            target = AuditTarget("contact", e.contact_id, e.branch_id)
            auditor.record(tx, REPLAY_ACTOR, "contact.erase", target, replayed=True,
                           **counts.as_dict())  # fmt: skip
            blobs.extend(counts.blobs)
            done += 1
        return done

    replayed = store.transaction_sync(work)
    for sha in blobs:
        with contextlib.suppress(OSError):
            delete_blob(sha)
    return replayed
