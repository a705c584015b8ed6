"""An archive goes straight to the disk where the file system takes O_DIRECT (whole aligned
blocks, the tail padded then cut back, a short write or a full disk handled); elsewhere it is
written through the cache and the OS is asked to write its pages back every few MB (so the
final fsync does not hold the disk for hundreds of MB while the live store commits), and where
the OS has no such call it writes the same bytes without it."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path

import pytest

from app.backup import targets
from app.backup.targets import (
    DIRECT_BLOCK,
    WRITEBACK_BYTES,
    DirectWrites,
    WritingBack,
    archive_sink,
    partial_file,
)
from app.domain.errors import ClinicDeskError, ErrorCode

MIB = 1 << 20


def _direct_supported() -> bool:
    with tempfile.NamedTemporaryFile() as probe:
        return bool(targets._O_DIRECT) and targets.set_direct(probe.fileno(), on=True)


needs_direct = pytest.mark.skipif(
    not _direct_supported(), reason="O_DIRECT: Linux, on a file system that takes it"
)


@pytest.fixture
def through_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "_O_DIRECT", 0)  # as on Windows, or on tmpfs


def _write(folder: Path, total: int) -> bytes:
    data = os.urandom(total)
    with partial_file(folder, "a.cdbk") as out:
        for start in range(0, total, MIB):
            out.write(data[start : start + MIB])
    return data


@pytest.mark.usefixtures("through_cache")
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


@pytest.mark.usefixtures("through_cache")
def test_without_posix_fadvise_the_same_bytes_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "posix_fadvise", raising=False)  # as on Windows
    data = _write(tmp_path, WRITEBACK_BYTES + MIB)
    assert (tmp_path / "a.cdbk").read_bytes() == data
    assert not (tmp_path / "a.cdbk.partial").exists()


@pytest.mark.usefixtures("through_cache")
def test_a_refused_advice_never_fails_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", refuse, raising=False)
    data = _write(tmp_path, WRITEBACK_BYTES + MIB)
    assert (tmp_path / "a.cdbk").read_bytes() == data


def _write_pieces(folder: Path, sizes: list[int]) -> bytes:
    data = os.urandom(sum(sizes))
    with partial_file(folder, "a.cdbk") as out:
        start = 0
        for size in sizes:
            out.write(memoryview(data)[start : start + size])
            start += size
    return data


@needs_direct
@pytest.mark.parametrize(
    "sizes",
    [[], [1], [DIRECT_BLOCK], [3 * MIB + 17, 5 * MIB - 3, 1], [DIRECT_BLOCK - 1, 1, 4097]],
)
def test_direct_writes_give_the_exact_bytes_whatever_the_pieces(
    tmp_path: Path, sizes: list[int]
) -> None:
    data = _write_pieces(tmp_path, sizes)
    assert (tmp_path / "a.cdbk").read_bytes() == data
    assert not (tmp_path / "a.cdbk.partial").exists()


@needs_direct
def test_a_plain_file_is_written_direct_and_a_wrapper_through_the_cache(tmp_path: Path) -> None:
    with (tmp_path / "a").open("xb") as plain:
        sink = archive_sink(plain)
        assert isinstance(sink, DirectWrites)
        import fcntl

        assert fcntl.fcntl(plain.fileno(), fcntl.F_GETFL) & targets._O_DIRECT
        sink.close()

    class Wrapper:  # as a test's quota opener: it must see every write
        def __init__(self, fh: object) -> None:
            self.fh = fh

    with (tmp_path / "b").open("xb") as fh:
        assert isinstance(archive_sink(Wrapper(fh)), WritingBack)  # type: ignore[arg-type]


@needs_direct
def test_a_short_direct_write_goes_on_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write, calls = os.write, []

    def short_once(fd: int, data: memoryview) -> int:
        calls.append(len(data))
        return real_write(fd, data[:4096] if len(calls) == 1 else data)

    monkeypatch.setattr(os, "write", short_once)
    data = _write_pieces(tmp_path, [2 * DIRECT_BLOCK + 5])
    assert (tmp_path / "a.cdbk").read_bytes() == data
    assert calls[:2] == [DIRECT_BLOCK, DIRECT_BLOCK - 4096]


@needs_direct
def test_a_full_disk_under_direct_writes_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def full_after_one_block(fd: int, data: memoryview) -> int:
        if os.fstat(fd).st_size >= DIRECT_BLOCK:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_after_one_block)
    with pytest.raises(ClinicDeskError) as caught:
        _write_pieces(tmp_path, [3 * DIRECT_BLOCK])
    assert caught.value.code is ErrorCode.BACKUP_TARGET_FAILED
    assert caught.value.params["error"] == os.strerror(errno.ENOSPC)
    assert list(tmp_path.iterdir()) == []


def test_a_flush_starts_for_each_full_step_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = [], threading.Event()

    def slow_datasync(fd: int) -> None:
        started.append(fd)
        release.wait(5)

    monkeypatch.setattr(targets, "_datasync", slow_datasync)
    flushes = targets.Flushes(7)
    try:
        flushes.wrote(targets.FLUSH_BYTES - 1)
        assert started == []
        flushes.wrote(1)  # a full step: one flush starts
        flushes.wrote(3 * targets.FLUSH_BYTES)  # while it runs: none more
        release.set()
        flushes.wait()
        assert started == [7]
        flushes.wrote(1)  # the bytes counted while it ran make the next step full
        flushes.wait()
        assert started == [7, 7]
    finally:
        release.set()
        flushes.close()


@needs_direct
def test_a_failing_flush_fails_the_archive_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(targets, "_datasync", broken)
    with pytest.raises(ClinicDeskError) as caught:
        _write_pieces(tmp_path, [targets.FLUSH_BYTES + 5])
    assert caught.value.params["error"] == os.strerror(errno.EIO)
    assert list(tmp_path.iterdir()) == []
