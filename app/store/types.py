"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime`` stored as integer milliseconds since the epoch.

    Integers sort and compare cheaply in SQLite, and there is no time-zone text to get wrong.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return round(value.timestamp() * 1000)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime with millisecond precision (what the store keeps)."""
    now = datetime.now(tz=UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)
