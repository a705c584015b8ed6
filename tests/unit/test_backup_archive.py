"""The sealed chunk stream on its own (no database): round trip at any size with bounded
buffering, and every edit, cut, reorder or wrong key refused with a reason."""

from __future__ import annotations

import io
import secrets
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.backup import archive
from app.backup.archive import Header, OpeningReader, SealingWriter, read_header
from app.domain.errors import ClinicDeskError, ErrorCode

KEY = bytes(range(32))
ENVELOPE = {"purpose": "backup", "protector": "recovery", "kind": "recovery-key-v1"}


def seal(data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch | None = None) -> bytes:
    header = Header.new(KEY, ENVELOPE, "2026-01-01T00:00:00+00:00", "test")
    header = Header(header.backup_key_id, header.salt, header.created_at, ENVELOPE, chunk, "t")
    out = io.BytesIO()
    writer = SealingWriter(out, header, KEY)
    for start in range(0, len(data), 777):  # uneven writes
        writer.write(data[start : start + 777])
    writer.close()
    return out.getvalue()


def unseal(blob: bytes, key: bytes = KEY) -> bytes:
    fh = io.BytesIO(blob)
    reader = OpeningReader(fh, read_header(fh), key)
    data = reader.read()
    reader.drain()
    return data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_round_trip_any_size_and_chunking(data: bytes, chunk: int) -> None:
    assert unseal(seal(data, chunk)) == data


def test_a_full_last_chunk_is_still_followed_by_the_final_marker() -> None:
    data = secrets.token_bytes(4 * 100)
    blob = seal(data, 100)
    assert unseal(blob) == data
    with pytest.raises(ClinicDeskError) as caught:
        unseal(blob[: len(blob) - 16])  # the (empty) final chunk cut off
    assert caught.value.params["reason"] in {"truncated", "chunk_tampered"}


@pytest.mark.parametrize("switch_at", [0, 5, 10_000])
def test_the_same_archive_comes_out_inline_threaded_or_switched(switch_at: int) -> None:
    data = secrets.token_bytes(20 * 1000)
    header = Header.new(KEY, ENVELOPE, "2026-01-01T00:00:00+00:00", "test")
    header = Header(header.backup_key_id, header.salt, header.created_at, ENVELOPE, 1000, "t")
    outputs = []
    for switch in (None, switch_at):
        out = io.BytesIO()
        writer = SealingWriter(out, header, KEY)
        for index, start in enumerate(range(0, len(data), 700)):
            if index == switch:
                writer.use_thread()
            writer.write(data[start : start + 700])
        writer.close()
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert unseal(outputs[1]) == data


def test_writer_buffers_at_most_one_chunk() -> None:
    header = Header.new(KEY, ENVELOPE, "x", "t")
    writer = SealingWriter(io.BytesIO(), header, KEY)
    writer.use_thread()
    for _ in range(50):
        writer.write(b"x" * (archive.CHUNK_SIZE // 3))
        assert len(writer._buffer) <= archive.CHUNK_SIZE
        assert writer._sealer._queue.qsize() <= archive.QUEUED_CHUNKS
    writer.close()


class _FullDisk(io.BytesIO):
    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_a_write_error_comes_back_to_the_writer_and_never_blocks_it() -> None:
    header = Header.new(KEY, ENVELOPE, "x", "t")
    writer = SealingWriter(_FullDisk(3 * archive.CHUNK_SIZE), header, KEY)
    writer.use_thread()
    with pytest.raises(OSError, match="No space"):
        for _ in range(40):  # far more than the queue holds: must raise, not hang
            writer.write(b"x" * archive.CHUNK_SIZE)
        writer.close()
    writer.abort()
    assert not writer._sealer.is_alive()


@settings(max_examples=80, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_any_flipped_bit_is_refused(data: bytes, where: float, bit: int) -> None:
    blob = bytearray(seal(data, 256))
    at = min(int(where * len(blob)), len(blob) - 1)
    blob[at] ^= 1 << bit
    with pytest.raises(ClinicDeskError) as caught:
        unseal(bytes(blob))
    assert caught.value.code in {ErrorCode.BACKUP_ARCHIVE_INVALID, ErrorCode.BACKUP_WRONG_KEY}
    assert caught.value.params.get("reason")


@settings(max_examples=80, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), keep=st.floats(0, 0.9999))
def test_any_truncation_is_refused(data: bytes, keep: float) -> None:
    blob = seal(data, 256)
    with pytest.raises(ClinicDeskError) as caught:
        unseal(blob[: int(keep * len(blob))])
    assert caught.value.params.get("reason")


def test_wrong_key_is_refused_before_decrypting() -> None:
    with pytest.raises(ClinicDeskError) as caught:
        unseal(seal(b"data", 64), key=bytes(32))
    assert (caught.value.code, caught.value.params["reason"]) == (
        ErrorCode.BACKUP_WRONG_KEY, "different_backup_key",
    )  # fmt: skip


def _with_header(blob: bytes, old: bytes, new: bytes) -> bytes:
    """``blob`` with ``old`` replaced by ``new`` in its header, the length fixed."""
    (length,) = struct.unpack(">I", blob[8:12])
    body = blob[12 : 12 + length].replace(old, new)
    return blob[:8] + struct.pack(">I", len(body)) + body + blob[12 + length :]


def test_newer_format_is_reported_as_such() -> None:
    # A later format changes the header's fields (docs/BACKUP.md, "Format").
    blob = _with_header(seal(b"data", 64), b'"version": 1', b'"stream": "v2", "version": 2')
    with pytest.raises(ClinicDeskError) as caught:
        read_header(io.BytesIO(blob))
    assert (caught.value.code, caught.value.params["version"]) == (
        ErrorCode.BACKUP_ARCHIVE_UNSUPPORTED, 2,
    )  # fmt: skip


@pytest.mark.parametrize("digit", [b"0", b"3", b"5", b"9", b"-1", b"true", b"1.0", b'"1"'])
def test_a_damaged_version_is_damage_not_a_newer_format(digit: bytes) -> None:
    # Bit flips of the digit "1" read as 0, 3, 5 or 9; the header keeps version 1's fields.
    blob = _with_header(seal(b"data", 64), b'"version": 1', b'"version": ' + digit)
    with pytest.raises(ClinicDeskError) as caught:
        read_header(io.BytesIO(blob))
    assert (caught.value.code, caught.value.params["reason"]) == (
        ErrorCode.BACKUP_ARCHIVE_INVALID, "header",
    )  # fmt: skip
