"""Opening and verifying an archive: decrypt, check every hash, open the database copy with the
archive's key, run both integrity checks, compare counts with the manifest and walk the audit
chain up to the manifest's head. Blocking; the engine runs it in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import sqlcipher3

from app.backup.archive import Header, OpeningReader, invalid, read_header
from app.backup.snapshot import (
    DB_PART,
    DEVICE_ROOT,
    KEYS_PART,
    MANIFEST,
    MANIFEST_FORMAT,
    MEDIA_DIR,
    MEDIA_KEY,
    Progress,
    count_rows,
    snapshot_cipher,
    user_tables,
)
from app.domain.audit import Anchor, verify_chain
from app.domain.errors import ClinicDeskError, ErrorCode
from app.store.db import Cipher, open_database
from app.store.repositories import AuditRepository

COPY_BUFFER = 1 << 20
# integrity_check looks every index entry up in its table: each page SQLite's cache drops is
# decrypted again. The cache is sized to hold the whole copy, up to this (a nightly job's
# memory for a few seconds): at 1 GB (350 MB database) 64 MiB took 16.9 s, 512 MiB 6.1 s.
VERIFY_CACHE_MAX_KIB = 512 << 10


@dataclass
class Opened:
    """An archive decrypted into ``folder`` and fully verified."""

    folder: Path
    header: Header
    manifest: dict[str, Any]
    db_key: bytes
    media_kept: bool = True  # False: the media were hashed, not written (a verify only)

    @property
    def db(self) -> Path:
        return self.folder / DB_PART

    @property
    def cipher(self) -> Cipher:
        """The SQLCipher settings the database copy was written with (checked by verify)."""
        return snapshot_cipher(self.manifest)

    def media_key(self) -> bytes:
        """The media key of the installation that made the archive (to re-encrypt blobs)."""
        key = self._key(MEDIA_KEY)
        assert key is not None  # every archive has one (checked by verify)
        return key

    def device_root(self) -> bytes | None:
        """The device-store root key of that installation (None in archives made before
        whatsapp-web channels were sealed): a restore re-seals device stores with it."""
        return self._key(DEVICE_ROOT)

    def _key(self, name: str) -> bytes | None:
        keys = json.loads((self.folder / KEYS_PART).read_text("utf-8"))
        return base64.b64decode(keys[name]) if name in keys else None

    def report(self) -> dict[str, object]:
        """What ``backup verify`` prints (no secrets)."""
        m = self.manifest
        return {
            "ok": True,
            "created_at": m["created_at"],
            "app_version": m["app_version"],
            "schema_revision": m["schema_revision"],
            "tables": len(m["counts"]),
            "rows": sum(m["counts"].values()),
            "parts": len(m["parts"]) + 1,
            "audit_head_seq": m["audit_head"]["seq"],
        }


def failed(reason: str, **params: object) -> ClinicDeskError:
    """BACKUP_VERIFY_FAILED with a stable ``reason``."""
    return ClinicDeskError(ErrorCode.BACKUP_VERIFY_FAILED, reason=reason, **params)


def open_archive(
    fh: IO[bytes], header: Header, backup_key: bytes, folder: Path, progress: Progress,
    *, keep_media: bool = True,
) -> Opened:  # fmt: skip
    """Decrypt the archive ``fh`` (its header already read) into the empty private ``folder``
    and verify everything; raises BACKUP_ARCHIVE_INVALID / BACKUP_VERIFY_FAILED with a reason.
    Without ``keep_media`` the media are hashed but not written (a verify needs no more)."""
    stream_key_check, db_key = header.keys(backup_key)
    del stream_key_check
    reader = OpeningReader(fh, header, backup_key)
    progress("decrypting")
    hashes, manifest = _extract(reader, folder, keep_media)
    reader.drain()
    _check_parts(hashes, manifest)
    progress("checking database")
    _check_database(folder / DB_PART, db_key, manifest)
    return Opened(folder, header, manifest, db_key, keep_media)


def open_file(
    path: Path, backup_key: bytes, folder: Path, progress: Progress, *, keep_media: bool = True
) -> Opened:
    """:func:`open_archive` on the file at ``path``."""
    with path.open("rb") as fh:
        return open_archive(
            fh, read_header(fh), backup_key, folder, progress, keep_media=keep_media
        )


def _extract(
    reader: OpeningReader, folder: Path, keep_media: bool
) -> tuple[dict[str, str], dict[str, Any]]:
    hashes: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=COPY_BUFFER) as tar:  # type: ignore[call-overload]
            for member in tar:
                if manifest is not None:
                    raise invalid("after_manifest")
                data = tar.extractfile(member) if member.isfile() else None
                if data is None:
                    raise invalid("bad_member")
                if member.name in hashes:
                    raise invalid("bad_member")  # the same part twice
                if member.name == MANIFEST:
                    manifest = _parse_manifest(data.read())
                else:
                    keep = keep_media or not member.name.startswith(MEDIA_DIR)
                    hashes[member.name] = _take_member(data, folder, member.name, keep=keep)
    except tarfile.TarError:
        raise invalid("bad_tar") from None
    if manifest is None:
        raise invalid("no_manifest")
    return hashes, manifest


def _safe_path(folder: Path, name: str) -> Path:
    """Where member ``name`` goes; refuses absolute paths and ``..`` (no escape from folder)."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise invalid("bad_member")
    return folder.joinpath(*pure.parts)


def _take_member(data: IO[bytes], folder: Path, name: str, *, keep: bool) -> str:
    """Hash member ``name`` and, if ``keep``, write it under ``folder`` (a new file: a
    duplicate name fails); its name is checked either way."""
    target = _safe_path(folder, name)
    if not keep:
        return _copy_hashing(data, None)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(target, "xb") as out:  # noqa: PTH123 - exclusive create: a duplicate name fails
        digest = _copy_hashing(data, out)
    target.chmod(0o600)
    return digest


def _copy_hashing(data: IO[bytes], out: IO[bytes] | None) -> str:
    sha = hashlib.sha256()
    while chunk := data.read(COPY_BUFFER):
        sha.update(chunk)
        if out is not None:
            out.write(chunk)
    return sha.hexdigest()


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
        if manifest["format"] != MANIFEST_FORMAT or not isinstance(manifest["parts"], dict):
            raise ValueError("format")
        for key in ("counts", "audit_head", "created_at", "app_version", "schema_revision"):
            manifest[key]
        snapshot_cipher(manifest)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise invalid("manifest") from None
    return dict(manifest)


def _check_parts(hashes: dict[str, str], manifest: dict[str, Any]) -> None:
    parts = {name: str(part["sha256"]) for name, part in manifest["parts"].items()}
    if set(parts) != set(hashes):
        raise failed("parts_differ", missing=len(set(parts) - set(hashes)))
    for name, sha in parts.items():
        if hashes[name] != sha:
            raise failed("hash_mismatch", part=name)
    if DB_PART not in parts or KEYS_PART not in parts:
        raise failed("parts_differ", missing=1)


def _check_database(path: Path, db_key: bytes, manifest: dict[str, Any]) -> None:
    cipher = snapshot_cipher(manifest)
    conn = _connect(path, db_key, cipher)
    try:
        _pragma_ok(conn)
        if not _counts_match(conn, manifest["counts"]):
            raise failed("counts_differ")
    finally:
        conn.close()
    _check_audit(path, db_key, manifest["audit_head"], cipher)


def _counts_match(conn: Any, expected: dict[str, int]) -> bool:
    """The copy has the manifest's row counts: every table it names (older archives also
    named the FTS tables themselves) and no counted table it does not name."""
    if not set(user_tables(conn)) <= set(expected) <= set(user_tables(conn, virtual=True)):
        return False
    return count_rows(conn, expected) == expected


def verify_cache_kib(path: Path) -> int:
    """SQLite cache for checking the copy at ``path``: the whole file (and a margin), at most
    :data:`VERIFY_CACHE_MAX_KIB`, at least SQLite's default 2 MiB."""
    return max(2 << 10, min(VERIFY_CACHE_MAX_KIB, (path.stat().st_size >> 10) * 9 // 8))


def _connect(path: Path, db_key: bytes, cipher: Cipher) -> Any:
    conn = sqlcipher3.connect(f"file:{path.as_posix()}?mode=ro", uri=True)
    conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
    conn.execute("PRAGMA cipher_log_level = NONE")
    for name, value in cipher:  # checked against known settings by snapshot_cipher
        conn.execute(f"PRAGMA {name} = {value}")
    conn.execute(f"PRAGMA cache_size = -{verify_cache_kib(path)}")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlcipher3.DatabaseError:
        conn.close()
        raise ClinicDeskError(ErrorCode.BACKUP_WRONG_KEY, reason="database") from None
    return conn


def _pragma_ok(conn: Any) -> None:
    cipher = conn.execute("PRAGMA cipher_integrity_check").fetchall()
    if cipher:
        raise failed("cipher_integrity", pages=len(cipher))
    plain = conn.execute("PRAGMA integrity_check").fetchall()
    if [tuple(row) for row in plain] != [("ok",)]:
        raise failed("integrity")


def _check_audit(path: Path, db_key: bytes, head: dict[str, Any], cipher: Cipher) -> None:
    """The chain verifies, and ends exactly at the manifest's head."""
    engine = open_database(path, db_key, cipher=cipher)
    try:
        with engine.connect() as conn:
            anchor = Anchor(int(head["seq"]), str(head["hash"])) if head["seq"] else None
            result = verify_chain(AuditRepository(conn).iter_rows(), anchor)
    finally:
        engine.dispose()
    if not result.ok or result.head_seq != head["seq"]:
        raise failed("audit_chain", seq=result.first_bad_seq or result.head_seq)
