"""Media: authorised downloads of stored attachments and outbound attachments on a ticket.

``GET /media/{sha256}`` (and ``/thumbnail``) answers 404 alike for an unknown blob and for one
the caller may not see; the bytes go out as a download that no browser renders or caches.
``POST /tickets/{id}/attachments`` takes JSON with the file in base64 (no multipart dependency;
the channel protocol caps a file at 10 MB anyway) and answers 202 like a text reply.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from app.api.deps import ActorDep, CoreDep
from app.api.routes_outbound import OutboundDep, OutboundOut
from app.domain.errors import ClinicDeskError, ErrorCode, NotFoundError
from app.services.media import MediaFile, MediaService
from app.services.outbound import OUTBOUND_MEDIA_MAX, TEXT_MAX, Attachment

router = APIRouter()

B64_MAX = (OUTBOUND_MEDIA_MAX // 3 + 1) * 4


class AttachmentIn(BaseModel):
    data_b64: str = Field(min_length=4, max_length=B64_MAX)
    filename: str | None = Field(default=None, max_length=255)
    caption: str | None = Field(default=None, max_length=TEXT_MAX)
    client_key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")


def get_media(core: CoreDep) -> MediaService:
    """The core's media service (``Core.media``, wired in ``app.bootstrap``)."""
    return core.media


MediaDep = Annotated[MediaService, Depends(get_media)]


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 name (RFC 6266/5987)."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def download(file: MediaFile) -> Response:
    """The file as a download: never sniffed, never cached, never shown inline."""
    headers = {
        "Content-Disposition": content_disposition(file.name),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return Response(content=file.data, media_type=file.mime, headers=headers)


def _decode(data_b64: str) -> bytes:
    try:
        return base64.b64decode(data_b64.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="data_b64") from None


@router.get("/media/{sha256}")
async def get_blob(sha256: str, actor: ActorDep, media: MediaDep) -> Response:
    """A stored attachment, if the caller may see a ticket that uses it (the read is audited)."""
    return download(await media.open(actor, _checked(sha256)))


@router.get("/media/{sha256}/thumbnail")
async def get_thumbnail(sha256: str, actor: ActorDep, media: MediaDep) -> Response:
    """The JPEG thumbnail of a stored image, under the same rule."""
    return download(await media.open(actor, _checked(sha256), thumbnail=True))


def _checked(sha256: str) -> str:
    """A well-formed digest, else not-found (a malformed name is just another unknown blob)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="media")
    return sha256.lower()


@router.post("/tickets/{ticket_id}/attachments", status_code=202)
async def send_attachment(
    ticket_id: int, body: AttachmentIn, actor: ActorDep, outbound: OutboundDep
) -> OutboundOut:
    """Queue a file (image, PDF, audio, video; judged by content) with an optional caption;
    repeating the same ``client_key`` returns the first row."""
    data = await asyncio.to_thread(_decode, body.data_b64)
    attachment = Attachment(data, body.filename, body.caption)
    view = await outbound.send_media(actor, ticket_id, attachment, body.client_key)
    return OutboundOut.model_validate(view)
