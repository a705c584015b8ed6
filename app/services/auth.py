"""Logging in: password check with throttling, audit of every attempt, rehash on login.

An attempt is *claimed* before the password is checked: in one transaction on the writer
thread the throttle is checked and the failure counter raised as if the attempt will fail (a
success resets it). Parallel guesses are therefore counted one by one and the throttle engages
after the free ones, whatever the concurrency.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.models import User
from app.domain.policies import normalise_username, throttle_delay
from app.domain.roles import Actor
from app.services.audit import Auditor, AuditTarget
from app.services.ports import Clock, PasswordHasher, Store, Tx
from app.services.users import actor_for

# Checked when the username is unknown, so that answer takes as long as a wrong password.
_DUMMY_PASSWORD = "clinicdesk-timing-equaliser"  # noqa: S105 - not a credential
MALFORMED_NAME = "?"


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """The actor that logged in."""

    actor: Actor


@dataclass(frozen=True, slots=True)
class _Claim:
    """The result of claiming a login attempt: the user (if any) and any wait imposed."""

    user: User | None
    retry_after: int | None = None


class AuthService:
    """Checks credentials. Failures are audited and slow the account down (never lock it)."""

    def __init__(
        self, store: Store, clock: Clock, hasher: PasswordHasher, auditor: Auditor
    ) -> None:
        self._store, self._clock, self._hasher, self._auditor = store, clock, hasher, auditor
        self._dummy_hash: str | None = None  # made at the first unknown username, not at start

    async def login(self, username: str, password: str, workstation: str = "") -> LoginOutcome:
        """Return the actor for valid credentials; raise invalid-credentials or throttled."""
        if self._dummy_hash is None:  # first attempt of any kind, so both answers cost the same
            self._dummy_hash = await asyncio.to_thread(self._hasher.hash, _DUMMY_PASSWORD)
        name = await self._valid_name(username, workstation)
        claim = await self._store.transaction(lambda tx: self._claim(tx, name, workstation))
        if claim.retry_after is not None:
            raise ClinicDeskError(ErrorCode.AUTH_THROTTLED, retry_after=claim.retry_after)
        user = claim.user
        if user is None or not await asyncio.to_thread(self._check, user, password):
            await self._store.transaction(lambda tx: self._failed(tx, user, name, workstation))
            raise ClinicDeskError(ErrorCode.AUTH_INVALID_CREDENTIALS)
        if user.disabled:
            raise ClinicDeskError(ErrorCode.AUTH_USER_DISABLED)
        new_hash = await asyncio.to_thread(self._rehash_if_needed, user, password)
        return await self._store.transaction(
            lambda tx: self._succeeded(tx, user, workstation, new_hash)
        )

    async def actor_of(self, user_id: int, workstation: str = "") -> Actor:
        """The current actor for ``user_id`` (roles read fresh); token-invalid if gone/disabled."""

        def work(tx: Tx) -> Actor:
            user = tx.users.get(user_id)
            if user is None or user.disabled:
                raise ClinicDeskError(ErrorCode.AUTH_TOKEN_INVALID)
            return actor_for(tx, user, workstation)

        return await self._store.read(work)

    async def _valid_name(self, username: str, workstation: str) -> str:
        """The normalised username; a malformed one is audited and refused like a wrong one."""
        try:
            return normalise_username(username)
        except ClinicDeskError:
            await self._store.transaction(
                lambda tx: self._failed(tx, None, MALFORMED_NAME, workstation)
            )
            raise ClinicDeskError(ErrorCode.AUTH_INVALID_CREDENTIALS) from None

    def _claim(self, tx: Tx, name: str, workstation: str) -> _Claim:
        user = tx.users.get_by_username(name)
        if user is None:
            return _Claim(None)
        now = self._clock.now()
        if user.throttled_until is not None and user.throttled_until > now:
            wait = int((user.throttled_until - now).total_seconds()) + 1
            actor = Actor(None, name, workstation=workstation)
            target = AuditTarget("user", user.id)
            self._auditor.record(tx, actor, "auth.login_throttled", target, retry_after=wait)
            return _Claim(user, retry_after=wait)
        failures = user.failed_logins + 1
        delay = throttle_delay(failures)
        until: datetime | None = now + delay if delay else None
        tx.users.record_failure(user.id, failures, until)
        return _Claim(user)

    def _check(self, user: User | None, password: str) -> bool:
        if user is None:
            assert self._dummy_hash is not None  # made by login() before any check
            self._hasher.verify(self._dummy_hash, password)
            return False
        return self._hasher.verify(user.password_hash, password)

    def _rehash_if_needed(self, user: User, password: str) -> str | None:
        if self._hasher.needs_rehash(user.password_hash):
            return self._hasher.hash(password)
        return None

    def _failed(self, tx: Tx, user: User | None, name: str, workstation: str) -> None:
        """Audit a failed attempt (the counter was already raised when it was claimed)."""
        actor = Actor(None, name, workstation=workstation)
        if user is None:
            self._auditor.record(tx, actor, "auth.login_failed", AuditTarget("user"))
            return
        current = tx.users.get(user.id)
        failures = current.failed_logins if current else user.failed_logins + 1
        target = AuditTarget("user", user.id)
        self._auditor.record(tx, actor, "auth.login_failed", target, failures=failures)

    def _succeeded(
        self, tx: Tx, user: User, workstation: str, new_hash: str | None
    ) -> LoginOutcome:
        now = self._clock.now()
        tx.users.record_success(user.id, now)
        if new_hash is not None:
            tx.users.set_password(user.id, new_hash, now)
        actor = actor_for(tx, user, workstation)
        self._auditor.record(tx, actor, "auth.login", AuditTarget("user", user.id))
        return LoginOutcome(actor)
