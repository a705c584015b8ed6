"""Repositories: the SQL behind the ports in ``app.services.ports`` (SQLAlchemy Core)."""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from app.domain.audit import GENESIS_HASH, AuditEntry, AuditRow, seal
from app.domain.models import Branch, Channel, Contact, StateChange, User
from app.domain.roles import Role
from app.services.ports import NewAuditEntry, NewChannel
from app.store.repos_erase import ErasureRepository
from app.store.repos_messaging import MessagingRepository
from app.store.repos_outbox import OutboxRepository
from app.store.repos_reminders import ReminderRepository
from app.store.repos_stats import StatsRepository
from app.store.repos_sync import SyncRepository
from app.store.rows import new_id
from app.store.schema import (
    audit_log,
    branches,
    channel_state_history,
    channels,
    contacts,
    memberships,
    users,
)


class BranchRepository:
    """Branches table."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, name: str, at: datetime) -> int:
        return new_id(self._c.execute(insert(branches).values(name=name, created_at=at)))

    def get(self, branch_id: int) -> Branch | None:
        row = self._c.execute(select(branches).where(branches.c.id == branch_id)).first()
        return _branch(row) if row else None

    def get_by_name(self, name: str) -> Branch | None:
        """Case-insensitive: "centro" and "Centro" are the same branch."""
        where = func.lower(branches.c.name) == name.lower()
        row = self._c.execute(select(branches).where(where)).first()
        return _branch(row) if row else None

    def update(self, branch_id: int, **values: object) -> None:
        """Set columns of the branch (timezone, business_hours, out_of_hours_message)."""
        self._c.execute(update(branches).where(branches.c.id == branch_id).values(**values))

    def list(self, only: frozenset[int] | None = None) -> list[Branch]:
        query = select(branches).order_by(branches.c.name)
        if only is not None:
            query = query.where(branches.c.id.in_(sorted(only)))
        return [_branch(r) for r in self._c.execute(query)]


def _branch(row: Any) -> Branch:
    return Branch(row.id, row.name, row.timezone, row.created_at)


class UserRepository:
    """Users table (password hashes stay inside the services layer)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(
        self, username: str, display_name: str, password_hash: str, super_admin: bool, at: datetime
    ) -> int:
        values: dict[str, object] = {"username": username, "display_name": display_name}
        values |= {"password_hash": password_hash, "super_admin": super_admin}
        stamp = {"created_at": at, "password_changed_at": at}
        return new_id(self._c.execute(insert(users).values(**values, **stamp)))

    def get(self, user_id: int) -> User | None:
        row = self._c.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def get_by_username(self, username: str) -> User | None:
        row = self._c.execute(select(users).where(users.c.username == username)).first()
        return _user(row) if row else None

    def list(self, only_branches: frozenset[int] | None = None) -> list[User]:
        query = select(users).order_by(users.c.username)
        if only_branches is not None:
            members = select(memberships.c.user_id).where(
                memberships.c.branch_id.in_(sorted(only_branches))
            )
            query = query.where(users.c.id.in_(members))
        return [_user(r) for r in self._c.execute(query)]

    def count(self) -> int:
        return int(self._c.execute(select(func.count()).select_from(users)).scalar_one())

    def set_password(self, user_id: int, password_hash: str, at: datetime) -> None:
        values = {"password_hash": password_hash, "password_changed_at": at}
        self._update(user_id, **values, failed_logins=0, throttled_until=None)

    def record_failure(self, user_id: int, failures: int, until: datetime | None) -> None:
        self._update(user_id, failed_logins=failures, throttled_until=until)

    def record_success(self, user_id: int, at: datetime) -> None:
        self._update(user_id, failed_logins=0, throttled_until=None, last_login_at=at)

    def _update(self, user_id: int, **values: object) -> None:
        self._c.execute(update(users).where(users.c.id == user_id).values(**values))


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        password_hash=row.password_hash,
        super_admin=bool(row.super_admin),
        disabled=bool(row.disabled),
        failed_logins=row.failed_logins,
        throttled_until=row.throttled_until,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
    )


class MembershipRepository:
    """Who holds which role in which branch."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def set(self, user_id: int, branch_id: int, role: Role) -> None:
        where = (memberships.c.user_id == user_id) & (memberships.c.branch_id == branch_id)
        self._c.execute(memberships.delete().where(where))
        values = {"user_id": user_id, "branch_id": branch_id, "role": role.value}
        self._c.execute(insert(memberships).values(**values))

    def roles_of(self, user_id: int) -> dict[int, Role]:
        query = select(memberships).where(memberships.c.user_id == user_id)
        return {r.branch_id: Role(r.role) for r in self._c.execute(query)}


class ContactRepository:
    """Patient contacts."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(
        self,
        branch_id: int,
        phone_e164: str | None,
        display_name: str | None,
        wa_lid: str | None,
        at: datetime,
    ) -> int:
        values: dict[str, object] = {"branch_id": branch_id, "phone_e164": phone_e164}
        values["wa_lid"] = wa_lid
        values |= {"display_name": display_name, "created_at": at, "updated_at": at}
        return new_id(self._c.execute(insert(contacts).values(**values)))

    def erased(self, contact_id: int) -> bool:
        """Whether the patient's data was erased (LGPD)."""
        query = select(contacts.c.erased_at).where(contacts.c.id == contact_id)
        return self._c.execute(query).scalar() is not None

    def get(self, contact_id: int) -> Contact | None:
        row = self._c.execute(select(contacts).where(contacts.c.id == contact_id)).first()
        return _contact(row) if row else None

    def find_by_phone(self, branch_id: int, phone_e164: str) -> Contact | None:
        where = (contacts.c.branch_id == branch_id) & (contacts.c.phone_e164 == phone_e164)
        row = self._c.execute(select(contacts).where(where)).first()
        return _contact(row) if row else None


def _contact(row: Any) -> Contact:
    return Contact(
        row.id, row.branch_id, row.phone_e164, row.wa_lid, row.display_name, row.created_at
    )


_CHANNEL_BY_ID = select(channels).where(channels.c.id == bindparam("b_id"))  # hot: built once


class ChannelRepository:
    """Channels and their state history."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, new: NewChannel, at: datetime) -> int:
        values = dataclasses.asdict(new)
        values["config"] = json.dumps(new.config, sort_keys=True)
        values["send_limits"] = json.dumps(new.send_limits, sort_keys=True)
        values |= {"state": "INITIALIZING", "state_since": at, "created_at": at}
        return new_id(self._c.execute(insert(channels).values(**values)))

    def get(self, channel_id: int) -> Channel | None:
        row = self._c.execute(_CHANNEL_BY_ID, {"b_id": channel_id}).first()
        return _channel(row) if row else None

    def get_by_name(self, name: str) -> Channel | None:
        row = self._c.execute(select(channels).where(channels.c.name == name)).first()
        return _channel(row) if row else None

    def list(self, only_branches: frozenset[int] | None = None) -> list[Channel]:
        query = select(channels).order_by(channels.c.name)
        if only_branches is not None:
            query = query.where(channels.c.branch_id.in_(sorted(only_branches)))
        return [_channel(r) for r in self._c.execute(query)]

    def update(self, channel_id: int, **values: object) -> None:
        for key in ("config", "send_limits"):
            if key in values:
                values[key] = json.dumps(values[key], sort_keys=True)
        self._c.execute(update(channels).where(channels.c.id == channel_id).values(**values))

    def delete(self, channel_id: int) -> None:
        self._c.execute(channels.delete().where(channels.c.id == channel_id))

    def set_state(
        self, channel_id: int, old: str | None, new: str, reason: str | None, at: datetime
    ) -> None:
        values = {"state": new, "state_reason": reason, "state_since": at}
        self._c.execute(update(channels).where(channels.c.id == channel_id).values(**values))
        row = {"channel_id": channel_id, "at": at, "from_state": old, "to_state": new}
        self._c.execute(insert(channel_state_history).values(**row, reason=reason))

    def history(self, channel_id: int, limit: int = 100) -> builtins.list[StateChange]:
        h = channel_state_history
        query = select(h).where(h.c.channel_id == channel_id).order_by(h.c.id.desc()).limit(limit)
        rows = self._c.execute(query)
        return [StateChange(r.channel_id, r.at, r.from_state, r.to_state, r.reason) for r in rows]

    def reconnects(self, channel_id: int) -> int:
        """How many times the channel came back to CONNECTED after the first time."""
        h = channel_state_history
        where = (h.c.channel_id == channel_id) & (h.c.to_state == "CONNECTED")
        count = self._c.execute(select(func.count()).select_from(h).where(where)).scalar_one()
        return max(0, int(count) - 1)


def _channel(row: Any) -> Channel:
    return Channel(
        id=row.id,
        branch_id=row.branch_id,
        name=row.name,
        display_name=row.display_name,
        phone_e164=row.phone_e164,
        kind=row.kind,
        enabled=bool(row.enabled),
        state=row.state,
        state_reason=row.state_reason,
        state_since=row.state_since,
        send_limits=json.loads(row.send_limits or "{}"),
        config=json.loads(row.config or "{}"),
    )


# Every audited action runs these two (built once: see docs/PERFORMANCE.md, "Send → worker").
_AUDIT_HEAD = select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)
_AUDIT_INSERT = insert(audit_log)


class AuditRepository:
    """The hash-chained audit log. Appends run on the single writer thread, so seq is safe."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def append(self, entry: NewAuditEntry) -> AuditRow:
        head = self.head()
        seq = head.entry.seq + 1 if head else 1
        row = seal(AuditEntry(seq=seq, **_fields(entry)), head.hash if head else GENESIS_HASH)
        self._c.execute(_AUDIT_INSERT, _columns(row))
        return row

    def head(self) -> AuditRow | None:
        row = self._c.execute(_AUDIT_HEAD).first()
        return _audit_row(row) if row else None

    def iter_rows(self) -> Iterator[AuditRow]:
        result = self._c.execution_options(yield_per=1000).execute(
            select(audit_log).order_by(audit_log.c.seq)
        )
        for row in result:
            yield _audit_row(row)


def _fields(entry: NewAuditEntry) -> dict[str, Any]:
    return {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}


def _columns(row: AuditRow) -> dict[str, Any]:
    values = dataclasses.asdict(row.entry)
    values["details"] = json.dumps(values["details"], sort_keys=True, separators=(",", ":"))
    return {**values, "prev_hash": row.prev_hash, "hash": row.hash}


def _audit_row(row: Any) -> AuditRow:
    entry = AuditEntry(
        seq=row.seq,
        at=row.at,
        actor_user_id=row.actor_user_id,
        actor_name=row.actor_name,
        workstation=row.workstation,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        branch_id=row.branch_id,
        details=json.loads(row.details),
    )
    return AuditRow(entry=entry, prev_hash=row.prev_hash, hash=row.hash)


class SqlTx:
    """All repositories bound to one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.branches = BranchRepository(conn)
        self.users = UserRepository(conn)
        self.memberships = MembershipRepository(conn)
        self.contacts = ContactRepository(conn)
        self.channels = ChannelRepository(conn)
        self.audit = AuditRepository(conn)
        self.messaging = MessagingRepository(conn)
        self.outbox = OutboxRepository(conn)
        self.reminders = ReminderRepository(conn)
        self.stats = StatsRepository(conn)
        self.sync = SyncRepository(conn)
        self.erasure = ErasureRepository(conn)
