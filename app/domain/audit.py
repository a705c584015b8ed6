"""The hash-chained audit log: entry canonical form, chaining and verification (pure).

``hash_i = SHA-256(hash_{i-1} | canonical_json(entry_i))`` with ``hash_0`` = 64 zeros. Editing a
field breaks that entry's hash; deleting an entry leaves a gap in ``seq``; moving entries breaks
the ``prev_hash`` link. Recomputing the whole tail is caught only against an anchor kept
elsewhere (the head in backups and central reports), which :func:`verify_chain` accepts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened, by whom, to which object. ``details`` holds ids and codes only."""

    seq: int
    at: datetime
    actor_user_id: int | None
    actor_name: str
    workstation: str
    action: str
    object_type: str | None = None
    object_id: str | None = None
    branch_id: int | None = None
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An entry as stored, with its link to the previous entry and its own hash."""

    entry: AuditEntry
    prev_hash: str
    hash: str


def canonical_json(entry: AuditEntry) -> bytes:
    """The exact bytes that are hashed for ``entry`` (sorted keys, no spaces, UTF-8)."""
    doc = {
        "seq": entry.seq,
        "at_ms": round(entry.at.timestamp() * 1000),
        "actor_user_id": entry.actor_user_id,
        "actor_name": entry.actor_name,
        "workstation": entry.workstation,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "branch_id": entry.branch_id,
        "details": dict(entry.details),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The hash of ``entry`` linked to ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"|" + canonical_json(entry)).hexdigest()


def seal(entry: AuditEntry, prev_hash: str) -> AuditRow:
    """Link ``entry`` after ``prev_hash``."""
    return AuditRow(entry=entry, prev_hash=prev_hash, hash=chain_hash(prev_hash, entry))


class AuditProblem(StrEnum):
    """Why verification stopped at an entry."""

    MODIFIED = "modified"  # the entry's content no longer matches its hash
    MISSING = "missing"  # a sequence number is absent (entry deleted)
    LINK_BROKEN = "link_broken"  # prev_hash does not point at the entry before (moved/reordered)
    ANCHOR_MISMATCH = (
        "anchor_mismatch"  # the chain disagrees with an external anchor (tail rewritten)
    )
    TRUNCATED = "truncated"  # the chain ends before the anchored sequence number


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a chain check. ``first_bad_seq`` names the first entry found wrong."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: AuditProblem | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A (seq, hash) pair of the chain recorded somewhere the database cannot rewrite."""

    seq: int
    hash: str


def _check_row(row: AuditRow, expected_seq: int, prev_hash: str) -> AuditProblem | None:
    """The first problem with ``row`` as the next link after ``prev_hash``, if any."""
    if row.entry.seq > expected_seq:
        return AuditProblem.MISSING
    if row.entry.seq < expected_seq or row.prev_hash != prev_hash:
        return AuditProblem.LINK_BROKEN
    if chain_hash(row.prev_hash, row.entry) != row.hash:
        return AuditProblem.MODIFIED
    return None


def verify_chain(rows: Iterable[AuditRow], anchor: Anchor | None = None) -> VerifyResult:
    """Walk ``rows`` in ``seq`` order and report the first broken entry.

    With ``anchor``, also require the entry at ``anchor.seq`` to carry ``anchor.hash``.
    """
    prev_hash, expected, checked = GENESIS_HASH, 1, 0
    for row in rows:
        problem = _check_row(row, expected, prev_hash)
        if problem is None and anchor and row.entry.seq == anchor.seq and row.hash != anchor.hash:
            problem = AuditProblem.ANCHOR_MISMATCH
        if problem is not None:
            bad = expected if problem is AuditProblem.MISSING else row.entry.seq
            return VerifyResult(False, checked, expected - 1, prev_hash, bad, problem)
        prev_hash, expected, checked = row.hash, expected + 1, checked + 1
    if anchor and anchor.seq >= expected:
        return VerifyResult(
            False, checked, expected - 1, prev_hash, expected, AuditProblem.TRUNCATED
        )
    return VerifyResult(True, checked, expected - 1, prev_hash)
