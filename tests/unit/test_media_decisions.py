"""Media decisions without disk or database: base64 decoding, what is stored or refused and
why, display and download names, the outbound size cap."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from app.api.routes_media import _checked, content_disposition
from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.media import MAX_ANY_BYTES, BlobRef, check_media
from app.services.media import (
    B64_INVALID,
    MediaDecodeError,
    decode_b64,
    display_name,
    receive_media,
    thumbnail_name,
)
from app.services.outbound import OUTBOUND_MEDIA_MAX, check_attachment
from app.services.ports_messaging import MessageRecord

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
PDF = b"%PDF-1.4\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60


class FakeBlobs:
    """An in-memory stand-in for MediaStore with the same checks (content type, size)."""

    def __init__(self, fail: ClinicDeskError | None = None) -> None:
        self.stored: dict[str, bytes] = {}
        self.thumbnails: list[str] = []
        self.fail = fail

    def put(self, data: bytes) -> BlobRef:
        if self.fail is not None:
            raise self.fail
        media_type = check_media(data)
        sha = hashlib.sha256(data).hexdigest()
        self.stored[sha] = data
        return BlobRef(sha, len(data), media_type.mime)

    def get(self, sha256: str) -> bytes:
        return self.stored[sha256]

    def thumbnail(self, sha256: str) -> BlobRef | None:
        self.thumbnails.append(sha256)
        return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.mark.parametrize("text", ["aGVsbG8", "aGVs*G8=", "aGVs\nbG8=", "aGVsbG8=é", "===="])
def test_broken_base64_is_refused_strictly(text: str) -> None:
    with pytest.raises(MediaDecodeError) as err:
        decode_b64(text)
    assert str(err.value) == B64_INVALID


def test_valid_base64_decodes() -> None:
    assert decode_b64(b64(PDF)) == PDF


def test_an_image_is_stored_and_gets_a_thumbnail_attempt() -> None:
    blobs = FakeBlobs()
    got = receive_media(blobs, b64(PNG), None)
    sha = hashlib.sha256(PNG).hexdigest()
    assert got.ref == BlobRef(sha, len(PNG), "image/png")
    assert (got.error, got.name, got.size) == (None, "arquivo.png", len(PNG))
    assert blobs.thumbnails == [sha]


def test_a_document_gets_no_thumbnail_and_keeps_a_safe_name() -> None:
    blobs = FakeBlobs()
    got = receive_media(blobs, b64(PDF), "C:\\docs\\..\\receita\u200b.pdf")
    assert (got.ref is not None, got.name, got.thumb) == (True, "receita.pdf", None)
    assert blobs.thumbnails == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [(EXE, "unsupported_type"), (b"#!/bin/sh\nrm -rf /\n", "unsupported_type"), (b"", "empty")],
)
def test_a_refused_file_is_reported_not_stored(data: bytes, reason: str) -> None:
    blobs = FakeBlobs()
    got = receive_media(blobs, b64(data), "foto.jpg")
    assert (got.ref, got.error, got.size, got.name) == (None, reason, len(data), "foto.jpg")
    assert blobs.stored == {}


def test_an_oversized_attachment_is_refused_before_decoding() -> None:
    too_long = "A" * ((MAX_ANY_BYTES // 3 + 2) * 4)
    got = receive_media(FakeBlobs(), too_long, None)
    assert (got.ref, got.error) == (None, "too_large")
    assert got.size > MAX_ANY_BYTES


def test_store_trouble_is_not_a_refusal() -> None:
    blobs = FakeBlobs(fail=ClinicDeskError(ErrorCode.STORE_WRITE_FAILED))
    with pytest.raises(ClinicDeskError) as err:
        receive_media(blobs, b64(PNG), None)
    assert err.value.code is ErrorCode.STORE_WRITE_FAILED


def test_outbound_attachments_are_judged_by_content_and_capped() -> None:
    assert check_attachment(PDF) == "document"
    assert check_attachment(PNG) == "image"
    with pytest.raises(ClinicDeskError) as err:
        check_attachment(EXE)
    assert err.value.params == {"field": "media", "reason": "unsupported_type"}
    big = PDF + b"\x00" * OUTBOUND_MEDIA_MAX
    with pytest.raises(ClinicDeskError) as err:
        check_attachment(big)
    assert err.value.params == {"field": "media", "reason": "too_large"}


def test_names_for_display_and_download() -> None:
    assert display_name(None, BlobRef("0" * 64, 1, "application/pdf")) == "arquivo.pdf"
    assert display_name(None, None) == "arquivo"
    assert display_name(".bashrc", None) == "bashrc"
    assert thumbnail_name("exame.png") == "exame-miniatura.jpg"
    header = content_disposition('Receita "médica";.pdf')
    assert header.startswith('attachment; filename="Receita _m_dica__.pdf"; ')
    assert header.endswith("filename*=UTF-8''Receita%20%22m%C3%A9dica%22%3B.pdf")


@pytest.mark.parametrize("name", ["../etc/passwd", "z" * 64, "0" * 63, "0" * 65])
def test_a_malformed_digest_is_just_not_found(name: str) -> None:
    with pytest.raises(NotFoundError):
        _checked(name)
    assert _checked("AB" * 32) == "ab" * 32


def test_a_message_with_a_size_but_no_blob_is_a_refused_file() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    base = (1, 1, 1, 1, "W", "in", "image", None, None, "f.jpg")
    refused = MessageRecord(*base, 10, "pending", None, False, at)
    stored = MessageRecord(*base, 10, "pending", None, False, at, "a" * 64, True)
    text = MessageRecord(
        1, 1, 1, 1, "W", "in", "text", "oi", None, None, None, "x", None, False, at
    )
    assert (refused.media_refused, stored.media_refused, text.media_refused) == (True, False, False)


class BrokenThumbnails(FakeBlobs):
    def thumbnail(self, sha256: str) -> BlobRef | None:
        raise SyntaxError("broken PNG file")  # what Pillow raises for some crafted images


def test_a_thumbnail_failure_keeps_the_image() -> None:
    got = receive_media(BrokenThumbnails(), b64(PNG), "x.png")
    assert (got.ref is not None, got.thumb, got.error) == (True, None, None)
