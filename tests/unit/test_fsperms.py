"""Private permissions, the storage-problem codes, no-overwrite writes, network-path detection."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

import pytest

from app.config import DataDir
from app.security.fsperms import (
    _is_unc_path,
    is_network_path,
    is_private,
    make_private_dir,
    mount_fstype,
    parse_mounts,
    readable_by_others,
    storage_problems,
    write_new_file,
)
from app.security.protectors import FileMachineProtector

POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits; Windows uses ACLs")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def installed(tmp_path: Path, key_dir: Path) -> tuple[DataDir, FileMachineProtector]:
    """A data dir with both keystore copies and a machine key, all private."""
    data_dir = DataDir(tmp_path / "data")
    make_private_dir(data_dir.root)
    for path in (data_dir.keystore, data_dir.keystore_backup):
        write_new_file(path, b"{}")
    machine = FileMachineProtector(key_dir)
    machine.wrap(bytes(32), b"aad")  # creates the key folder and one key file
    return data_dir, machine


# --- make_private_dir / is_private --------------------------------------------------------


@POSIX_ONLY
def test_make_private_dir_creates_parents_and_locks_the_leaf(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "keys"
    make_private_dir(path)
    assert path.is_dir()
    assert mode_of(path) == 0o700


@POSIX_ONLY
def test_make_private_dir_fixes_an_existing_open_dir(tmp_path: Path) -> None:
    path = tmp_path / "open"
    path.mkdir()
    path.chmod(0o755)
    make_private_dir(path)
    assert mode_of(path) == 0o700


@POSIX_ONLY
@pytest.mark.parametrize(
    ("mode", "private"),
    [(0o600, True), (0o400, True), (0o700, True), (0o640, False), (0o604, False), (0o620, False)],
)
def test_is_private_looks_at_group_and_other_bits(tmp_path: Path, mode: int, private: bool) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    path.chmod(mode)
    assert is_private(path) is private
    assert readable_by_others(path) is not private


def test_a_missing_path_is_not_readable_by_others(tmp_path: Path) -> None:
    assert readable_by_others(tmp_path / "nothing") is False


# --- storage_problems ---------------------------------------------------------------------


@POSIX_ONLY
def test_no_problems_when_everything_is_private(
    installed: tuple[DataDir, FileMachineProtector],
) -> None:
    assert storage_problems(*installed) == []


def test_missing_files_are_not_problems(tmp_path: Path, key_dir: Path) -> None:
    data_dir = DataDir(tmp_path / "never-created")
    assert storage_problems(data_dir, FileMachineProtector(key_dir)) == []


@POSIX_ONLY
@pytest.mark.parametrize(
    ("target", "mode", "code"),
    [
        ("root", 0o755, "data_dir_readable_by_others"),
        ("keystore", 0o644, "keystore_readable_by_others"),
        ("keystore_backup", 0o640, "keystore_backup_readable_by_others"),
        ("key_dir", 0o755, "machine_key_dir_readable_by_others"),
        ("key_file", 0o644, "machine_key_readable_by_others"),
    ],
)
def test_each_open_file_or_folder_is_reported(
    installed: tuple[DataDir, FileMachineProtector], target: str, mode: int, code: str
) -> None:
    data_dir, machine = installed
    paths = {
        "key_dir": machine.key_dir,
        "key_file": next(machine.key_dir.glob("*.key")),
    }
    path = paths.get(target) or getattr(data_dir, target)
    path.chmod(mode)
    assert storage_problems(data_dir, machine) == [code]


@POSIX_ONLY
def test_several_problems_are_all_reported(
    installed: tuple[DataDir, FileMachineProtector],
) -> None:
    data_dir, machine = installed
    for path in (data_dir.root, machine.key_dir):
        path.chmod(0o755)
    data_dir.keystore.chmod(0o644)
    assert storage_problems(data_dir, machine) == [
        "data_dir_readable_by_others",
        "keystore_readable_by_others",
        "machine_key_dir_readable_by_others",
    ]


# --- write_new_file -----------------------------------------------------------------------


def test_write_new_file_creates_and_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    write_new_file(path, b"first")
    with pytest.raises(FileExistsError):
        write_new_file(path, b"second")
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no staging file left behind


@POSIX_ONLY
def test_write_new_file_mode(tmp_path: Path) -> None:
    write_new_file(tmp_path / "a", b"x")
    write_new_file(tmp_path / "b", b"x", mode=0o640)
    assert (mode_of(tmp_path / "a"), mode_of(tmp_path / "b")) == (0o600, 0o640)


# --- network paths ------------------------------------------------------------------------


def test_a_temporary_directory_is_not_a_network_path(tmp_path: Path) -> None:
    assert is_network_path(tmp_path) is False
    assert is_network_path(tmp_path / "not" / "yet" / "created.db") is False


def _mounts_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "mounts"
    base = ["/dev/sda1 / ext4 rw,relatime 0 0", "proc /proc proc rw 0 0"]
    path.write_text("\n".join([*base, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.mark.skipif(os.name == "nt", reason="Linux mount tables")
@pytest.mark.parametrize(
    ("line", "network"),
    [
        ("server:/export {mp} nfs4 rw,vers=4.2 0 0", True),
        ("//nas/clinica {mp} cifs rw,vers=3.0 0 0", True),
        ("user@host:/srv {mp} fuse.sshfs rw 0 0", True),
        ("/dev/sdb1 {mp} ext4 rw 0 0", False),
        ("tmpfs {mp} tmpfs rw 0 0", False),
    ],
)
def test_a_mount_table_decides(tmp_path: Path, line: str, network: bool) -> None:
    mounted = tmp_path / "mnt"
    mounts = _mounts_file(tmp_path, line.format(mp=mounted.resolve()))
    assert is_network_path(mounted / "data" / "clinicdesk.db", mounts=mounts) is network
    assert is_network_path(tmp_path / "elsewhere", mounts=mounts) is False


@pytest.mark.skipif(os.name == "nt", reason="Linux mount tables")
def test_the_longest_mount_prefix_wins(tmp_path: Path) -> None:
    nfs, local = tmp_path / "share", tmp_path / "share" / "local"
    mounts = _mounts_file(
        tmp_path,
        f"server:/x {nfs.resolve()} nfs rw 0 0",
        f"/dev/sdc1 {local.resolve()} ext4 rw 0 0",
    )
    assert is_network_path(nfs / "db", mounts=mounts) is True
    assert is_network_path(local / "db", mounts=mounts) is False
    assert is_network_path(tmp_path / "share-other", mounts=mounts) is False  # not a prefix match


def test_no_mount_table_means_not_known_to_be_remote(tmp_path: Path) -> None:
    if os.name == "nt":
        pytest.skip("Windows does not read a mount table")
    assert is_network_path(tmp_path, mounts=tmp_path / "no-such-file") is False


def test_mount_points_with_escaped_spaces() -> None:
    table = parse_mounts("//nas/share /mnt/my\\040share cifs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n")
    assert table == [(PurePosixPath("/mnt/my share"), "cifs"), (PurePosixPath("/"), "ext4")]
    assert mount_fstype(PurePosixPath("/mnt/my share/db"), table) == "cifs"
    assert mount_fstype(PurePosixPath("/mnt/my"), table) == "ext4"


def test_an_over_mount_uses_the_last_line() -> None:
    table = parse_mounts("/dev/a /data ext4 rw 0 0\nsrv:/d /data nfs rw 0 0\n")
    assert mount_fstype(PurePosixPath("/data/x"), table) == "nfs"


@pytest.mark.parametrize(
    ("text", "unc"),
    [
        ("\\\\server\\share\\clinicdesk", True),
        ("//server/share/clinicdesk", True),
        ("\\\\?\\UNC\\server\\share", True),
        ("\\\\?\\C:\\ProgramData\\ClinicDesk", False),
        ("C:\\ProgramData\\ClinicDesk", False),
        ("/var/lib/clinicdesk", False),
    ],
)
def test_unc_paths(text: str, unc: bool) -> None:
    assert _is_unc_path(text) is unc
