"""The real clock the services are given (they never read the time themselves)."""

from __future__ import annotations

from datetime import datetime

from app.store.types import utcnow


class SystemClock:
    """The real clock (UTC, millisecond precision like the store)."""

    def now(self) -> datetime:
        return utcnow()
