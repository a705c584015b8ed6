"""Where archives go: local folders, network shares, USB paths. Written atomically: an archive
is streamed to ``<name>.partial``, fsynced, then renamed; only ``*.cdbk`` names are archives,
so a partial (a failed or interrupted write) is never listed or taken for a good one.

Where the file system allows it (Linux, ``O_DIRECT``), an archive bypasses the page cache
(:class:`DirectWrites`); elsewhere it is written through the cache and written back as it goes
(:class:`WritingBack`).
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from app.backup.archive import SUFFIX, read_header
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import fsync_dir

PARTIAL = ".partial"
_NAME = re.compile(r"clinicdesk-(\d{8}T\d{6}Z)-[0-9a-f]{8}\.cdbk")
Opener = Callable[[Path], IO[bytes]]
WRITEBACK_BYTES = 8 << 20
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)
# Bytes per direct write: a multiple of any device's block size (offsets and lengths of
# O_DIRECT writes must be), from a page-aligned buffer (so must the memory).
DIRECT_BLOCK = 4 << 20
# Direct writes reach the (virtual) disk's own write cache; every this many bytes a flush of it
# starts on a thread of its own, so the live store's next commit (an fsync, which flushes the
# same cache) never finds hundreds of MB there to wait for.
FLUSH_BYTES = 32 << 20
_O_DIRECT = getattr(os, "O_DIRECT", 0)  # Linux; 0 elsewhere (Windows, macOS)


class ArchiveSink(Protocol):
    """What an archive is written to: :class:`DirectWrites` or :class:`WritingBack`."""

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


def archive_name(created: datetime, token: str) -> str:
    """``clinicdesk-YYYYMMDDTHHMMSSZ-<8 hex>.cdbk`` (sorts by time; UTC)."""
    return f"clinicdesk-{created.astimezone(UTC):%Y%m%dT%H%M%SZ}-{token}{SUFFIX}"


def created_of(path: Path) -> datetime | None:
    """When the archive named ``path`` was made, from its name (None for other files)."""
    match = _NAME.fullmatch(path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def exclusive_open(path: Path) -> IO[bytes]:
    """The default opener: a new private file (never over an existing one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def target_error(folder: Path, exc: OSError) -> ClinicDeskError:
    """BACKUP_TARGET_FAILED naming the folder and the OS error (ENOSPC, EACCES…)."""
    name = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    return ClinicDeskError(ErrorCode.BACKUP_TARGET_FAILED, path=str(folder), error=name)


@contextlib.contextmanager
def partial_file(folder: Path, name: str, opener: Opener = exclusive_open) -> Iterator[ArchiveSink]:
    """A ``name.partial`` file in ``folder`` to write; on success it is fsynced and renamed to
    ``name``, on any failure removed (BACKUP_TARGET_FAILED for an OS error)."""
    partial = folder / (name + PARTIAL)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fh = opener(partial)
    except OSError as exc:
        raise target_error(folder, exc) from exc
    try:
        with fh:
            sink = archive_sink(fh)
            try:
                yield sink
                sink.finish()
            finally:
                sink.close()
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(folder / name)
        fsync_dir(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        if isinstance(exc, OSError):
            raise target_error(folder, exc) from exc
        raise


def archive_sink(fh: IO[bytes]) -> DirectWrites | WritingBack:
    """Direct writes to ``fh`` where its file system takes them, else :class:`WritingBack`.

    Only a plain file qualifies (an opener may hand back a wrapper that must see every
    write)."""
    if _O_DIRECT and isinstance(fh, io.BufferedWriter) and set_direct(fh.fileno(), on=True):
        return DirectWrites(fh)
    return WritingBack(fh)


def set_direct(fd: int, *, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; False where the file system refuses it."""
    import fcntl

    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT if on else flags & ~_O_DIRECT)
    except OSError:  # EINVAL: tmpfs and some network file systems
        return False
    return True


class DirectWrites:
    """A write-only file whose data goes from a page-aligned buffer straight to the disk
    (``O_DIRECT``, whole :data:`DIRECT_BLOCK` blocks; :meth:`finish` pads the tail to a page
    and cuts the file back; after a short write the rest goes through the cache). The caller
    fsyncs after :meth:`finish`: the device's own cache is flushed then.

    Why: through the page cache an archive cost a copy of every byte into the cache (on the
    test VM the most expensive step of a backup: 1.6-2.2 s of CPU for 575 MB when the cache's
    pages were new, against 0.13 s direct), pushed the live store's pages out of memory, and
    left dirty pages for the fsync. Nothing reads an archive back soon but its verify.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self._fd, self._fill, self._size, self._direct = fh.fileno(), 0, 0, True
        self._block = mmap.mmap(-1, DIRECT_BLOCK)  # anonymous mappings are page-aligned
        self._flushes = Flushes(self._fd)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Copy ``data`` into the block; write every block that fills."""
        with memoryview(data) as view, view.cast("B") as source:
            taken = 0
            while taken < len(source):
                n = min(DIRECT_BLOCK - self._fill, len(source) - taken)
                self._block[self._fill : self._fill + n] = source[taken : taken + n]
                self._fill, taken = self._fill + n, taken + n
                if self._fill == DIRECT_BLOCK:
                    self._write_block(DIRECT_BLOCK)
            self._size += taken
            return taken

    def _write_block(self, length: int) -> None:
        offset = 0
        with memoryview(self._block) as block:  # released even on an error (close() needs it)
            while offset < length:
                with block[offset:length] as piece:
                    offset += os.write(self._fd, piece)
                if offset < length and self._direct:  # a short write: maybe unaligned now
                    self._direct = not set_direct(self._fd, on=False)
        self._fill = 0
        self._flushes.wrote(length)

    def finish(self) -> None:
        """Write the last, partial block: zero-padded to a whole page, then the file cut back
        to the bytes written."""
        if self._fill:
            padded = -(-self._fill // mmap.PAGESIZE) * mmap.PAGESIZE
            self._block[self._fill : padded] = bytes(padded - self._fill)
            self._write_block(padded)
            os.ftruncate(self._fd, self._size)
        self._flushes.wait()

    def close(self) -> None:
        """Free the block and the flushing thread (the file is the caller's)."""
        self._flushes.close()
        self._block.close()


class Flushes:
    """``fdatasync`` of a file every :data:`FLUSH_BYTES` written, on a thread of its own, one at
    a time (a step reached while one runs waits for the next). An error of a flush comes back
    from the next :meth:`wrote` or from :meth:`wait`."""

    def __init__(self, fd: int) -> None:
        self._fd, self._since = fd, 0
        self._running: Future[None] | None = None
        self._pool = ThreadPoolExecutor(1, "clinicdesk-archive-flush")

    def wrote(self, count: int) -> None:
        """Count ``count`` bytes written; start a flush when a step is full and none runs."""
        self._since += count
        if self._since >= FLUSH_BYTES and (self._running is None or self._running.done()):
            self.wait()
            self._running, self._since = self._pool.submit(_datasync, self._fd), 0

    def wait(self) -> None:
        """Wait for the running flush; raise its error."""
        if self._running is not None:
            running, self._running = self._running, None
            running.result()

    def close(self) -> None:
        """Wait for the running flush (its error ignored: the caller is failing already, or
        has had it from :meth:`wait`) and end the thread."""
        self._pool.shutdown(wait=True)


_datasync = getattr(os, "fdatasync", os.fsync)


class WritingBack:
    """A write-only file that asks the OS to start writing its data to disk every
    :data:`WRITEBACK_BYTES` (Linux: ``posix_fadvise(DONTNEED)`` starts writeback without
    waiting for it; elsewhere nothing changes).

    Why: an archive's pages otherwise stay dirty in memory until the final fsync, which then
    writes hundreds of MB at once, and every commit of the live store (synchronous=FULL: an
    fsync each) queues behind it on the same disk: one inbound message waited ~100 ms+. Written
    back as it goes, the final fsync has little left, and no commit waits for much.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh, self._pending, self._synced = fh, 0, 0
        self._advise = getattr(os, "posix_fadvise", None)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write ``data``; start the writeback of what is written so far every few MB."""
        written = self._fh.write(data)
        self._pending += len(data)
        if self._pending >= WRITEBACK_BYTES:
            self._write_back()
        return written

    def fileno(self) -> int:
        """The file's descriptor (for callers that fsync it themselves)."""
        return self._fh.fileno()

    def finish(self) -> None:
        """Hand what is buffered to the OS (the caller fsyncs)."""
        self._fh.flush()

    def close(self) -> None:
        """Nothing to free (the file is the caller's)."""

    def _write_back(self) -> None:
        self._fh.flush()
        if self._advise is not None:
            with contextlib.suppress(OSError):  # only advice: never fail the write for it
                self._advise(self._fh.fileno(), self._synced, self._pending, _DONTNEED)
        self._synced += self._pending
        self._pending = 0


def copy_to(source: Path, folder: Path, opener: Opener = exclusive_open) -> Path:
    """Copy a finished archive into another target folder, with the same atomic rename."""
    with source.open("rb") as src, partial_file(folder, source.name, opener) as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return folder / source.name


@dataclass(frozen=True)
class Listed:
    """One archive in a target folder."""

    path: Path
    created: datetime
    size: int
    header_ok: bool


def list_archives(folder: Path) -> list[Listed]:
    """The archives in ``folder``, oldest first; partials and other files are not listed."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        created = created_of(path)
        if created is not None and path.is_file():
            found.append(Listed(path, created, path.stat().st_size, _header_ok(path)))
    return sorted(found, key=lambda item: (item.created, item.path.name))


def _header_ok(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            read_header(fh)
    except (OSError, ClinicDeskError):
        return False
    return True


def free_bytes(folder: Path) -> int | None:
    """Free space at ``folder`` (or its nearest existing parent), None if unknown."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None
