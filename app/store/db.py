"""Opening the SQLCipher database: engine factory, file checks and connection settings.

Every connection is keyed with a raw 32-byte key (``PRAGMA key = "x'…'"``, no KDF) before any
other statement, and the key is checked by a read of ``sqlite_master`` before anything else
runs. A file is never created by :func:`open_database` and never overwritten by
:func:`create_database`. See docs STACK_NOTES §5 and RELIABILITY_SECURITY §1.2 point 5.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import URL, Connection, Engine, create_engine, event, exc

from app.domain.errors import ClinicDeskError, ErrorCode

KEY_BYTES = 32
PLAINTEXT_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000

# Applied after the key check, in this order; each one is set explicitly (never left to a
# build default). synchronous=FULL: a commit acknowledged to a sender must survive power loss.
_SETTINGS = (
    ("foreign_keys", "ON"),
    ("journal_mode", "WAL"),
    ("synchronous", "FULL"),
    ("secure_delete", "ON"),
    ("temp_store", "MEMORY"),
    ("busy_timeout", str(BUSY_TIMEOUT_MS)),
)

# SQLCipher settings (pragma, value) a file was written with, where not the defaults.
Cipher = tuple[tuple[str, str], ...]
# The stores' own: SQLCipher 4's defaults (the connections leave them as they are). A restore
# sets them on the file it makes from a backup's snapshot, which uses others.
STORE_CIPHER: Cipher = (("cipher_page_size", "4096"), ("cipher_hmac_algorithm", "HMAC_SHA512"))

# What `clinicdesk status` shows; each is a PRAGMA that returns one value.
_REPORTED_PRAGMAS = (
    "cipher_version",
    "cipher_provider",
    "cipher_provider_version",
    "cipher_memory_security",
    "journal_mode",
    "synchronous",
    "foreign_keys",
    "secure_delete",
    "temp_store",
    "busy_timeout",
)

# How each engine keys its connections, so a backup target can be keyed the same way without
# the key being stored anywhere else (the closure is the one the connect hook already holds).
_KEYING: weakref.WeakKeyDictionary[Engine, Callable[[Any], None]] = weakref.WeakKeyDictionary()


def create_database(path: Path, key: bytes) -> Engine:
    """Create a NEW encrypted database at ``path`` and return its engine.

    Refuses with ``DATA_DIR_ALREADY_INITIALISED`` if the file or its ``-wal``/``-shm``
    companions exist; nothing existing is ever opened or written. The file is created
    owner-only (0600), and SQLite gives the WAL and shared-memory files the same mode.
    """
    _check_key(key)
    _refuse_existing(path)
    _create_private_file(path)
    try:
        return _probed_engine(path, key, mode="rwc")
    except BaseException:
        _remove_file_set(path)  # all of it is ours: nothing existed before the check
        raise


def open_database(path: Path, key: bytes, *, cipher: Cipher = ()) -> Engine:
    """Open an EXISTING encrypted database and return its engine; never creates a file.

    ``STORE_MISSING`` if the file is absent, ``STORE_NOT_ENCRYPTED`` if it is a plaintext
    SQLite file (there is no fallback to plaintext), ``STORE_WRONG_KEY`` if the key does not
    open it or it is not a database. All checks happen before anything is written.
    ``cipher``: SQLCipher settings the file was written with, where they differ from the
    defaults (a backup's snapshot: :data:`app.backup.snapshot.SNAPSHOT_CIPHER`).
    """
    _check_key(key)
    _check_existing_file(path)
    return _probed_engine(path, key, mode="rw", cipher=cipher)


def verify_connection(conn: Connection) -> dict[str, str]:
    """The cipher and safety settings of ``conn``, for start-up checks and ``status``.

    Raises ``STORE_NO_SQLCIPHER`` when ``cipher_version`` is empty: the driver is plain SQLite
    and the file would not be encrypted.
    """
    info = {name: _pragma_value(conn, name) for name in _REPORTED_PRAGMAS}
    if not info["cipher_version"]:
        raise ClinicDeskError(ErrorCode.STORE_NO_SQLCIPHER)
    info["sqlite_version"] = str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())
    return info


def companions(path: Path) -> tuple[Path, Path, Path]:
    """The database file and its WAL and shared-memory files."""
    return (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def _pragma_value(conn: Connection, name: str) -> str:
    value = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
    return "" if value is None else str(value)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="key", expected_bytes=KEY_BYTES)


def _refuse_existing(path: Path) -> None:
    for file in companions(path):
        if file.exists():
            raise ClinicDeskError(ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(file))


def _create_private_file(path: Path) -> None:
    # O_EXCL closes the race between the existence check and SQLite's own create.
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise ClinicDeskError(ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(path)) from None
    os.close(fd)


def _remove_file_set(path: Path) -> None:
    for file in companions(path):
        file.unlink(missing_ok=True)


def _check_existing_file(path: Path) -> None:
    if not path.is_file():
        raise ClinicDeskError(ErrorCode.STORE_MISSING, path=str(path))
    with path.open("rb") as fh:
        header = fh.read(len(PLAINTEXT_HEADER))
    if header == PLAINTEXT_HEADER:
        raise ClinicDeskError(ErrorCode.STORE_NOT_ENCRYPTED, path=str(path))
    if len(header) < len(PLAINTEXT_HEADER):
        # An empty file would "open" with any key and then be written to as a new database.
        raise ClinicDeskError(ErrorCode.STORE_WRONG_KEY, path=str(path), reason="too_short")


def _probed_engine(path: Path, key: bytes, *, mode: str, cipher: Cipher = ()) -> Engine:
    """An engine whose first connection has been made (so key and settings are checked)."""
    engine = make_engine(path, key, mode=mode, cipher=cipher)
    try:
        with _wrong_key_as_error(path), engine.connect() as conn:
            verify_connection(conn)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextlib.contextmanager
def _wrong_key_as_error(path: Path) -> Iterator[None]:
    # SQLCipher accepts any key and fails on the first read with "file is not a database"
    # (SQLITE_NOTADB); that read is the sqlite_master probe in the connect hook.
    try:
        yield
    except exc.DatabaseError as err:
        if "not a database" not in str(err.orig):
            raise
        raise ClinicDeskError(ErrorCode.STORE_WRONG_KEY, path=str(path)) from None


def make_engine(path: Path, key: bytes, *, mode: str = "rw", cipher: Cipher = ()) -> Engine:
    """An engine on ``path`` (SQLite URI ``mode``) whose every connection is keyed and set up.

    The pysqlite dialect with the sqlcipher3 DBAPI gives a QueuePool, and the key stays out of
    the URL. Does not connect; prefer :func:`open_database` / :func:`create_database`.
    """
    _check_key(key)
    engine = create_engine(_sqlite_url(path, mode), module=sqlcipher3)
    hex_key = bytes(key).hex()  # built from bytes, never from user text

    def keying(dbapi_conn: Any) -> None:
        _configure_connection(dbapi_conn, hex_key, cipher)

    # insert=True: keying must precede the dialect's own connect handlers (they run SQL).
    @event.listens_for(engine, "connect", insert=True)
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        keying(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # The driver's legacy transaction control is off (see _configure_connection), so
        # SQLAlchemy emits BEGIN itself: SAVEPOINTs then nest and DDL is transactional.
        conn.exec_driver_sql("BEGIN")

    _KEYING[engine] = keying
    return engine


def connect_like(engine: Engine, path: Path) -> Any:
    """A raw sqlcipher3 connection to the EXISTING file ``path``, keyed and set up like
    ``engine``'s connections (same key). Used as the target of an online backup."""
    dbapi_conn = sqlcipher3.connect(_sqlite_uri(path, "rw"), uri=True)
    try:
        _KEYING[engine](dbapi_conn)
    except BaseException:
        dbapi_conn.close()
        raise
    return dbapi_conn


def _sqlite_url(path: Path, mode: str) -> URL:
    # URL.create, not a string: SQLAlchemy would percent-decode a string URL's path.
    return URL.create(
        "sqlite", database=_sqlite_uri(path, None), query={"mode": mode, "uri": "true"}
    )


def _sqlite_uri(path: Path, mode: str | None) -> str:
    """A SQLite ``file:`` URI; ``%``, ``?`` and ``#`` in the path are escaped (else a ``?`` in a
    folder name would silently open a different file)."""
    text = path.absolute().as_posix()
    for char, escaped in (("%", "%25"), ("?", "%3f"), ("#", "%23")):
        text = text.replace(char, escaped)
    return f"file:{text}" + (f"?mode={mode}" if mode else "")


def _configure_connection(dbapi_conn: Any, hex_key: str, cipher: Cipher = ()) -> None:
    """Key the connection, prove the key with a read, then apply the safety settings."""
    dbapi_conn.isolation_level = None  # no implicit BEGIN/COMMIT from the driver
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA key = \"x'{hex_key}'\"")
        cursor.execute("PRAGMA cipher_log_level = NONE")  # no hmac noise on stderr
        for name, value in cipher:  # names and values are constants of this program
            cursor.execute(f"PRAGMA {name} = {value}")
        # OFF on purpose (DECISIONS.md #22): wiping every SQLCipher allocation made indexed
        # inserts ~10x slower, while the same plaintext lives unwiped in Python objects anyway.
        # Set explicitly because SQLCipher's default changed between releases.
        cursor.execute("PRAGMA cipher_memory_security = OFF")
        cursor.execute("SELECT count(*) FROM sqlite_master").fetchall()
        for name, value in _SETTINGS:
            cursor.execute(f"PRAGMA {name} = {value}").fetchall()
    finally:
        cursor.close()
