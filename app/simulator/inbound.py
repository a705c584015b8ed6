"""Inbound delivery (the part of the hub that plays the patients' side).

Every inbound message waits in the account's ``pending`` queue until the transport acks it;
a new connection gets every unacked message again (WhatsApp's offline queue). The delay,
duplicate, reorder and deaf faults act here.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from app.simulator import patients, protocol
from app.simulator.accounts import Account, Pending

if TYPE_CHECKING:
    from app.simulator.accounts import Registry
    from app.simulator.faults import FaultBook
    from app.simulator.hub import HubOptions


class InboundOps:
    """Mixed into the hub: queueing, delivering and generating patient messages."""

    opts: HubOptions
    registry: Registry
    book: FaultBook
    rng: random.Random
    patient_seq: int

    if TYPE_CHECKING:  # provided by the hub

        def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

    def add_inbound(self, account: Account, message: dict[str, Any]) -> None:
        """Queue one patient message (twice with ``duplicate``) and start delivering it."""
        ready = time.monotonic() + self.book.delay(account.faults)
        copies = 2 if self.book.on(account.faults, "duplicate") else 1
        for _ in range(copies):
            ref = account.new_ref()
            account.pending[ref] = Pending(ref, message, ready_at=ready)
        account.count("inbound")
        self.registry.dirty = True
        self.kick(account)

    def kick(self, account: Account) -> None:
        """Make sure pending inbound reaches the live connection."""
        if account.flusher is None and account.pending:
            account.flusher = self.spawn(self._flush(account))

    async def _flush(self, account: Account) -> None:
        try:
            if self.book.on(account.faults, "reorder"):
                await asyncio.sleep(self.opts.reorder_window)  # let a batch gather
            while await self._flush_once(account):
                pass
        finally:
            account.flusher = None

    async def _flush_once(self, account: Account) -> bool:
        """Deliver what is due; wait for held messages; False when nothing is left to do."""
        conn = account.conn
        if conn is None or conn.closed or self.book.on(account.faults, "deaf"):
            return False
        now = time.monotonic()
        todo = [p for p in account.pending.values() if p.sent_on != conn.serial]
        due = [p for p in todo if p.ready_at <= now]
        if not due:
            if todo:
                await asyncio.sleep(min(p.ready_at for p in todo) - now)
            return bool(todo)
        if len(due) > 1 and self.book.on(account.faults, "reorder"):
            due = self._shuffled(due)
        for item in due:
            item.sent_on = conn.serial
            await conn.send(protocol.INBOUND, ref=item.ref, message=item.message)
        return True

    def _shuffled(self, items: list[Pending]) -> list[Pending]:
        shuffled = items[:]
        self.rng.shuffle(shuffled)
        return shuffled if shuffled != items else items[::-1]

    def burst(self, account: Account, count: int, kind: str = "text") -> list[str]:
        """``count`` messages from simulated patients to ``account``; their ids in order."""
        wa_ids = []
        for _ in range(count):
            index = self.patient_seq % patients.PATIENT_COUNT
            self.patient_seq += 1
            message = patients.make_message(index, None, kind)
            self.add_inbound(account, message)
            wa_ids.append(str(message["wa_id"]))
        return wa_ids

    async def _reply_later(self, account: Account, to: str, said: str | None = None) -> None:
        index = patients.index_of(to)
        if index is None:
            return
        await asyncio.sleep(self.opts.reply_delay)
        self.add_inbound(account, patients.make_message(index, patients.answer(said, self.rng)))

    async def _chat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.opts.chat_interval)
            for account in list(self.registry.accounts.values()):
                if account.conn is not None and self.rng.random() < 0.5:
                    self.burst(account, 1)
