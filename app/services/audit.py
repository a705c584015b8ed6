"""Recording audit entries inside the caller's transaction, and verifying the chain."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.audit import Anchor, AuditRow, VerifyResult, verify_chain
from app.domain.roles import Actor, Permission
from app.services.ports import Clock, NewAuditEntry, Store, Tx


@dataclass(frozen=True, slots=True)
class AuditTarget:
    """The object an action touched (ids only: never names, phone numbers or text)."""

    object_type: str | None = None
    object_id: str | int | None = None
    branch_id: int | None = None


class Auditor:
    """Appends audit rows in the same transaction as the action they record."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def record(
        self, tx: Tx, actor: Actor, action: str, target: AuditTarget, **details: object
    ) -> AuditRow:
        """Append ``action`` by ``actor`` on ``target`` to the chain, inside ``tx``."""
        entry = NewAuditEntry(
            at=self._clock.now(),
            actor_user_id=actor.user_id,
            actor_name=actor.username,
            workstation=actor.workstation,
            action=action,
            object_type=target.object_type,
            object_id=None if target.object_id is None else str(target.object_id),
            branch_id=target.branch_id,
            details=dict(details),
        )
        return tx.audit.append(entry)


class AuditService:
    """Reading and checking the audit chain."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def verify(self, actor: Actor, anchor: Anchor | None = None) -> VerifyResult:
        """Check the whole chain (and ``anchor`` if given); needs the audit permission."""
        actor.require(Permission.VIEW_AUDIT)
        return await self._store.read(lambda tx: verify_chain(tx.audit.iter_rows(), anchor))

    async def head(self) -> AuditRow | None:
        """The newest entry, whose hash anchors everything before it."""
        return await self._store.read(lambda tx: tx.audit.head())
