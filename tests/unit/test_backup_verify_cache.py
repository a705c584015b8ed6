"""The cache a verify gives SQLite: the whole copy where it fits under the cap (each page then
decrypted once by integrity_check), never less than SQLite's default."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.backup.verify import VERIFY_CACHE_MAX_KIB, verify_cache_kib


@pytest.mark.parametrize(
    ("size", "expected_kib"),
    [
        (0, 2 << 10),
        (1 << 20, 2 << 10),
        (100 << 20, (100 << 10) * 9 // 8),
        (10 << 30, VERIFY_CACHE_MAX_KIB),
    ],
)
def test_the_cache_holds_the_copy_up_to_the_cap(
    tmp_path: Path, size: int, expected_kib: int
) -> None:
    copy = tmp_path / "snap.db"
    with copy.open("wb") as fh:
        fh.truncate(size)  # sparse: only the size matters
    assert verify_cache_kib(copy) == expected_kib
