"""Queues (setores) of a branch and who works in them: routing and visibility depend on both.

Admins (MANAGE_SETTINGS) create queues and set members; anyone who handles tickets in the
branch may list its queues (the desk shows them as transfer targets).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Permission
from app.services.audit import Auditor, AuditTarget
from app.services.branches import clean_name
from app.services.ports import Clock, Store, Tx
from app.services.ports_messaging import QueueRecord

COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
GREETING_MAX = 4000


@dataclass(frozen=True, slots=True)
class QueueChange:
    """Fields to change (None: unchanged; an empty greeting clears it)."""

    name: str | None = None
    greeting: str | None = None
    menu_order: int | None = None
    color: str | None = None


class QueueService:
    """Queue and membership use cases."""

    def __init__(self, store: Store, clock: Clock, auditor: Auditor) -> None:
        self._store, self._clock, self._auditor = store, clock, auditor

    async def create(
        self,
        actor: Actor,
        branch_id: int,
        name: str,
        *,
        greeting: str | None = None,
        menu_order: int = 0,
        color: str | None = None,
    ) -> QueueRecord:
        """Add a queue; ``menu_order`` places it in the numbered menu (1 = lowest order)."""
        actor.require(Permission.MANAGE_SETTINGS, branch_id)
        clean = clean_name(name, "name", 80)
        _check(greeting, color)

        def work(tx: Tx) -> QueueRecord:
            if tx.branches.get(branch_id) is None:
                raise NotFoundError(ErrorCode.NOT_FOUND, entity="branch")
            if any(q.name.lower() == clean.lower() for q in tx.messaging.queues(branch_id)):
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="queue")
            queue_id = tx.messaging.add_queue(branch_id, clean, greeting, menu_order, color)
            self._auditor.record(tx, actor, "queue.add", AuditTarget("queue", queue_id, branch_id))
            return _must(tx.messaging.get_queue(queue_id))

        return await self._store.transaction(work)

    async def change(self, actor: Actor, queue_id: int, change: QueueChange) -> QueueRecord:
        """Rename a queue, or change its greeting, menu position or colour (admins of its
        branch); ``already_exists`` if another queue of the branch has the new name."""
        values = _values(change)

        def work(tx: Tx) -> QueueRecord:
            queue = self._managed(tx, actor, queue_id)
            name = values.get("name")
            if isinstance(name, str) and any(
                q.name.lower() == name.lower() and q.id != queue_id
                for q in tx.messaging.queues(queue.branch_id)
            ):
                raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity="queue")
            if values:
                tx.messaging.update_queue(queue_id, **values)
            target = AuditTarget("queue", queue_id, queue.branch_id)
            self._auditor.record(tx, actor, "queue.change", target, fields=sorted(values))
            return _must(tx.messaging.get_queue(queue_id))

        return await self._store.transaction(work)

    async def members(self, actor: Actor, queue_id: int) -> list[int]:
        """Ids of the queue's members (admins of its branch)."""

        def work(tx: Tx) -> list[int]:
            return tx.messaging.queue_member_ids(self._managed(tx, actor, queue_id).id)

        return await self._store.read(work)

    async def list(self, actor: Actor, branch_id: int) -> list[QueueRecord]:
        """The branch's queues in menu order."""
        actor.require(Permission.HANDLE_TICKETS, branch_id)
        return await self._store.read(lambda tx: tx.messaging.queues(branch_id))

    async def member_of(self, actor: Actor) -> frozenset[int]:
        """Ids of the queues the actor is a member of (none for an actor without an account)."""
        user_id = actor.user_id
        if user_id is None:
            return frozenset()
        return frozenset(await self._store.read(lambda tx: tx.messaging.queues_of_user(user_id)))

    async def add_member(self, actor: Actor, queue_id: int, user_id: int) -> None:
        """Put a staff member of the queue's branch in the queue."""
        await self._membership(actor, queue_id, user_id, add=True)

    async def remove_member(self, actor: Actor, queue_id: int, user_id: int) -> None:
        await self._membership(actor, queue_id, user_id, add=False)

    async def _membership(self, actor: Actor, queue_id: int, user_id: int, *, add: bool) -> None:
        def work(tx: Tx) -> None:
            queue = self._managed(tx, actor, queue_id)
            if queue.branch_id not in tx.memberships.roles_of(user_id):
                raise NotFoundError(ErrorCode.NOT_FOUND, entity="user")
            if add:
                tx.messaging.add_queue_member(queue.id, user_id)
            else:
                tx.messaging.remove_queue_member(queue.id, user_id)
            action = "queue.member_add" if add else "queue.member_remove"
            target = AuditTarget("queue", queue.id, queue.branch_id)
            self._auditor.record(tx, actor, action, target, user_id=user_id)

        await self._store.transaction(work)

    @staticmethod
    def _managed(tx: Tx, actor: Actor, queue_id: int) -> QueueRecord:
        queue = tx.messaging.get_queue(queue_id)
        if queue is None or not (actor.super_admin or queue.branch_id in actor.branch_ids):
            raise NotFoundError(ErrorCode.NOT_FOUND, entity="queue")
        actor.require(Permission.MANAGE_SETTINGS, queue.branch_id)
        return queue


def _check(greeting: str | None, color: str | None) -> None:
    if greeting is not None and len(greeting) > GREETING_MAX:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="greeting")
    if color is not None and not COLOR_RE.fullmatch(color):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="color")


def _values(change: QueueChange) -> dict[str, object]:
    """The columns to write, checked; INVALID_INPUT names the first bad field."""
    values = {k: v for k, v in asdict(change).items() if v is not None}
    if "name" in values:
        values["name"] = clean_name(str(values["name"]), "name", 80)
    if "greeting" in values:
        values["greeting"] = str(values["greeting"]).strip() or None
    _check(change.greeting, change.color)
    if change.menu_order is not None and not 0 <= change.menu_order <= 99:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="menu_order")
    return values


def _must(queue: QueueRecord | None) -> QueueRecord:
    if queue is None:  # pragma: no cover - inserted in the same transaction
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="queue")
    return queue
