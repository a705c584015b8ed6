"""The backup archive file: a header, then a stream of AES-256-GCM chunks.

Layout (see docs/BACKUP.md, "Format")::

    8 bytes   magic  b"CDBACKUP"
    4 bytes   header length n (big-endian)
    n bytes   header: UTF-8 JSON (format, version, backup_key_id, salt, chunk_size,
              created_at, recovery envelope of the backup key)
    chunks    AES-256-GCM(plaintext chunk), each chunk_size + 16 bytes except the last

The stream key is HKDF-SHA256(backup key, salt, "clinicdesk backup archive v1"); the salt is
fresh per archive, so every archive has its own key and deterministic nonces are safe. The
nonce of chunk ``i`` is ``i`` (8 bytes) + a final flag (1 byte) + 3 zero bytes, and every chunk
authenticates the SHA-256 of the magic, length and header as associated data. So a flipped
byte anywhere (header or chunk) fails authentication, a reordered or swapped chunk fails (its
index is in its nonce), and a file cut at a chunk boundary fails (the new last chunk was not
sealed as final): the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015). Memory
use is one chunk, whatever the archive's size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import queue
import secrets
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.domain.errors import ClinicDeskError, ErrorCode
from app.security.keystore import key_id_for

MAGIC = b"CDBACKUP"
FORMAT = "clinicdesk-backup"
VERSION = 1
SUFFIX = ".cdbk"
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 16 << 20
MAX_HEADER = 64 << 10
TAG = 16
SALT_BYTES = 16
ARCHIVE_INFO = b"clinicdesk backup archive v1"
DB_INFO = b"clinicdesk backup db v1"
_LEN = struct.Struct(">I")


def derive(backup_key: bytes, salt: bytes, info: bytes) -> bytes:
    """A 256-bit key for one purpose of one archive (HKDF-SHA256)."""
    return HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(backup_key)


def invalid(reason: str, **params: object) -> ClinicDeskError:
    """BACKUP_ARCHIVE_INVALID with a stable ``reason``."""
    return ClinicDeskError(ErrorCode.BACKUP_ARCHIVE_INVALID, reason=reason, **params)


@dataclass(frozen=True)
class Header:
    """The archive's clear-text header (nothing secret: the envelope needs the recovery key)."""

    backup_key_id: str
    salt: bytes
    created_at: str
    recovery_envelope: dict[str, str]
    chunk_size: int = CHUNK_SIZE
    app_version: str = ""
    raw: bytes = field(default=b"", compare=False)

    @classmethod
    def new(cls, backup_key: bytes, envelope: dict[str, str], created_at: str, app: str) -> Header:
        """A header for a new archive under ``backup_key`` (fresh salt)."""
        salt = secrets.token_bytes(SALT_BYTES)
        return cls(key_id_for(backup_key), salt, created_at, envelope, CHUNK_SIZE, app)

    def encode(self) -> bytes:
        """Magic, length and JSON: the bytes that start the file."""
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "backup_key_id": self.backup_key_id,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "chunk_size": self.chunk_size,
            "created_at": self.created_at,
            "app_version": self.app_version,
            "recovery_envelope": self.recovery_envelope,
        }
        body = json.dumps(doc, sort_keys=True).encode()
        return MAGIC + _LEN.pack(len(body)) + body

    def keys(self, backup_key: bytes) -> tuple[bytes, bytes]:
        """(stream key, snapshot database key) for this archive; BACKUP_WRONG_KEY if
        ``backup_key`` is not the one the archive was made with."""
        if not secrets.compare_digest(key_id_for(backup_key), self.backup_key_id):
            raise ClinicDeskError(ErrorCode.BACKUP_WRONG_KEY, reason="different_backup_key")
        return derive(backup_key, self.salt, ARCHIVE_INFO), derive(backup_key, self.salt, DB_INFO)


def read_header(fh: IO[bytes]) -> Header:
    """Parse the header at the start of ``fh`` (positioned at 0); BACKUP_ARCHIVE_INVALID or
    BACKUP_ARCHIVE_UNSUPPORTED if it is not one this program can read."""
    start = fh.read(len(MAGIC) + _LEN.size)
    if start[: len(MAGIC)] != MAGIC[: len(start)] or not start:
        raise invalid("not_an_archive")
    if len(start) < len(MAGIC) + _LEN.size:
        raise invalid("truncated")
    (length,) = _LEN.unpack(start[len(MAGIC) :])
    if length > MAX_HEADER:
        raise invalid("header")
    body = fh.read(length)
    if len(body) < length:
        raise invalid("truncated")
    return _parse_header(body, start + body)


def header_of(archive: Path) -> Header:
    """The header of the archive file at ``archive`` (NOT_FOUND if there is no such file)."""
    try:
        with archive.open("rb") as fh:
            return read_header(fh)
    except (FileNotFoundError, IsADirectoryError):
        raise ClinicDeskError(ErrorCode.NOT_FOUND, entity="backup archive") from None


def _parse_header(body: bytes, raw: bytes) -> Header:
    try:
        doc = json.loads(body.decode("utf-8"))
        if doc["format"] != FORMAT:
            raise ValueError("format")
        _check_version(doc)
        header = Header(
            str(doc["backup_key_id"]),
            base64.b64decode(doc["salt"], validate=True),
            str(doc["created_at"]),
            dict(doc["recovery_envelope"]),
            int(doc["chunk_size"]),
            str(doc.get("app_version", "")),
            raw,
        )
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("header") from None
    if not 0 < header.chunk_size <= MAX_CHUNK_SIZE or len(header.salt) != SALT_BYTES:
        raise invalid("header")
    return header


_V1_FIELDS = frozenset(
    ("format", "version", "backup_key_id", "salt", "chunk_size", "created_at", "app_version",
     "recovery_envelope")
)  # fmt: skip


def _check_version(doc: dict[str, Any]) -> None:
    """Refuse a header of another format version: BACKUP_ARCHIVE_UNSUPPORTED for a newer one,
    BACKUP_ARCHIVE_INVALID (``header``) for anything that can only be damage.

    Why the field set decides: a flipped bit can turn the digit of ``"version": 1`` into 0, 3,
    5 or 9 and the JSON still parses. A later format always changes the header's fields (the
    rule in docs/BACKUP.md, "Format"), so a header with exactly version 1's fields that claims
    another version is a damaged version 1 header, not a newer archive."""
    version = doc["version"]
    if type(version) is not int or version < VERSION:  # bool and float are not versions
        raise ValueError("version")
    if version == VERSION:
        return
    if set(doc) | {"app_version"} == _V1_FIELDS:  # early archives had no app_version
        raise ValueError("version")
    raise ClinicDeskError(ErrorCode.BACKUP_ARCHIVE_UNSUPPORTED, version=version)


class Sink(Protocol):
    """Where sealed bytes go: a file, or anything else with ``write``."""

    def write(self, data: bytes, /) -> int: ...


def _nonce(index: int, final: bool) -> bytes:
    return struct.pack(">QB", index, 1 if final else 0) + b"\x00\x00\x00"


class SealingWriter:
    """A write-only file object that seals what it is given into chunks on ``out``.

    Chunks are sealed (AES-GCM) and written as they fill, in the caller's thread; after
    :meth:`use_thread`, on a thread of their own, in order, while the caller goes on hashing
    and framing the next data (a backup calls it when its database export has left a core
    free; before that, a third busy thread only slowed the export). At most
    :data:`QUEUED_CHUNKS` chunks wait for that thread, so memory stays bounded whatever the
    size. :meth:`close` writes the final chunk (possibly empty) and waits for everything;
    without it the archive is invalid. :meth:`abort` ends the thread after a failure (no final
    chunk). An error of ``out`` (a full disk) comes back from the next :meth:`write` or
    :meth:`close`.
    """

    def __init__(self, out: Sink, header: Header, backup_key: bytes) -> None:
        raw = header.encode()
        self._size = header.chunk_size
        self._buffer, self._index, self._written, self.closed = bytearray(), 0, 0, False
        out.write(raw)
        aead = AESGCM(header.keys(backup_key)[0])
        self._sealer = _Sealer(out, aead, hashlib.sha256(raw).digest())

    def use_thread(self) -> None:
        """Seal and write the chunks from now on on a thread of its own."""
        if not self.closed and self._sealer.ident is None:
            self._sealer.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer ``data``; seal every full chunk that has a byte after it (so the final chunk
        is never a full one that could be mistaken for a cut)."""
        self._buffer += data
        self._written += len(data)
        if len(self._buffer) > self._size:
            self._emit_full_chunks()
        return len(data)

    def tell(self) -> int:
        """Bytes written so far (tarfile asks)."""
        return self._written

    def _emit_full_chunks(self) -> None:
        # Sealed straight from the buffer (no copy) when sealing inline; the thread gets a copy.
        start, view = 0, memoryview(self._buffer)
        try:
            while len(self._buffer) - start > self._size:
                self._emit(view[start : start + self._size], final=False)
                start += self._size
        finally:
            view.release()
        del self._buffer[:start]

    def close(self) -> None:
        """Seal the rest as the final chunk; return when every chunk is written."""
        if not self.closed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self.closed = True
            if self._sealer.is_alive():
                self._sealer.finish()

    def abort(self) -> None:
        """End the sealing thread without a final chunk (after a failure; no-op after close)."""
        if not self.closed:
            self.closed = True
            if self._sealer.is_alive():
                self._sealer.finish(raise_error=False)

    def _emit(self, chunk: bytes | memoryview, *, final: bool) -> None:
        nonce = _nonce(self._index, final)
        if self._sealer.is_alive():
            self._sealer.put((nonce, bytes(chunk)))
        else:
            self._sealer.seal((nonce, chunk))
        self._index += 1


QUEUED_CHUNKS = 4


class _Sealer(threading.Thread):
    """Seals and writes queued chunks in order; after an error it only drains the queue (so a
    caller never blocks on a full one) and keeps the error for the caller."""

    def __init__(self, out: Sink, aead: AESGCM, aad: bytes) -> None:
        super().__init__(name="clinicdesk-backup-seal", daemon=True)
        self._out, self._aead, self._aad = out, aead, aad
        self._queue: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(QUEUED_CHUNKS)
        self.error: BaseException | None = None

    def put(self, item: tuple[bytes, bytes]) -> None:
        """Queue one (nonce, chunk); raises the writing error if there was one."""
        self._raise()
        self._queue.put(item)

    def finish(self, *, raise_error: bool = True) -> None:
        """Wait until every queued chunk is written; then raise the error if there was one."""
        self._queue.put(None)
        self.join()
        if raise_error:
            self._raise()

    def seal(self, item: tuple[bytes, bytes | memoryview]) -> None:
        """Seal and write one (nonce, chunk) in the calling thread."""
        self._out.write(self._aead.encrypt(item[0], item[1], self._aad))

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self.seal(item)
                except BaseException as exc:  # handed to the caller's thread, never lost
                    self.error = exc

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class OpeningReader:
    """A read-only file object giving the plaintext of an archive, authenticated chunk by chunk.

    Raises BACKUP_ARCHIVE_INVALID (reason ``chunk_tampered`` with ``chunk``, ``truncated``) the
    moment a chunk fails; nothing unauthenticated is ever returned.
    """

    def __init__(self, fh: IO[bytes], header: Header, backup_key: bytes) -> None:
        self._fh, self._header = fh, header
        self._aead = AESGCM(header.keys(backup_key)[0])
        self._aad = hashlib.sha256(header.raw).digest()
        self._buffer, self._index, self._done = bytearray(), 0, False
        self._pending = fh.read(header.chunk_size + TAG)

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._next_chunk()
        size = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def drain(self) -> None:
        """Read (and authenticate) everything left, so trailing damage is found too."""
        while not self._done:
            self._next_chunk()
            self._buffer.clear()

    def _next_chunk(self) -> None:
        sealed = self._pending
        self._pending = self._fh.read(self._header.chunk_size + TAG)
        final = not self._pending
        if len(sealed) < TAG:
            raise invalid("truncated")
        self._buffer += self._open(sealed, final)
        self._index += 1
        self._done = final

    def _open(self, sealed: bytes, final: bool) -> bytes:
        try:
            return self._aead.decrypt(_nonce(self._index, final), sealed, self._aad)
        except InvalidTag:
            pass
        if final and self._opens_as_middle(sealed):
            raise invalid("truncated")
        raise invalid("chunk_tampered", chunk=self._index) from None

    def _opens_as_middle(self, sealed: bytes) -> bool:
        try:
            self._aead.decrypt(_nonce(self._index, False), sealed, self._aad)
        except InvalidTag:
            return False
        return True


def describe_header(header: Header) -> dict[str, Any]:
    """The header's facts for ``backup list`` (nothing secret)."""
    return {
        "created_at": header.created_at,
        "backup_key_id": header.backup_key_id,
        "app_version": header.app_version,
        "format_version": VERSION,
    }
