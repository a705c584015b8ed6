"""Applying faults to accounts (the part of the hub behind ``POST /control/fault``)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from app.domain.channels import Reason
from app.simulator import protocol
from app.simulator.accounts import Account, Status
from app.simulator.faults import FaultBook, FaultKind, validate

if TYPE_CHECKING:
    from app.simulator.accounts import Registry
    from app.simulator.connection import Connection

CONDITIONS = frozenset(
    {FaultKind.REFUSE, FaultKind.DELAY, FaultKind.DUPLICATE, FaultKind.REORDER, FaultKind.DEAF}
)


class FaultOps:
    """Mixed into the hub: fault injection, heal and reset."""

    registry: Registry
    book: FaultBook

    if TYPE_CHECKING:  # provided by the hub

        async def end(
            self,
            conn: Connection,
            reason: Reason,
            detail: str,
            code: int,
            account: Account | None = None,
        ) -> None: ...

        def conns_of(self, account: Account) -> list[Connection]: ...

        def kick(self, account: Account) -> None: ...

        def _stop_pairing(self, account: Account) -> None: ...

    async def apply_fault(
        self, kind: str, channel: str | None, seconds: float | None
    ) -> dict[str, Any]:
        """Apply one fault to ``channel`` (None: every account); raises ValueError if invalid."""
        fault = validate(kind, seconds)
        accounts = self.registry.select(channel)
        if fault in CONDITIONS:
            target = [a.faults for a in accounts] if channel else [self.book.everyone]
            for faults in target:
                faults.set(fault, seconds)
        elif fault is FaultKind.HEAL:
            if channel is None:
                self.book.everyone.clear()
            for account in accounts:
                self._heal(account)
        else:
            await asyncio.gather(*(self._event(fault, a, seconds) for a in accounts))
        self.registry.dirty = True
        return {"kind": fault.value, "accounts": [a.name for a in accounts]}

    async def _event(self, fault: FaultKind, account: Account, seconds: float | None) -> None:
        if fault is FaultKind.DROP:
            await self._close_all(account, None, protocol.CLOSE_CONNECTION_LOST)
        elif fault is FaultKind.LOGOUT:
            await self._fault_logout(account)
        elif fault is FaultKind.BAN:
            await self._fault_ban(account, seconds)
        elif fault is FaultKind.REPLACED:
            await self._fault_replace(account)

    async def _close_all(
        self, account: Account, reason: Reason | None, code: int, detail: str = ""
    ) -> None:
        conns = self.conns_of(account)
        self._stop_pairing(account)
        for conn in conns:
            if reason is None:
                await conn.close(code)
            else:
                await self.end(conn, reason, detail, code, account)

    async def _fault_logout(self, account: Account) -> None:
        if account.session is None or account.status is Status.BANNED:
            return
        account.status = Status.LOGGED_OUT
        account.pending.clear()
        account.count("faults_logout")
        await self._close_all(account, Reason.LOGGED_OUT, protocol.CLOSE_LOGGED_OUT, "401")

    async def _fault_ban(self, account: Account, seconds: float | None) -> None:
        if seconds is None:
            account.status, account.ban_until = Status.BANNED, None
            reason, code, detail = Reason.BANNED, protocol.CLOSE_BANNED, "406"
        else:
            account.status, account.ban_until = Status.TEMP_BANNED, time.time() + seconds
            reason, code, detail = Reason.TEMP_BANNED, protocol.CLOSE_TEMP_BANNED, "402"
        account.count("faults_ban")
        await self._close_all(account, reason, code, detail)

    async def _fault_replace(self, account: Account) -> None:
        if account.status is not Status.PAIRED:
            return
        account.status = Status.REPLACED
        account.count("faults_replaced")
        conn = account.conn
        if conn is not None:
            await self.end(conn, Reason.REPLACED, "440", protocol.CLOSE_REPLACED)

    def _heal(self, account: Account) -> None:
        account.faults.clear()
        if account.status is Status.REPLACED:
            account.status = Status.PAIRED
        if account.status is Status.TEMP_BANNED:
            account.status, account.ban_until = Status.PAIRED, None
        self.kick(account)

    async def reset(self, name: str) -> bool:
        """Forget account ``name`` entirely (unpaired, no queue, no faults); False if unknown."""
        account = self.registry.find(name)
        if account is None:
            return False
        await self._close_all(account, Reason.LOGGED_OUT, protocol.CLOSE_LOGGED_OUT, "401")
        del self.registry.accounts[name]
        self.registry.dirty = True
        return True
