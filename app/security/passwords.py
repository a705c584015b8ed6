"""argon2id password hashing (argon2-cffi), behind the services' ``PasswordHasher`` port."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's low-memory profile (t=3, m=64 MiB, p=4), above the OWASP
# minimum for argon2id (m=19 MiB, t=2, p=1). Measured ~0.12 s per hash on the 2-core dev box;
# raise them here and old hashes upgrade at the next login (needs_rehash).
MIN_MEMORY_KIB = 19 * 1024
MIN_TIME_COST = 2


class Argon2Hasher:
    """argon2id with parameters at or above the OWASP minimum."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        if memory_kib < MIN_MEMORY_KIB or time_cost < MIN_TIME_COST:
            raise ValueError("argon2 parameters below the OWASP minimum")
        self._ph = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        """A PHC string (``$argon2id$v=19$m=...``) for ``password``."""
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches; False for a mismatch or an unreadable hash."""
        try:
            return self._ph.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than today's."""
        try:
            return self._ph.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
