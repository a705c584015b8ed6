"""Single-instance lock: refused while held elsewhere, free after release or the holder's death."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.lock import SingleInstanceLock, is_locked_by_other

REPO = Path(__file__).resolve().parents[2]

# Exit 0 if the lock was taken, 3 if it is held by someone else.
TRY_LOCK = """
import sys
from pathlib import Path
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.lock import SingleInstanceLock
try:
    SingleInstanceLock(Path(sys.argv[1])).acquire()
except ClinicDeskError as exc:
    sys.exit(3 if exc.code is ErrorCode.ENGINE_ALREADY_RUNNING else 4)
"""

# Take the lock, say so, then wait to be killed.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from app.infra.lock import SingleInstanceLock
lock = SingleInstanceLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def _try_in_child(path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(path)], cwd=REPO, timeout=60, check=False
    )
    return done.returncode


def test_second_process_is_refused_while_held(tmp_path: Path) -> None:
    path = tmp_path / "engine.lock"
    with SingleInstanceLock(path) as lock:
        assert lock.is_held
        assert _try_in_child(path) == 3
    assert _try_in_child(path) == 0


def test_second_lock_in_same_process_raises_with_code(tmp_path: Path) -> None:
    path = tmp_path / "run" / "engine.lock"  # parent created on demand
    first = SingleInstanceLock(path)
    first.acquire()
    try:
        with pytest.raises(ClinicDeskError) as caught:
            SingleInstanceLock(path).acquire()
        assert caught.value.code is ErrorCode.ENGINE_ALREADY_RUNNING
        assert caught.value.params == {"path": str(path)}
        assert is_locked_by_other(path)
    finally:
        first.release()
    assert not first.is_held
    assert not is_locked_by_other(path)
    first.release()  # releasing twice is harmless


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_lock_is_freed_when_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "engine.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        assert is_locked_by_other(path)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert holder.returncode == -signal.SIGKILL
    assert path.exists()  # the file stays; only the OS lock on it is gone
    with SingleInstanceLock(path) as lock:
        assert lock.is_held
