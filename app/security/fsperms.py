"""Filesystem rules for secrets: private permissions, no overwriting, no network shares.

On POSIX "private" means no permission bits for group or others. On Windows the ACLs are not
inspected here: the machine key there is a DPAPI blob that only this user on this PC can open, so
a readable keystore file does not by itself give the key away (see docs/SECURITY.md, "Keys").
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from app.infra.atomic import atomic_write_bytes, fsync_dir

if TYPE_CHECKING:  # protectors imports this module; the type is only needed for annotations
    from app.config import DataDir
    from app.security.protectors import MachineProtector

PROC_MOUNTS = Path("/proc/mounts")

# Filesystem types whose locking and durability SQLite cannot rely on (SQLite FAQ, "How To
# Corrupt": network filesystems with broken or emulated locks).
NETWORK_FS_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "ceph",
        "glusterfs",
        "davfs",
        "sshfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.rclone",
        "fuse.s3fs",
    }
)

_MOUNT_ESCAPE = re.compile(r"\\([0-7]{3})")
_DRIVE_REMOTE = 4  # GetDriveTypeW result for a mapped network drive


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed and leave it readable by its owner only (POSIX)."""
    # mode= avoids a moment where a new leaf is open to others; chmod fixes an existing one and
    # undoes an unusual umask that stripped the owner's own bits.
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "nt":
        path.chmod(0o700)


def is_private(path: Path) -> bool:
    """True when no group or other permission bit is set on ``path`` (which must exist).

    Windows: always True. ACLs are not checked (documented limit); DPAPI protects the key there.
    """
    if os.name == "nt":
        return True
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def readable_by_others(path: Path) -> bool:
    """True when ``path`` exists and is not private; a missing path exposes nothing."""
    try:
        return not is_private(path)
    except FileNotFoundError:
        return False


def storage_problems(data_dir: DataDir, machine: MachineProtector) -> list[str]:
    """Stable codes for key material others could read; ``[]`` when everything is private."""
    checks = (
        (data_dir.root, "data_dir_readable_by_others"),
        (data_dir.keystore, "keystore_readable_by_others"),
        (data_dir.keystore_backup, "keystore_backup_readable_by_others"),
    )
    problems = [code for path, code in checks if readable_by_others(path)]
    return problems + machine.storage_problems()


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` holding ``data``; raise FileExistsError instead of replacing a file.

    The content is written completely under a temporary name first (atomic_write_bytes), so a
    crash never leaves a torn file at ``path``. It is then hard-linked into place: a link refuses
    an existing target atomically, so two writers cannot overwrite each other's secret.
    """
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
    atomic_write_bytes(staging, data, mode)
    try:
        _link_into_place(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _link_into_place(staging: Path, path: Path) -> None:
    try:
        path.hardlink_to(staging)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (FAT/exFAT USB sticks, some shares). Check, then rename: Windows'
        # rename refuses an existing target; on POSIX a tiny race window remains.
        if path.exists():
            raise FileExistsError(path) from None
        staging.rename(path)


def is_network_path(path: Path, *, mounts: Path = PROC_MOUNTS) -> bool:
    """True when ``path`` is on a network share: a UNC path or a mapped network drive on
    Windows, an nfs/cifs/smb/sshfs (etc.) mount on Linux. Best effort: False when unknown.

    ``mounts`` is the mount table to read (``/proc/mounts``; tests pass their own file).
    """
    if sys.platform == "win32":
        return _is_unc_path(str(path)) or _is_remote_drive(path)
    try:
        table = parse_mounts(mounts.read_text(encoding="utf-8", errors="replace"))
    except OSError:  # no /proc (macOS, BSD): we cannot tell
        return False
    return mount_fstype(path.resolve(), table) in NETWORK_FS_TYPES


def parse_mounts(text: str) -> list[tuple[PurePosixPath, str]]:
    """(mount point, filesystem type) pairs from a ``/proc/mounts`` text."""
    table = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            table.append((PurePosixPath(_unescape_mount(fields[1])), fields[2]))
    return table


def mount_fstype(path: Path | PurePosixPath, table: list[tuple[PurePosixPath, str]]) -> str:
    """The filesystem type of the longest mount point containing ``path`` ("" when none)."""
    target = PurePosixPath(path)
    matches = [(len(mp.parts), fstype) for mp, fstype in table if target.is_relative_to(mp)]
    # max() on the part count picks the innermost mount; later lines win ties (over-mounts).
    return max(reversed(matches), key=lambda m: m[0], default=(0, ""))[1]


def _unescape_mount(field: str) -> str:
    """Undo the kernel's octal escapes (``\\040`` = space) in a mount point."""
    return _MOUNT_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def _is_unc_path(text: str) -> bool:
    """True for ``\\\\server\\share`` and ``\\\\?\\UNC\\server\\share``, not ``\\\\?\\C:\\``."""
    normalised = text.replace("/", "\\")
    if normalised.upper().startswith(("\\\\?\\", "\\\\.\\")):
        return normalised[4:].upper().startswith("UNC\\")
    return normalised.startswith("\\\\")


def _is_remote_drive(path: Path) -> bool:
    """True when a drive letter is a mapped network drive (Windows only)."""
    if sys.platform != "win32":
        return False
    import ctypes

    drive = path.resolve().drive
    return bool(drive) and ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == _DRIVE_REMOTE
