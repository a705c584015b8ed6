"""Protocols the services need; adapters in ``app.store`` and ``app.security`` implement them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from app.domain.audit import AuditRow
from app.domain.models import Branch, Contact, Membership, User
from app.domain.roles import Role

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """An audit entry before the store gives it its sequence number and hash."""

    at: datetime
    actor_user_id: int | None
    actor_name: str
    workstation: str
    action: str
    object_type: str | None = None
    object_id: str | None = None
    branch_id: int | None = None
    details: dict[str, object] = field(default_factory=dict)


class BranchRepo(Protocol):
    def add(self, name: str, at: datetime) -> int: ...
    def get(self, branch_id: int) -> Branch | None: ...
    def get_by_name(self, name: str) -> Branch | None: ...
    def list(self, only: frozenset[int] | None = None) -> list[Branch]: ...


class UserRepo(Protocol):
    def add(
        self, username: str, display_name: str, password_hash: str, super_admin: bool, at: datetime
    ) -> int: ...
    def get(self, user_id: int) -> User | None: ...
    def get_by_username(self, username: str) -> User | None: ...
    def list(self, only_branches: frozenset[int] | None = None) -> list[User]: ...
    def count(self) -> int: ...
    def set_password(self, user_id: int, password_hash: str, at: datetime) -> None: ...
    def record_failure(self, user_id: int, failures: int, until: datetime | None) -> None: ...
    def record_success(self, user_id: int, at: datetime) -> None: ...


class MembershipRepo(Protocol):
    def set(self, user_id: int, branch_id: int, role: Role) -> None: ...
    def roles_of(self, user_id: int) -> dict[int, Role]: ...
    def in_branches(self, only: frozenset[int] | None = None) -> list[Membership]: ...


class ContactRepo(Protocol):
    def add(
        self,
        branch_id: int,
        phone_e164: str | None,
        display_name: str | None,
        wa_lid: str | None,
        at: datetime,
    ) -> int: ...
    def get(self, contact_id: int) -> Contact | None: ...
    def find_by_phone(self, branch_id: int, phone_e164: str) -> Contact | None: ...


class AuditRepo(Protocol):
    def append(self, entry: NewAuditEntry) -> AuditRow: ...
    def head(self) -> AuditRow | None: ...
    def iter_rows(self) -> Iterator[AuditRow]: ...


class Tx(Protocol):
    """The repositories of one transaction."""

    @property
    def branches(self) -> BranchRepo: ...
    @property
    def users(self) -> UserRepo: ...
    @property
    def memberships(self) -> MembershipRepo: ...
    @property
    def contacts(self) -> ContactRepo: ...
    @property
    def audit(self) -> AuditRepo: ...


class Store(Protocol):
    """Runs work in a transaction on the DB writer thread, or in a read transaction elsewhere."""

    async def transaction(self, work: Callable[[Tx], T]) -> T: ...
    async def read(self, work: Callable[[Tx], T]) -> T: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class PasswordHasher(Protocol):
    """argon2id in production; the services never see the algorithm."""

    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...
