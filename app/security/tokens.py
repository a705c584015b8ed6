"""Short-lived bearer tokens for the engine API, kept in the engine's memory only.

Only a SHA-256 of each token is held, so a memory dump of the map does not yield usable
tokens. Restarting the engine ends every session: the desk logs in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.domain.errors import ClinicDeskError, ErrorCode

DEFAULT_TTL = timedelta(minutes=15)
# Refreshing never extends a session past this (ASVS 3.3.2: re-authenticate within 12 h).
MAX_SESSION = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Session:
    """Who a token speaks for. ``user_id`` None means the local administrator (CLI)."""

    user_id: int | None
    workstation: str
    expires_at: datetime | None  # None: valid while the engine runs (local admin only)
    issued_at: datetime | None = None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenIssuer:
    """Issues, checks, refreshes and revokes bearer tokens."""

    def __init__(self, now: Callable[[], datetime], ttl: timedelta = DEFAULT_TTL) -> None:
        self._now, self._ttl = now, ttl
        self._sessions: dict[bytes, Session] = {}

    def issue(self, user_id: int | None, workstation: str = "", *, expires: bool = True) -> str:
        """A new random token for ``user_id``: valid one TTL, or for good if not ``expires``."""
        self._purge()
        token = secrets.token_urlsafe(32)
        now = self._now()
        expires_at = now + self._ttl if expires else None
        self._sessions[_digest(token)] = Session(user_id, workstation, expires_at, now)
        return token

    def resolve(self, token: str) -> Session:
        """The session behind ``token``; ``auth.token_invalid`` if unknown or expired."""
        session = self._sessions.get(_digest(token))
        if session is None or self._expired(session):
            raise ClinicDeskError(ErrorCode.AUTH_TOKEN_INVALID)
        return session

    def refresh(self, token: str) -> Session:
        """Extend ``token`` by one TTL from now, but never past ``MAX_SESSION`` after login."""
        session = self.resolve(token)
        if session.expires_at is not None and session.issued_at is not None:
            limit = session.issued_at + MAX_SESSION
            if self._now() >= limit:
                raise ClinicDeskError(ErrorCode.AUTH_TOKEN_INVALID)
            session = replace(session, expires_at=min(self._now() + self._ttl, limit))
            self._sessions[_digest(token)] = session
        return session

    def revoke(self, token: str) -> None:
        """Forget ``token`` (logout)."""
        self._sessions.pop(_digest(token), None)

    @staticmethod
    def same(a: str, b: str) -> bool:
        """Constant-time comparison of two secrets."""
        return hmac.compare_digest(a.encode(), b.encode())

    def _expired(self, session: Session) -> bool:
        return session.expires_at is not None and session.expires_at <= self._now()

    def _purge(self) -> None:
        dead = [k for k, s in self._sessions.items() if self._expired(s)]
        for key in dead:
            del self._sessions[key]
