"""An archive being written asks the OS to write its pages back every few MB (so the final
fsync does not hold the disk for hundreds of MB while the live store commits), and where the
OS has no such call it writes the same bytes without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.backup import targets
from app.backup.targets import WRITEBACK_BYTES, partial_file

MIB = 1 << 20


def _write(folder: Path, total: int) -> bytes:
    data = os.urandom(total)
    with partial_file(folder, "a.cdbk") as out:
        for start in range(0, total, MIB):
            out.write(data[start : start + MIB])
    return data


def test_writeback_is_started_for_each_full_step_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(
        os, "posix_fadvise", lambda fd, o, n, a: calls.append((o, n, a)), raising=False
    )
    data = _write(tmp_path, 2 * WRITEBACK_BYTES + 3 * MIB)
    step = WRITEBACK_BYTES
    assert calls == [(0, step, targets._DONTNEED), (step, step, targets._DONTNEED)]
    assert (tmp_path / "a.cdbk").read_bytes() == data


def test_without_posix_fadvise_the_same_bytes_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "posix_fadvise", raising=False)  # as on Windows
    data = _write(tmp_path, WRITEBACK_BYTES + MIB)
    assert (tmp_path / "a.cdbk").read_bytes() == data
    assert not (tmp_path / "a.cdbk.partial").exists()


def test_a_refused_advice_never_fails_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", refuse, raising=False)
    data = _write(tmp_path, WRITEBACK_BYTES + MIB)
    assert (tmp_path / "a.cdbk").read_bytes() == data
