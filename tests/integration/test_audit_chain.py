"""The hash-chained audit log on a real store (S5): tampering done with SQL straight on the file's
tables is found by ``AuditService.verify``; a bare chain rewrite is found only with an anchor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from sqlalchemy import text

from app.domain.audit import Anchor, AuditProblem, AuditRow, seal
from app.domain.errors import AccessDeniedError, ErrorCode
from app.domain.roles import Actor, Role
from app.services.audit import AuditTarget
from app.store.repositories import SqlTx
from tests.integration.conftest import Installation

# init (1 user.add) + 2 branch.add by the fixture, then these actions:
EXTRA_BRANCHES = ("Norte", "Leste")
CONTACT_PHONES = ("(11) 98765-4321", "(11) 98765-4322", "(21) 3456-7890")
ENTRIES = 1 + 2 + len(EXTRA_BRANCHES) + len(CONTACT_PHONES)  # 8
K = 4  # the entry the tampering aims at

Tamper = Callable[[SqlTx], None]
AnchorPick = Callable[[list[AuditRow]], Anchor | None]


@pytest.fixture
async def chain(fresh: Installation) -> Installation:
    """A fresh installation with ``ENTRIES`` audit entries."""
    actor = fresh.super_admin
    for name in EXTRA_BRANCHES:
        await fresh.core.branches.add(actor, name)
    for phone in CONTACT_PHONES:
        await fresh.core.contacts.add(actor, fresh.branch_ids["Centro"], phone, None)
    return fresh


def rows_of(inst: Installation) -> list[AuditRow]:
    return inst.core.store.read_sync(lambda tx: list(tx.audit.iter_rows()))


def sql(statement: str) -> Tamper:
    def run(tx: SqlTx) -> None:
        tx.conn.execute(text(statement))

    return run


def swap(a: int, b: int) -> Tamper:
    """Exchange the seq numbers of entries ``a`` and ``b`` (reordering the log)."""

    def run(tx: SqlTx) -> None:
        for old, new in ((a, -1), (b, a), (-1, b)):
            tx.conn.execute(
                text("UPDATE audit_log SET seq = :new WHERE seq = :old"), {"new": new, "old": old}
            )

    return run


def edit_and_reseal_tail(tx: SqlTx) -> None:
    """Change entry K, then recompute prev_hash and hash of K and everything after it."""
    rows = list(tx.audit.iter_rows())
    forged = dataclasses.replace(rows[K - 1].entry, action="branch.renamed")
    prev = rows[K - 2].hash
    for entry in (forged, *(row.entry for row in rows[K:])):
        new = seal(entry, prev)
        tx.conn.execute(
            text("UPDATE audit_log SET action = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
            {"a": entry.action, "p": new.prev_hash, "h": new.hash, "s": entry.seq},
        )
        prev = new.hash


def no_anchor(_rows: list[AuditRow]) -> Anchor | None:
    return None


def head_anchor(rows: list[AuditRow]) -> Anchor | None:
    return Anchor(rows[-1].entry.seq, rows[-1].hash)


def mid_anchor(rows: list[AuditRow]) -> Anchor | None:
    return Anchor(rows[K + 1].entry.seq, rows[K + 1].hash)


async def test_untouched_chain_verifies(chain: Installation) -> None:
    result = await chain.core.audit.verify(chain.super_admin)
    assert (result.ok, result.checked, result.head_seq) == (True, ENTRIES, ENTRIES)


async def test_untouched_chain_matches_its_head_anchor(chain: Installation) -> None:
    result = await chain.core.audit.verify(chain.super_admin, head_anchor(rows_of(chain)))
    assert (result.ok, result.checked) == (True, ENTRIES)


async def test_verify_needs_the_audit_permission(chain: Installation) -> None:
    receptionist = Actor(99, "someone", roles={chain.branch_ids["Centro"]: Role.RECEPTIONIST})
    with pytest.raises(AccessDeniedError) as info:
        await chain.core.audit.verify(receptionist)
    assert info.value.code is ErrorCode.ACCESS_DENIED


@pytest.mark.parametrize(
    ("tamper", "pick_anchor", "first_bad", "problem"),
    [
        pytest.param(
            sql(f"UPDATE audit_log SET action = 'branch.removed' WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-action",
        ),
        pytest.param(
            sql(f"UPDATE audit_log SET actor_name = 'someone.else' WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-actor",
        ),
        pytest.param(
            sql(f"UPDATE audit_log SET object_id = '999' WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-object-id",
        ),
        pytest.param(
            sql(f"UPDATE audit_log SET branch_id = 2 WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-branch",
        ),
        pytest.param(
            sql(f"UPDATE audit_log SET at = at - 86400000 WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-time",
        ),
        pytest.param(
            sql(f"""UPDATE audit_log SET details = '{{"role":"admin"}}' WHERE seq = {K}"""),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-details",
        ),
        pytest.param(
            sql(f"UPDATE audit_log SET hash = '{'f' * 64}' WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MODIFIED,
            id="edit-hash",
        ),
        pytest.param(
            sql(f"DELETE FROM audit_log WHERE seq = {K}"),
            no_anchor,
            K,
            AuditProblem.MISSING,
            id="delete-one",
        ),
        pytest.param(
            sql("DELETE FROM audit_log WHERE seq = 1"),
            no_anchor,
            1,
            AuditProblem.MISSING,
            id="delete-first",
        ),
        pytest.param(
            swap(K, K + 2),
            no_anchor,
            K,
            AuditProblem.LINK_BROKEN,
            id="swap-two",
        ),
        pytest.param(
            swap(K, K + 1),
            no_anchor,
            K,
            AuditProblem.LINK_BROKEN,
            id="swap-adjacent",
        ),
        pytest.param(
            sql(f"DELETE FROM audit_log WHERE seq > {K}"),
            head_anchor,
            K + 1,
            AuditProblem.TRUNCATED,
            id="truncate-tail-anchored",
        ),
        pytest.param(
            sql(f"DELETE FROM audit_log WHERE seq >= {ENTRIES}"),
            head_anchor,
            ENTRIES,
            AuditProblem.TRUNCATED,
            id="truncate-last-anchored",
        ),
        pytest.param(
            edit_and_reseal_tail,
            head_anchor,
            ENTRIES,
            AuditProblem.ANCHOR_MISMATCH,
            id="reseal-head-anchored",
        ),
        pytest.param(
            edit_and_reseal_tail,
            mid_anchor,
            K + 2,
            AuditProblem.ANCHOR_MISMATCH,
            id="reseal-mid-anchored",
        ),
    ],
)
async def test_tampering_is_detected(
    chain: Installation,
    tamper: Tamper,
    pick_anchor: AnchorPick,
    first_bad: int,
    problem: AuditProblem,
) -> None:
    anchor = pick_anchor(rows_of(chain))
    chain.core.store.transaction_sync(tamper)
    result = await chain.core.audit.verify(chain.super_admin, anchor)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, first_bad, problem)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(sql(f"DELETE FROM audit_log WHERE seq > {K}"), id="truncate-tail"),
        pytest.param(edit_and_reseal_tail, id="reseal-tail"),
    ],
)
async def test_rewrite_without_anchor_is_not_detectable(
    chain: Installation, tamper: Tamper
) -> None:
    """Documents the limit the anchors exist for: a consistent rewrite looks like a valid chain."""
    chain.core.store.transaction_sync(tamper)
    result = await chain.core.audit.verify(chain.super_admin)
    assert result.ok


async def test_verify_reports_the_last_good_head(chain: Installation) -> None:
    before = rows_of(chain)
    chain.core.store.transaction_sync(sql(f"UPDATE audit_log SET action = 'x' WHERE seq = {K}"))
    result = await chain.core.audit.verify(chain.super_admin)
    assert (result.checked, result.head_seq, result.head_hash) == (
        K - 1,
        K - 1,
        before[K - 2].hash,
    )


# --- the audit row shares the action's transaction --------------------------------------------


class BoomError(Exception):
    """Raised by a unit of work after it has appended its audit entry."""


def failing_action(inst: Installation) -> Callable[[SqlTx], None]:
    """Adds a branch and its audit row, then fails: the same shape as a service's work."""
    auditor, actor = inst.core.auditor, inst.super_admin

    def work(tx: SqlTx) -> None:
        branch_id = tx.branches.add("Oeste", inst.core.clock.now())
        auditor.record(tx, actor, "branch.add", AuditTarget("branch", branch_id, branch_id))
        raise BoomError

    return work


async def test_failing_action_raises_to_the_caller(chain: Installation) -> None:
    work = failing_action(chain)
    with pytest.raises(BoomError):
        await chain.core.store.transaction(work)


async def test_failing_action_leaves_no_audit_row(chain: Installation) -> None:
    work = failing_action(chain)
    with pytest.raises(BoomError):
        await chain.core.store.transaction(work)
    head = await chain.core.audit.head()
    assert (head and head.entry.seq) == ENTRIES


async def test_failing_action_leaves_no_action_row(chain: Installation) -> None:
    work = failing_action(chain)
    with pytest.raises(BoomError):
        await chain.core.store.transaction(work)
    branch = await chain.core.store.read(lambda tx: tx.branches.get_by_name("Oeste"))
    assert branch is None


async def test_chain_continues_cleanly_after_a_rolled_back_action(chain: Installation) -> None:
    work = failing_action(chain)
    with pytest.raises(BoomError):
        await chain.core.store.transaction(work)
    await chain.core.branches.add(chain.super_admin, "Oeste")
    result = await chain.core.audit.verify(chain.super_admin)
    assert (result.ok, result.checked) == (True, ENTRIES + 1)


async def test_service_action_and_its_audit_row_commit_together(chain: Installation) -> None:
    branch = await chain.core.branches.add(chain.super_admin, "Oeste")
    head = await chain.core.audit.head()
    assert head is not None
    assert (head.entry.seq, head.entry.action, head.entry.object_id) == (
        ENTRIES + 1,
        "branch.add",
        str(branch.id),
    )
