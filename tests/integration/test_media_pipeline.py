"""Media wired into the pipeline on a real SQLCipher store and a real encrypted media store:
inbound attachments stored once and encrypted, refused files keeping their message, broken
base64 quarantined, downloads only for who may see the ticket, outbound attachments queued."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.domain.media import BlobRef
from app.domain.roles import Actor, Role
from app.services.audit import Auditor
from app.services.inbound import InboundPipeline
from app.services.outbound import Attachment
from tests.helpers.messaging import Desk, make_desk
from tests.integration.conftest import FakeClock, Installation

MONDAY = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 10:00 in São Paulo
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"This program cannot be run in DOS mode"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture
async def desk(fresh: Installation) -> Desk:
    clock = FakeClock(MONDAY)
    desk = await make_desk(fresh, clock)
    core = fresh.core
    desk.pipeline = InboundPipeline(
        core.store, clock, Auditor(clock), core.bus, media=core.media.blobs
    )
    return desk


def blob_files(desk: Desk) -> list[Path]:
    return sorted(p for p in desk.inst.core.data_dir.media.rglob("*") if p.is_file())


async def image_ticket(desk: Desk, data: bytes, name: str = "exame.png") -> int:
    """A patient image (declared as an EXE type: the content decides) and its ticket id."""
    event = desk.event(
        text="segue a foto", kind="image", media_b64=b64(data), media_name=name,
        media_mime="application/x-msdownload",
    )  # fmt: skip
    await desk.ingest(event)
    (message,) = await desk.rows("messages", direction="in")
    return int(message.ticket_id)


async def test_an_image_is_stored_encrypted_once_with_its_thumbnail(desk: Desk) -> None:
    data = png()
    event = desk.event(
        text="foto", kind="image", media_b64=b64(data), media_name="../exa\u202eme.png"
    )
    await desk.ingest(event)
    (message,) = await desk.rows("messages", direction="in")
    sha = hashlib.sha256(data).hexdigest()
    assert (message.kind, message.body, message.media_sha256) == ("image", "foto", sha)
    assert (message.media_mime, message.media_size) == ("image/png", len(data))
    assert message.media_name == "exame.png"  # path and bidi override removed
    (blob,) = await desk.rows("media_blobs", sha256=sha)
    assert (blob.size, blob.mime, blob.thumb_sha256 is not None) == (len(data), "image/png", True)
    (thumb,) = await desk.rows("media_blobs", sha256=blob.thumb_sha256)
    assert thumb.mime == "image/jpeg"
    files = blob_files(desk)
    assert len(files) == 2
    for path in files:
        raw = path.read_bytes()
        assert raw.startswith(b"CDM1") and b"\x89PNG" not in raw and b"\xff\xd8\xff" not in raw
    assert data not in b"".join(p.read_bytes() for p in files)
    before = (await desk.counts(), await desk.count("media_blobs"), await desk.count("audit_log"))
    for _ in range(2):
        await desk.ingest(event)  # redelivery
    after = (await desk.counts(), await desk.count("media_blobs"), await desk.count("audit_log"))
    assert after == before
    assert blob_files(desk) == files


async def test_the_declared_type_is_ignored_for_the_stored_mime(desk: Desk) -> None:
    await image_ticket(desk, png())
    (message,) = await desk.rows("messages", direction="in")
    assert message.media_mime == "image/png"


async def test_an_exe_named_jpg_keeps_the_message_but_not_the_file(desk: Desk) -> None:
    event = desk.event(
        text="meu exame", kind="image", media_b64=b64(EXE), media_name="foto.jpg",
        media_mime="image/jpeg",
    )  # fmt: skip
    await desk.ingest(event)
    (message,) = await desk.rows("messages", direction="in")
    assert (message.kind, message.body, message.media_sha256) == ("image", "meu exame", None)
    assert (message.media_mime, message.media_name, message.media_size) == (
        None, "foto.jpg", len(EXE),
    )  # fmt: skip
    assert blob_files(desk) == []
    assert await desk.count("media_blobs") == 0
    assert await desk.count("inbound_quarantine") == 0
    audit = [r for r in await desk.rows("audit_log") if r.action == "message.received"]
    details = json.loads(audit[-1].details)
    assert (details["media_stored"], details["media_error"]) == (False, "unsupported_type")
    page = await desk.inst.core.tickets.messages(desk.inst.super_admin, message.ticket_id)
    (view,) = [m for m in page.items if m.direction == "in"]
    assert view.media_refused and view.media_sha256 is None and not view.has_thumbnail


async def test_broken_base64_is_quarantined_with_a_reason(desk: Desk) -> None:
    event = desk.event(text=None, kind="image", media_b64="iVBORw0KGgo*not base64*")
    await desk.ingest(event)
    assert await desk.count("messages") == 0
    (kept,) = await desk.rows("inbound_quarantine")
    assert kept.reason == "media_b64_invalid"
    assert "not base64" not in kept.payload  # the media text itself is left out
    assert blob_files(desk) == []


async def test_the_same_file_twice_is_one_blob_and_one_row(desk: Desk) -> None:
    data = png(64, 64)
    await desk.ingest(desk.event(kind="image", media_b64=b64(data)))
    await desk.ingest(desk.event(kind="image", media_b64=b64(data)))
    assert await desk.count("messages", direction="in") == 2
    assert await desk.count("media_blobs") == 2  # the image and its thumbnail
    assert len(blob_files(desk)) == 2


# ---- downloads ------------------------------------------------------------------------------


async def _staff(inst: Installation, desk: Desk) -> dict[str, Actor]:
    """Receptionists of queues A (the ticket's) and B, supervisors of Centro and Sul."""
    core, local = inst.core, inst.core.local_actor()
    queue_a = await desk.add_queue("A")
    actors = {
        "in_queue": await inst.add_staff(Role.RECEPTIONIST, "Centro", "recep.a"),
        "other_queue": await inst.add_staff(Role.RECEPTIONIST, "Centro", "recep.b"),
        "supervisor": await inst.add_staff(Role.SUPERVISOR, "Centro"),
        "other_branch": await inst.add_staff(Role.SUPERVISOR, "Sul"),
    }
    await core.queues.add_member(local, queue_a, int(actors["in_queue"].user_id or 0))
    return actors


async def test_only_who_may_see_the_ticket_downloads_the_file(desk: Desk) -> None:
    inst = desk.inst
    actors = await _staff(inst, desk)
    data = png()
    await image_ticket(desk, data)  # one queue: the ticket lands in queue A
    queue_b = await desk.add_queue("B")
    await inst.core.queues.add_member(
        inst.core.local_actor(), queue_b, int(actors["other_queue"].user_id or 0)
    )
    sha, media = hashlib.sha256(data).hexdigest(), inst.core.media
    for who in ("in_queue", "supervisor"):
        got = await media.open(actors[who], sha)
        assert (got.data, got.mime, got.name) == (data, "image/png", "exame.png")
        thumb = await media.open(actors[who], sha, thumbnail=True)
        assert thumb.mime == "image/jpeg" and thumb.data.startswith(b"\xff\xd8\xff")
        assert thumb.name == "exame-miniatura.jpg"
    for who in ("other_queue", "other_branch"):
        for thumbnail in (False, True):
            with pytest.raises(NotFoundError):
                await media.open(actors[who], sha, thumbnail=thumbnail)
    with pytest.raises(NotFoundError):  # unknown: the same answer
        await media.open(actors["supervisor"], "0" * 64)
    reads = [r for r in await desk.rows("audit_log") if r.action == "media.read"]
    assert len(reads) == 4


# ---- outbound attachments --------------------------------------------------------------------


async def test_an_outbound_pdf_is_stored_and_queued_once_per_client_key(desk: Desk) -> None:
    inst = desk.inst
    ticket_id = await image_ticket(desk, png())
    outbound, admin = inst.core.outbound, inst.super_admin
    files_before = len(blob_files(desk))
    attachment = Attachment(PDF, "Receita médica.pdf", "Sua receita")
    view = await outbound.send_media(admin, ticket_id, attachment, "anexo-1")
    again = await outbound.send_media(admin, ticket_id, attachment, "anexo-1")
    assert again.outbox_id == view.outbox_id
    sha = hashlib.sha256(PDF).hexdigest()
    assert (view.media_sha256, view.media_mime, view.media_name) == (
        sha, "application/pdf", "Receita médica.pdf",
    )  # fmt: skip
    assert (view.status, view.text) == ("queued", "Sua receita")
    (row,) = await desk.rows("messages", id=view.message_id)
    assert (row.kind, row.direction, row.media_size) == ("document", "out", len(PDF))
    assert await desk.count("media_blobs", sha256=sha) == 1
    assert len(blob_files(desk)) == files_before + 1
    got = await inst.core.media.open(admin, sha)
    assert (got.data, got.name) == (PDF, "Receita médica.pdf")


async def test_a_refused_or_unauthorised_attachment_writes_nothing(desk: Desk) -> None:
    inst = desk.inst
    ticket_id = await image_ticket(desk, png())
    stranger = await inst.add_staff(Role.SUPERVISOR, "Sul")
    files_before, outbox_before = len(blob_files(desk)), await desk.count("outbox")
    with pytest.raises(ClinicDeskError) as refused:
        await inst.core.outbound.send_media(
            inst.super_admin, ticket_id, Attachment(EXE, "nota.pdf"), "exe-1"
        )
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert refused.value.params == {"field": "media", "reason": "unsupported_type"}
    with pytest.raises(NotFoundError):
        await inst.core.outbound.send_media(stranger, ticket_id, Attachment(PDF), "pdf-1")
    assert len(blob_files(desk)) == files_before
    assert await desk.count("outbox") == outbox_before


async def test_a_message_page_names_the_blob_and_its_thumbnail(desk: Desk) -> None:
    data = png()
    ticket_id = await image_ticket(desk, data)
    page = await desk.inst.core.tickets.messages(desk.inst.super_admin, ticket_id)
    (view,) = [m for m in page.items if m.direction == "in"]
    assert (view.media_sha256, view.has_thumbnail, view.media_refused) == (
        hashlib.sha256(data).hexdigest(), True, False,
    )  # fmt: skip


class FailingBlobs:
    """A media store whose ``put`` raises ``error`` (a full disk, or a bug)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def put(self, data: bytes) -> BlobRef:
        raise self.error

    def get(self, sha256: str) -> bytes:
        raise AssertionError("not called")

    def thumbnail(self, sha256: str) -> BlobRef | None:
        raise AssertionError("not called")


async def test_a_full_disk_is_not_acknowledged_and_a_poison_file_is_quarantined(
    desk: Desk,
) -> None:
    core, clock = desk.inst.core, desk.clock
    event = desk.event(kind="image", media_b64=b64(png()))
    desk.pipeline = InboundPipeline(
        core.store, clock, Auditor(clock), core.bus, media=FailingBlobs(OSError(28, "full"))
    )
    with pytest.raises(ClinicDeskError) as err:  # the worker will deliver it again
        await desk.ingest(event)
    assert err.value.code is ErrorCode.STORE_WRITE_FAILED
    assert await desk.count("messages") == await desk.count("inbound_quarantine") == 0
    desk.pipeline = InboundPipeline(
        core.store, clock, Auditor(clock), core.bus, media=FailingBlobs(RuntimeError("bug"))
    )
    await desk.ingest(event)
    (kept,) = await desk.rows("inbound_quarantine")
    assert kept.reason == "media_failed:RuntimeError"
