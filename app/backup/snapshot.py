"""Making the content of an archive: a consistent, re-keyed copy of the live database, the media
blobs, the channels' private folders and a manifest, streamed as a tar into a sealed archive.

The database copy is ``ATTACH … KEY`` + ``sqlcipher_export`` on a connection of its own (not a
reader of the store's pool, never the writer), inside ONE read transaction that also counts the
rows of every table and reads the audit-chain head: in WAL mode the writer keeps committing while
this transaction sees one fixed state, so counts, head and copy agree with each other.
Everything here blocks: callers run it in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.channels.transports.wa_store import LIVE_DIR
from app.config import DataDir

log = logging.getLogger(__name__)

DB_PART = "db/clinicdesk.db"
KEYS_PART = "keys.json"
MEDIA_KEY = "media_key"  # names inside keys.json
DEVICE_ROOT = "device_root"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "clinicdesk-backup-manifest"
COPY_BUFFER = 1 << 20
Progress = Callable[[str], None]


@dataclass
class DbSnapshot:
    """What the read transaction saw: row counts per table, audit head, schema revision."""

    counts: dict[str, int]
    audit_head: dict[str, object]
    schema_revision: str | None


def user_tables(conn: Any) -> list[str]:
    """Every table whose rows are counted (SQLite's own tables excluded), sorted."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    return [str(row[0]) for row in rows]


def count_rows(conn: Any) -> dict[str, int]:
    """Row count per table (names come from sqlite_master, quoted as identifiers)."""
    counts = {}
    for name in user_tables(conn):
        quoted = '"' + name.replace('"', '""') + '"'
        counts[name] = int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])  # noqa: S608
    return counts


def audit_head(conn: Any) -> dict[str, object]:
    """``{"seq", "hash"}`` of the newest audit entry (seq 0 for an empty chain)."""
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return {"seq": int(row[0]), "hash": str(row[1])} if row else {"seq": 0, "hash": ""}


def schema_revision(conn: Any) -> str | None:
    """The Alembic revision stamped in the database."""
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def export_database(conn: Any, target: Path, db_key: bytes) -> DbSnapshot:
    """Copy the database open on ``conn`` into the NEW file ``target`` keyed with ``db_key``,
    in one read transaction together with counts, audit head and revision.

    The key goes in as a bound parameter built from bytes (never from user text).
    """
    conn.execute("ATTACH DATABASE ? AS snap KEY ?", (str(target), f"x'{db_key.hex()}'"))
    try:
        # A staging file, archived then deleted: SQLite's own fsyncs of it (and a rollback
        # journal) only cost time, and that fsync of the whole file held the live store's
        # commits ~100 ms. The archive it goes into is fsynced (targets.partial_file).
        conn.execute("PRAGMA snap.synchronous = OFF")
        conn.execute("PRAGMA snap.journal_mode = OFF")
        return _export_in_one_read(conn)
    finally:
        conn.execute("DETACH DATABASE snap")


def _export_in_one_read(conn: Any) -> DbSnapshot:
    conn.execute("BEGIN")
    try:
        snap = DbSnapshot(count_rows(conn), audit_head(conn), schema_revision(conn))
        conn.execute("SELECT sqlcipher_export('snap')").fetchall()
        conn.execute("COMMIT")  # ends the read; DETACH is refused inside a transaction
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return snap


class _Hashing:
    """A reader that hashes what passes through it (for the manifest)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh, self.sha = fh, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.sha.update(data)
        return data


@dataclass
class ArchiveContent:
    """Builds the tar stream and the manifest's list of parts as it goes."""

    tar: tarfile.TarFile
    progress: Progress
    parts: dict[str, dict[str, object]] = field(default_factory=dict)

    def add_file(self, name: str, path: Path) -> None:
        """Add ``path`` as ``name``, hashing it on the way (a file that vanished is skipped)."""
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            log.warning("backup: file vanished before copy", extra={"code": "backup.vanished"})
            return
        with fh:
            size = path.stat().st_size
            hashing = _Hashing(fh)
            self.tar.addfile(_info(name, size), hashing)  # type: ignore[arg-type,unused-ignore]
        self.parts[name] = {"sha256": hashing.sha.hexdigest(), "size": size}

    def add_bytes(self, name: str, data: bytes) -> None:
        """Add ``data`` as ``name`` (small parts read whole: channel files, keys)."""
        self.tar.addfile(_info(name, len(data)), io.BytesIO(data))
        self.parts[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def add_manifest(self, manifest: dict[str, object]) -> None:
        """The manifest, last: it names every part before it with its hash."""
        data = json.dumps({**manifest, "parts": self.parts}, sort_keys=True, indent=1).encode()
        self.tar.addfile(_info(MANIFEST, len(data)), io.BytesIO(data))


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, 0
    return info


def media_files(data_dir: DataDir) -> Iterator[tuple[str, Path]]:
    """``("media/ab/<sha>", path)`` for every blob (already encrypted: copied as-is)."""
    root = data_dir.media
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/*")):
        if path.is_file() and not path.name.startswith("."):
            yield f"media/{path.parent.name}/{path.name}", path


def channel_files(data_dir: DataDir) -> Iterator[tuple[str, Path]]:
    """``("channels/<key>/<file>", path)`` for every file in the channels' private folders,
    except a running whatsapp-web channel's plaintext device store (``live/``): only its sealed
    form may leave the machine (docs/SECURITY.md)."""
    root = data_dir.channels
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if LIVE_DIR in path.relative_to(root).parts[1:]:
            continue
        if path.is_file() and not path.name.startswith("."):
            yield "channels/" + path.relative_to(root).as_posix(), path


def write_content(  # noqa: PLR0917 - one call site, each argument distinct
    out: Any,  # any object with write(): a file, or the sealing writer
    data_dir: DataDir,
    snapshot_file: Path,
    keys: dict[str, bytes],
    manifest: dict[str, object],
    progress: Progress,
) -> dict[str, dict[str, object]]:
    """Stream the tar (db, keys, media, channels, manifest last) into ``out``; returns parts."""
    # 1 MiB blocks (tarfile's defaults are 10-16 KiB): ~100x fewer Python-level writes.
    with tarfile.open(  # type: ignore[call-overload]  # copybufsize is passed on to TarFile
        fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=COPY_BUFFER,
        copybufsize=COPY_BUFFER,
    ) as tar:  # fmt: skip
        content = ArchiveContent(tar, progress)
        progress("database")
        content.add_file(DB_PART, snapshot_file)
        encoded = {name: base64.b64encode(key).decode("ascii") for name, key in keys.items()}
        content.add_bytes(KEYS_PART, json.dumps(encoded).encode())
        progress("media")
        for name, path in media_files(data_dir):
            content.add_file(name, path)
        progress("channels")
        for name, path in channel_files(data_dir):
            _add_small(content, name, path)
        content.add_manifest(manifest)
    return content.parts


def _add_small(content: ArchiveContent, name: str, path: Path) -> None:
    # Read whole first: a worker may rewrite its device store while we copy, and tar needs the
    # exact size up front.
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    content.add_bytes(name, data)
