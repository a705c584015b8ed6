"""Virtual WhatsApp accounts: one per channel name, kept in memory (optionally in a state file).

An account is created the first time a transport says hello with its name (or a control call
names it). Its link status is one of :class:`Status`; ``session`` is the token the transport
stores after pairing. Unacknowledged inbound messages stay in ``pending`` until acked, and are
redelivered on every new connection (WhatsApp's offline queue).
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.infra.atomic import atomic_write_text
from app.simulator.faults import Faults
from app.simulator.patients import account_jid

#: How many send idempotency keys an account remembers.
SENT_KEYS_KEPT = 5_000
#: How many outbound messages an account keeps for ``GET /control/outbox``.
OUTBOX_KEPT = 100


class Status(StrEnum):
    UNPAIRED = "unpaired"
    PAIRED = "paired"
    LOGGED_OUT = "logged_out"
    BANNED = "banned"
    TEMP_BANNED = "temp_banned"
    REPLACED = "replaced"


@dataclass(slots=True)
class Pending:
    """One inbound message waiting for the transport's ack."""

    ref: str
    message: dict[str, Any]
    ready_at: float = 0.0  # the delay fault holds it until then (monotonic)
    sent_on: int = 0  # serial of the connection it was last delivered on


@dataclass(slots=True)
class Account:
    name: str
    status: Status = Status.UNPAIRED
    session: str | None = None
    ban_until: float | None = None  # epoch seconds, temp bans only
    jid: str = ""
    conn: Any = None  # the live Connection, if any (server-side object)
    pairing: Any = None  # the running Pairing, if any
    flusher: Any = None  # the task delivering pending inbound, if any
    pending: OrderedDict[str, Pending] = field(default_factory=OrderedDict)
    sent_keys: OrderedDict[str, str] = field(default_factory=OrderedDict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    next_ref: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.jid = self.jid or account_jid(self.name)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def new_ref(self) -> str:
        self.next_ref += 1
        return f"{self.next_ref}"

    def new_session(self) -> str:
        self.session = secrets.token_urlsafe(24)
        self.status, self.ban_until = Status.PAIRED, None
        return self.session

    def remember_send(self, key: str, wa_id: str) -> None:
        self.sent_keys[key] = wa_id
        while len(self.sent_keys) > SENT_KEYS_KEPT:
            self.sent_keys.popitem(last=False)

    def record_outbound(self, entry: dict[str, Any]) -> None:
        self.outbox.append(entry)
        del self.outbox[:-OUTBOX_KEPT]

    def temp_ban_over(self, now: float | None = None) -> bool:
        """A temporary ban that has expired turns back into a paired account."""
        if self.status is Status.TEMP_BANNED and (self.ban_until or 0) <= (now or time.time()):
            self.status, self.ban_until = Status.PAIRED, None
            return True
        return False

    def snapshot(self) -> dict[str, Any]:
        """The account as ``GET /control/accounts`` shows it (no message content)."""
        self.temp_ban_over()
        return {
            "name": self.name,
            "status": self.status.value,
            "paired": self.session is not None and self.status is not Status.LOGGED_OUT,
            "connected": self.conn is not None and not self.conn.closed,
            "pairing": self.pairing is not None,
            "ban_until": self.ban_until,
            "pending": len(self.pending),
            "faults": self.faults.describe(),
            "counts": dict(self.counts),
        }


class Registry:
    """All accounts by name, with optional persistence to a JSON state file."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.accounts: dict[str, Account] = {}
        self.state_file = state_file
        self.dirty = False
        if state_file is not None and state_file.exists():
            self._load(state_file)

    def get(self, name: str) -> Account:
        """The account ``name``, created unpaired on first use."""
        account = self.accounts.get(name)
        if account is None:
            account = self.accounts[name] = Account(name)
            self.dirty = True
        return account

    def find(self, name: str) -> Account | None:
        return self.accounts.get(name)

    def select(self, name: str | None) -> list[Account]:
        """``name``'s account, or every account when ``name`` is None."""
        if name is None:
            return list(self.accounts.values())
        return [self.get(name)]

    def save(self) -> None:
        """Write the state file (0600) if there is one and something changed."""
        if self.state_file is None or not self.dirty:
            return
        data = {"v": 1, "accounts": [_dump(a) for a in self.accounts.values()]}
        atomic_write_text(self.state_file, json.dumps(data, ensure_ascii=False))
        self.dirty = False

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        for item in data.get("accounts", []):
            account = Account(
                item["name"],
                status=Status(item.get("status", "unpaired")),
                session=item.get("session"),
                ban_until=item.get("ban_until"),
            )
            if account.status is Status.REPLACED:
                account.status = Status.PAIRED if account.session else Status.UNPAIRED
            for ref, message in item.get("pending", []):
                account.pending[ref] = Pending(ref, message)
            account.next_ref = int(item.get("next_ref", 0))
            self.accounts[account.name] = account


def _dump(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "status": account.status.value,
        "session": account.session,
        "ban_until": account.ban_until,
        "next_ref": account.next_ref,
        "pending": [[p.ref, p.message] for p in account.pending.values()],
    }
