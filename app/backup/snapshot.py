"""Making the content of an archive: a consistent, re-keyed copy of the live database, the media
blobs, the channels' private folders and a manifest, streamed as a tar into a sealed archive.

The database copy is ``ATTACH … KEY`` + ``sqlcipher_export`` on a connection of its own (not a
reader of the store's pool, never the writer), inside ONE read transaction that also counts the
rows of every table (virtual tables excepted) and reads the audit-chain head: in WAL mode the
writer keeps committing while this transaction sees one fixed state, so counts, head and copy
agree with each other.
Everything here blocks: callers run it in a thread. The backup runs the export on a thread of
its own while it writes the media into the archive (two cores: the export is SQLite and
SQLCipher in C, the archive hashing, sealing and writing), then adds the database last.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.channels.transports.wa_store import LIVE_DIR
from app.config import DataDir
from app.store.db import Cipher

log = logging.getLogger(__name__)

DB_PART = "db/clinicdesk.db"
KEYS_PART = "keys.json"
MEDIA_KEY = "media_key"  # names inside keys.json
DEVICE_ROOT = "device_root"
MANIFEST = "manifest.json"
MEDIA_DIR = "media/"  # every media part's name starts so
MANIFEST_FORMAT = "clinicdesk-backup-manifest"
COPY_BUFFER = 1 << 20
Progress = Callable[[str], None]

# The snapshot's own SQLCipher settings (recorded in the manifest; archives without the entry
# used SQLCipher's defaults, 4 KiB pages and HMAC-SHA512). A staging file that only this
# program reads: HMAC-SHA256 (SHA-NI) and 16 KiB pages made the export ~30% faster, 64 KiB
# pages ~10% more (each page written costs a system call and a random IV, whatever its size),
# with the same page authentication (cipher_integrity_check) and AES-256 (docs/PERFORMANCE.md,
# issue 7). Archives made with other settings say so in their manifest and still open.
SNAPSHOT_CIPHER: Cipher = (("cipher_page_size", "65536"), ("cipher_hmac_algorithm", "HMAC_SHA256"))
_PAGE_SIZES = {str(1 << n) for n in range(9, 17)}
_HMACS = {"HMAC_SHA1", "HMAC_SHA256", "HMAC_SHA512"}
# The export reads every page twice (row counts, then the copy): a cache keeps the second read
# from decrypting again, up to this size.
EXPORT_CACHE_KIB = 64 << 10


@dataclass
class DbSnapshot:
    """What the read transaction saw: row counts per table, audit head, schema revision."""

    counts: dict[str, int]
    audit_head: dict[str, object]
    schema_revision: str | None


def user_tables(conn: Any, *, virtual: bool = False) -> list[str]:
    """Every table whose rows are counted, sorted: SQLite's own tables excluded, and virtual
    tables too unless ``virtual`` (an external-content FTS table's rows are its content
    table's: counting it read every message again, 0.37 s of a 1 GB export; its shadow tables,
    which hold the index, are counted)."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    is_virtual = [str(sql or "").upper().startswith("CREATE VIRTUAL TABLE") for _n, sql in rows]
    return [str(row[0]) for row, v in zip(rows, is_virtual, strict=True) if virtual or not v]


def count_rows(conn: Any, names: Iterable[str] | None = None) -> dict[str, int]:
    """Row count per table: ``names``, or every :func:`user_tables` table (names are quoted as
    identifiers)."""
    counts = {}
    for name in sorted(user_tables(conn) if names is None else names):
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


def snapshot_cipher(manifest: dict[str, Any]) -> Cipher:
    """The SQLCipher settings of the archive's snapshot (() for the defaults: older archives).

    Only known settings with valid values pass (they become PRAGMAs): anything else is a
    ``ValueError``."""
    recorded = manifest.get("snapshot_cipher", {})
    if not isinstance(recorded, dict) or set(recorded) - {
        "cipher_page_size",
        "cipher_hmac_algorithm",
    }:
        raise ValueError("snapshot_cipher")
    page, hmac = recorded.get("cipher_page_size"), recorded.get("cipher_hmac_algorithm")
    if (page is not None and str(page) not in _PAGE_SIZES) or (
        hmac is not None and hmac not in _HMACS
    ):
        raise ValueError("snapshot_cipher")
    return tuple((name, str(value)) for name, value in sorted(recorded.items()))


def export_database(
    conn: Any, target: Path, db_key: bytes, read_open: Callable[[], None] = lambda: None
) -> DbSnapshot:
    """Copy the database open on ``conn`` into the NEW file ``target`` keyed with ``db_key``,
    in one read transaction together with counts, audit head and revision.

    ``read_open`` is called as soon as that read transaction sees its fixed state (the backup
    lists the media files only after it: every blob the copy refers to is then on disk).
    The key goes in as a bound parameter built from bytes (never from user text).
    """
    conn.execute("ATTACH DATABASE ? AS snap KEY ?", (str(target), f"x'{db_key.hex()}'"))
    try:
        # A staging file, archived then deleted: SQLite's own fsyncs of it (and a rollback
        # journal) only cost time, and that fsync of the whole file held the live store's
        # commits ~100 ms. The archive it goes into is fsynced (targets.partial_file).
        conn.execute("PRAGMA snap.synchronous = OFF")
        conn.execute("PRAGMA snap.journal_mode = OFF")
        for name, value in SNAPSHOT_CIPHER:
            conn.execute(f"PRAGMA snap.{name} = {value}")
        conn.execute(f"PRAGMA main.cache_size = -{EXPORT_CACHE_KIB}")
        return _export_in_one_read(conn, read_open)
    finally:
        conn.execute("DETACH DATABASE snap")


def _export_in_one_read(conn: Any, read_open: Callable[[], None]) -> DbSnapshot:
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT count(*) FROM main.sqlite_master").fetchall()  # the read begins
        read_open()
        snap = DbSnapshot(count_rows(conn), audit_head(conn), schema_revision(conn))
        conn.execute("SELECT sqlcipher_export('snap')").fetchall()
        conn.execute("COMMIT")  # ends the read; DETACH is refused inside a transaction
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return snap


@dataclass
class DatabasePart:
    """The exported database file, its manifest, and its SHA-256 (a callable: the backup
    hashes the file on the export's thread while this one copies it into the archive)."""

    path: Path
    manifest: dict[str, object]
    sha256: Callable[[], str]


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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

    def add_hashed(self, part: DatabasePart) -> None:
        """Add the database file, whose hash another thread computes (:class:`DatabasePart`)."""
        with part.path.open("rb") as fh:
            size = part.path.stat().st_size
            self.tar.addfile(_info(DB_PART, size), fh)
        self.parts[DB_PART] = {"sha256": part.sha256(), "size": size}

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
            yield f"{MEDIA_DIR}{path.parent.name}/{path.name}", path


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


def write_content(
    out: Any,  # any object with write() and tell(): a file, or the sealing writer
    data_dir: DataDir,
    keys: dict[str, bytes],
    database: Callable[[], DatabasePart],
    progress: Progress,
) -> dict[str, dict[str, object]]:
    """Stream the tar into ``out``: keys, media, channels, then the database file and the
    manifest that ``database()`` returns (it may wait for an export running alongside), the
    manifest last. Returns the parts."""
    # Mode "w" writes each block straight to ``out`` (the stream mode "w|" joined and sliced
    # bytes objects: three more copies of every byte). 1 MiB blocks (tarfile's default is
    # 16 KiB): ~100x fewer Python-level writes.
    with tarfile.open(  # type: ignore[call-overload]  # copybufsize is passed on to TarFile
        fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BUFFER
    ) as tar:  # fmt: skip
        content = ArchiveContent(tar, progress)
        encoded = {name: base64.b64encode(key).decode("ascii") for name, key in keys.items()}
        content.add_bytes(KEYS_PART, json.dumps(encoded).encode())
        progress("media")
        for name, path in media_files(data_dir):
            content.add_file(name, path)
        progress("channels")
        for name, path in channel_files(data_dir):
            _add_small(content, name, path)
        part = database()
        progress("database")
        content.add_hashed(part)
        content.add_manifest(part.manifest)
    return content.parts


def _add_small(content: ArchiveContent, name: str, path: Path) -> None:
    # Read whole first: a worker may rewrite its device store while we copy, and tar needs the
    # exact size up front.
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    content.add_bytes(name, data)
