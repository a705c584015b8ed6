"""The encrypted, content-addressed media store: type by content, limits, encryption, thumbnails."""

from __future__ import annotations

import io
import os
import secrets
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from app.domain import media as media_rules
from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.media import MB, detect_type, safe_display_name
from app.store.media import MediaStore, derive_media_key

CANARY = b"Zyxwvut Canary 4242 laudo"


def image_bytes(fmt: str, size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    """A tiny real image encoded by Pillow."""
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else (10, 120, 200, 128)).save(
        out, format=fmt
    )
    return out.getvalue()


def pdf_bytes(text: bytes = CANARY) -> bytes:
    """A minimal PDF: header, one object carrying ``text``, trailer."""
    return b"%PDF-1.4\n1 0 obj\n<< /Title (" + text + b") >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


def ogg_bytes() -> bytes:
    """An OGG page header (version 0, BOS) followed by an OpusHead packet."""
    header = b"OggS" + bytes([0, 0x02]) + struct.pack("<QII", 0, 1, 0) + b"\x00\x01\x13"
    return header + b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"


def ftyp_bytes(brand: bytes) -> bytes:
    """An ISO-BMFF ``ftyp`` box with ``brand`` as major brand, then an empty ``mdat``."""
    body = brand + b"\x00\x00\x00\x00" + brand + b"isom"
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + struct.pack(">I", 8) + b"mdat"


SAMPLES: dict[str, Callable[[], bytes]] = {
    "image/jpeg": lambda: image_bytes("JPEG"),
    "image/png": lambda: image_bytes("PNG"),
    "image/webp": lambda: image_bytes("WEBP"),
    "image/gif": lambda: image_bytes("GIF"),
    "application/pdf": pdf_bytes,
    "audio/ogg": ogg_bytes,
    "audio/mpeg": lambda: b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 64,
    "audio/mp4": lambda: ftyp_bytes(b"M4A "),
    "video/mp4": lambda: ftyp_bytes(b"isom"),
}


@pytest.fixture
def dek() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def store(tmp_path: Path, dek: bytes) -> MediaStore:
    return MediaStore.from_dek(tmp_path / "media", dek)


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("mime", sorted(SAMPLES))
def test_round_trip_each_type(store: MediaStore, mime: str) -> None:
    data = SAMPLES[mime]()
    ref = store.put(data)
    assert (ref.mime, ref.size) == (mime, len(data))
    assert store.exists(ref.sha256)
    assert store.get(ref.sha256) == data


def test_mp3_without_id3_detected_by_frame_sync() -> None:
    found = detect_type(b"\xff\xfb\x90\x64" + b"\x00" * 32)
    assert found is not None and found.mime == "audio/mpeg"
    assert detect_type(b"\xff\xf1\x50\x80" + b"\x00" * 32) is None  # AAC ADTS, not MP3


def test_type_is_judged_by_content_not_name_or_declared_mime(store: MediaStore) -> None:
    # WhatsApp said: file name "exame.pdf", mime "application/pdf". put() takes the bytes only,
    # so neither can influence the stored type.
    declared_name, declared_mime, data = "exame.pdf", "application/pdf", SAMPLES["image/png"]()
    ref = store.put(data)
    assert ref.mime == "image/png" != declared_mime
    assert safe_display_name(declared_name) == "exame.pdf"  # the name is only ever displayed


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64,  # Windows EXE
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64,  # Linux ELF
        b"PK\x03\x04" + b"\x00" * 64,  # ZIP (docx, apk, jar...)
        b"#!/bin/sh\nrm -rf /\n",
        b"plain text is not media",
    ],
    ids=["exe", "elf", "zip", "script", "text"],
)
def test_unknown_types_refused(store: MediaStore, data: bytes) -> None:
    with pytest.raises(ClinicDeskError) as info:
        store.put(data)
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert info.value.params == {"field": "media", "reason": "unsupported_type"}
    assert blob_files(store.path_for("0" * 64).parents[1]) == []


def test_random_bytes_and_empty_refused(store: MediaStore) -> None:
    rng_data = b"\x00" + secrets.token_bytes(4096)  # leading NUL: no magic can match
    for data, reason in ((rng_data, "unsupported_type"), (b"", "empty")):
        with pytest.raises(ClinicDeskError) as info:
            store.put(data)
        assert info.value.params["reason"] == reason


def test_oversize_refused(store: MediaStore, monkeypatch: pytest.MonkeyPatch) -> None:
    big_png = SAMPLES["image/png"]() + b"\x00" * (16 * MB)
    with pytest.raises(ClinicDeskError) as info:
        store.put(big_png)
    assert info.value.params == {"field": "media", "reason": "too_large"}
    limits = {**media_rules.MAX_BYTES, media_rules.MediaKind.DOCUMENT: 100}
    monkeypatch.setattr(media_rules, "MAX_BYTES", limits)
    with pytest.raises(ClinicDeskError):
        store.put(pdf_bytes(b"x" * 200))
    assert store.put(pdf_bytes(b"x")).mime == "application/pdf"


def test_blob_on_disk_is_encrypted(store: MediaStore) -> None:
    data = pdf_bytes()
    ref = store.put(data)
    path = store.path_for(ref.sha256)
    assert path.parent.name == ref.sha256[:2]
    raw = path.read_bytes()
    assert raw != data
    assert CANARY not in raw and b"%PDF" not in raw
    assert raw.startswith(b"CDM1") and len(raw) == 4 + 12 + len(data) + 16
    if os.name != "nt":
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
        assert path.parents[1].stat().st_mode & 0o777 == 0o700


def test_same_content_twice_is_one_file(store: MediaStore) -> None:
    data = SAMPLES["image/jpeg"]()
    first = store.put(data)
    raw = store.path_for(first.sha256).read_bytes()
    assert store.put(data) == first
    assert store.path_for(first.sha256).read_bytes() == raw  # not rewritten (fresh nonce would)
    assert len(blob_files(store.path_for(first.sha256).parents[1])) == 1


def test_tampered_blob_refused(store: MediaStore) -> None:
    ref = store.put(pdf_bytes())
    path = store.path_for(ref.sha256)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ClinicDeskError) as info:
        store.get(ref.sha256)
    assert info.value.code is ErrorCode.STORE_WRONG_KEY


def test_blob_moved_to_another_name_refused(store: MediaStore) -> None:
    a = store.put(pdf_bytes(b"a"))
    b = store.put(pdf_bytes(b"b"))
    store.path_for(b.sha256).write_bytes(store.path_for(a.sha256).read_bytes())
    with pytest.raises(ClinicDeskError) as info:
        store.get(b.sha256)
    assert info.value.code is ErrorCode.STORE_WRONG_KEY


def test_key_from_another_dek_cannot_read(tmp_path: Path, store: MediaStore, dek: bytes) -> None:
    ref = store.put(pdf_bytes())
    other = MediaStore.from_dek(tmp_path / "media", secrets.token_bytes(32))
    with pytest.raises(ClinicDeskError) as info:
        other.get(ref.sha256)
    assert info.value.code is ErrorCode.STORE_WRONG_KEY
    assert derive_media_key(dek) != dek  # the DEK itself is never the media key


def test_thumbnail_is_small_valid_jpeg(store: MediaStore) -> None:
    noise = Image.frombytes("RGB", (1200, 900), secrets.token_bytes(1200 * 900 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    original = store.put(out.getvalue())
    thumb = store.thumbnail(original.sha256)
    assert thumb is not None and thumb.mime == "image/jpeg"
    assert thumb.size < original.size
    with Image.open(io.BytesIO(store.get(thumb.sha256))) as image:
        assert image.format == "JPEG"
        assert max(image.size) == 320 and image.size == (320, 240)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_thumbnail_of_transparent_images(store: MediaStore, fmt: str) -> None:
    ref = store.put(image_bytes(fmt, (40, 30), mode="RGBA"))
    thumb = store.thumbnail(ref.sha256)
    assert thumb is not None and thumb.mime == "image/jpeg"


def test_no_thumbnail_for_non_images_or_broken_images(store: MediaStore) -> None:
    assert store.thumbnail(store.put(pdf_bytes()).sha256) is None
    broken = store.put(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert store.thumbnail(broken.sha256) is None


def test_delete_and_missing(store: MediaStore) -> None:
    ref = store.put(pdf_bytes())
    assert store.delete(ref.sha256) is True
    assert not store.exists(ref.sha256)
    assert store.delete(ref.sha256) is False
    with pytest.raises(NotFoundError):
        store.get(ref.sha256)


def test_bad_names_refused(store: MediaStore) -> None:
    for name in ("../../etc/passwd", "A" * 64, "ab"):
        with pytest.raises(ClinicDeskError) as info:
            store.get(name)
        assert info.value.params == {"field": "sha256"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C:\\Users\\x\\exame.pdf", "exame.pdf"),
        ("../../etc/passwd", "passwd"),
        ("recibo\u202egnp.exe", "recibognp.exe"),  # RTL override that fakes "exe.png"
        ("la\u200bu\u200ddo\ufeff.pdf", "laudo.pdf"),
        ("a\x00b\x1f\nc.jpg", "ab c.jpg"),
        (".bashrc", "bashrc"),
        ("", "arquivo"),
        (None, "arquivo"),
        ("/", "arquivo"),
    ],
)
def test_safe_display_name(raw: str | None, expected: str) -> None:
    assert safe_display_name(raw) == expected


def test_safe_display_name_keeps_extension_when_shortened() -> None:
    name = safe_display_name("x" * 300 + ".pdf")
    assert len(name) == 120 and name.endswith(".pdf")
