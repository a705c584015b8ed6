"""Small helpers shared by the repository modules."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import CursorResult, Table, Update, bindparam, update


def new_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT just produced."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer key
        raise RuntimeError("insert produced no primary key")
    return int(key[0])


@functools.lru_cache(maxsize=256)
def update_by_id(table: Table, columns: frozenset[str]) -> Update:
    """``UPDATE table SET col = :v_col, … WHERE id = :b_id``, built once per set of columns
    (building a statement and its cache key cost more than running it: docs/PERFORMANCE.md).
    Run it with :func:`by_id_params`."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"v_{name}") for name in sorted(columns)})
    )


def by_id_params(row_id: int, values: dict[str, object]) -> dict[str, object]:
    """The parameters of :func:`update_by_id` for the row ``row_id``."""
    return {"b_id": row_id, **{f"v_{name}": value for name, value in values.items()}}
