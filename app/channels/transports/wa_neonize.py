"""neonize, imported once per worker, and the outbound message builders that use it.

Importing neonize has side effects (WHATSAPP_ENGINES.md §1.1): ``logging.basicConfig`` (a no-op
because the worker configures logging first) and a log-forwarding thread; the Go log level is
read from the ``neonize.utils.log`` logger at connect, so it is set to WARNING here to keep
message metadata out of the logs. Outbound messages are built by hand: neonize's own
``build_*_message``/``send_message(str)`` parse ``@digits`` as mentions and may query groups.
"""

from __future__ import annotations

import base64
import logging
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from app.services.transport import OutboundMedia

#: Loggers neonize and the Go side write to; above INFO they carry no message metadata.
QUIET_LOGGERS = ("neonize", "neonize.utils.log", "whatsmeow", "Whatsmeow")


@dataclass(frozen=True)
class NeonizeApi:
    """The parts of neonize the transport uses (one import, easy to see, easy to fake)."""

    client: ModuleType  # neonize.aioze.client (NewAClient, gocode)
    events: ModuleType  # neonize.aioze.events (event classes, event_global_loop)
    proto: ModuleType  # neonize.proto.Neonize_pb2 (JID)
    e2e: ModuleType  # waE2E protobufs (Message, ImageMessage, …)
    enum: ModuleType  # neonize.utils.enum
    exc: ModuleType  # neonize.exc
    device_props: Any  # DeviceProps class

    def new_client(self, db_path: str, uuid: str, props: Any) -> Any:
        """A fresh ``NewAClient`` on ``db_path`` under ``uuid`` (never reused)."""
        return self.client.NewAClient(db_path, props=props, uuid=uuid)

    def jid(self, text: str) -> Any:
        """A JID proto for ``user@server`` (bare digits: a phone number)."""
        user, _, server = text.partition("@")
        return self.proto.JID(
            User=user, Server=server or "s.whatsapp.net", RawAgent=0, Device=0,
            Integrator=0, IsEmpty=False,
        )  # fmt: skip

    def history_limited_props(self, days: int, size_mb: int) -> Any:
        """Device properties that ask for a small initial history sync (not a full one)."""
        props = self.device_props
        config = props.HistorySyncConfig(
            fullSyncDaysLimit=days, fullSyncSizeMbLimit=size_mb, storageQuotaMb=size_mb,
            recentSyncDaysLimit=days,
        )  # fmt: skip
        return props(
            os="ClinicDesk", platformType=props.CHROME, requireFullSync=False,
            historySyncConfig=config,
        )  # fmt: skip

    def client_name(self) -> Any:
        """How the phone lists the linked device ("CHROME (WINDOWS NT)" and so on)."""
        names = self.enum.ClientName
        if sys.platform == "win32":
            return names.WINDOWS
        return names.MACOS if sys.platform == "darwin" and hasattr(names, "MACOS") else names.LINUX


def load_neonize() -> NeonizeApi:
    """Import neonize with its loggers quietened first (call after logging is configured)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    import neonize.proto.Neonize_pb2 as proto
    import neonize.proto.waE2E.WAWebProtobufsE2E_pb2 as e2e
    from neonize import exc
    from neonize.aioze import client, events
    from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
    from neonize.utils import enum, ffmpeg

    ffmpeg._ffmpeg_checked = True  # only video/sticker helpers need ffmpeg; we use none
    return NeonizeApi(client, events, proto, e2e, enum, exc, DeviceProps)


def text_message(api: NeonizeApi, text: str) -> Any:
    """An explicit ``conversation`` message: no mention parsing, no link preview."""
    return api.e2e.Message(conversation=text)


def media_type_of(api: NeonizeApi, mime: str) -> tuple[str, Any]:
    """("image" | "audio" | "document", neonize MediaType) for a MIME type."""
    types = api.enum.MediaType
    if mime.startswith("image/"):
        return "image", types.MediaImage
    if mime.startswith("audio/"):
        return "audio", types.MediaAudio
    return "document", types.MediaDocument


async def media_message(client: Any, api: NeonizeApi, media: OutboundMedia) -> Any:
    """Upload ``media`` and build its message (image, audio or document) by hand."""
    data = base64.b64decode(media.data_b64, validate=True)
    kind, media_type = media_type_of(api, media.mime)
    up = await client.upload(data, media_type)
    common = {
        "URL": up.url, "directPath": up.DirectPath, "mediaKey": up.MediaKey,
        "fileEncSHA256": up.FileEncSHA256, "fileSHA256": up.FileSHA256,
        "fileLength": up.FileLength, "mimetype": media.mime,
    }  # fmt: skip
    if kind == "image":
        return api.e2e.Message(imageMessage=api.e2e.ImageMessage(caption=media.caption, **common))
    if kind == "audio":
        return api.e2e.Message(audioMessage=api.e2e.AudioMessage(PTT=False, **common))
    document = api.e2e.DocumentMessage(
        caption=media.caption, fileName=media.filename, title=media.filename, **common
    )
    return api.e2e.Message(documentMessage=document)
