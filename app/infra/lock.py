"""Single-instance lock: at most one engine per data directory.

Built on an OS lock (``flock`` on POSIX, ``LockFileEx`` on Windows) through ``filelock``, so
the kernel frees it when the holder dies, even by SIGKILL or a power cut: no stale lock file
ever needs a person to delete it. The lock file itself stays on disk after release; unlinking it
would let two processes lock two different inodes at the same path.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from app.domain.errors import ClinicDeskError, ErrorCode


class SingleInstanceLock:
    """A non-blocking, exclusive, process-wide lock on ``path``.

    Use as a context manager or with :meth:`acquire` / :meth:`release`. A second holder, in
    another process or through another ``SingleInstanceLock`` in this one, is refused at once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # fallback_to_soft=False: on a filesystem without flock (some network shares) a soft
        # lock would outlive a crashed engine and block every restart; fail loudly instead.
        # thread_local=False: the engine may acquire on one thread and release on another.
        self._lock = FileLock(
            path, timeout=0, mode=0o600, thread_local=False, fallback_to_soft=False
        )

    @property
    def is_held(self) -> bool:
        """True while this object holds the lock."""
        return self._lock.is_locked

    def acquire(self) -> None:
        """Take the lock now or raise ``ClinicDeskError(ENGINE_ALREADY_RUNNING, path=...)``.

        Creates the parent directory if needed. Acquiring twice through the same object is a
        no-op (the lock is not re-entrant across objects).
        """
        if self.is_held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout as exc:
            raise ClinicDeskError(ErrorCode.ENGINE_ALREADY_RUNNING, path=str(self.path)) from exc

    def release(self) -> None:
        """Give the lock up; a no-op when it is not held."""
        if self.is_held:
            self._lock.release(force=True)

    def __enter__(self) -> SingleInstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def is_locked_by_other(path: Path) -> bool:
    """True if someone else holds the lock at ``path`` right now.

    Probes by taking the lock and giving it back at once, so the answer can be stale by the time
    the caller acts on it; use it for messages ("an engine is already running"), never as a
    substitute for :meth:`SingleInstanceLock.acquire`. A holder in this same process through
    another object also counts as "other".
    """
    if not path.exists():  # nobody can hold a lock file that does not exist; do not create one
        return False
    probe = SingleInstanceLock(path)
    try:
        probe.acquire()
    except ClinicDeskError:
        return True
    probe.release()
    return False
