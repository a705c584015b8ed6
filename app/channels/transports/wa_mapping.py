"""Pure mappings between neonize/whatsmeow protobufs and the engine's transport vocabulary.

Reasons follow WHATSAPP_ENGINES.md §2.3 (whatsmeow codes in ``detail``); inbound messages are
normalised to :class:`InboundMessage` the way inbound_validate expects (LID ↔ phone alternates
in ``extra`` under ``lid`` / ``phone_jid``). Nothing here does I/O; media bytes are fetched by
the transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.channels import Reason
from app.services.transport import InboundMessage, Receipt

# ConnectFailureReason enum of Neonize.proto → (whatsmeow code, our reason)
_FAILURES: dict[int, tuple[int, Reason]] = {
    1: (400, Reason.CONNECT_FAILED),  # GENERIC
    2: (401, Reason.LOGGED_OUT),
    3: (402, Reason.TEMP_BANNED),
    4: (403, Reason.MAIN_DEVICE_GONE),
    5: (406, Reason.BANNED),  # UNKNOWN_LOGOUT: WhatsApp Web calls it banned
    6: (405, Reason.CLIENT_OUTDATED),
    7: (409, Reason.CLIENT_OUTDATED),  # bad user agent: only an update fixes it
    8: (500, Reason.SERVER_UNAVAILABLE),
    9: (418, Reason.CONNECT_FAILED),  # EXPERIMENTAL
    10: (503, Reason.SERVER_UNAVAILABLE),
}
#: Reasons after which whatsmeow has deleted the device (IsLoggedOut: 401/403/406).
SESSION_GONE = frozenset({Reason.LOGGED_OUT, Reason.MAIN_DEVICE_GONE, Reason.BANNED})
# TempBanReason enum → whatsmeow's numeric code (events.go:148-167)
_TEMP_BAN_CODES = {1: 101, 2: 102, 3: 103, 4: 104, 5: 106}
# ReceiptType enum → our receipt; the others (sender, retry, *_self, …) are not ours to report
_RECEIPTS = {1: Receipt.DELIVERED, 4: Receipt.READ, 6: Receipt.READ, 8: Receipt.FAILED}
MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
_MEDIA_FIELDS = {
    "image": "imageMessage",
    "document": "documentMessage",
    "audio": "audioMessage",
    "video": "videoMessage",
    "sticker": "stickerMessage",
}
_PERSON_SERVERS = frozenset({"s.whatsapp.net", "lid"})


@dataclass(frozen=True, slots=True)
class StateFact:
    """A state report: reason, raw code for ``detail``, optional ban expiry."""

    reason: Reason
    detail: str
    until: float | None = None


def failure_fact(reason_enum: int) -> StateFact:
    """A ``ConnectFailure`` / ``LoggedOut`` reason as a fact (unknown: connect_failed)."""
    code, reason = _FAILURES.get(reason_enum, (0, Reason.CONNECT_FAILED))
    return StateFact(reason, str(code or f"enum:{reason_enum}"))


def temp_ban_fact(code_enum: int, expire_s: int, now: float) -> StateFact:
    """A ``TemporaryBan``: suspended until ``now + expire`` (whatsmeow gives a duration)."""
    code = _TEMP_BAN_CODES.get(code_enum, code_enum)
    until = now + expire_s if expire_s > 0 else None
    return StateFact(Reason.TEMP_BANNED, f"402:{code}", until)


def receipt_of(type_enum: int) -> Receipt | None:
    """Our receipt for a whatsmeow receipt type; None for types that are not acks."""
    return _RECEIPTS.get(type_enum)


def jid_str(jid: Any) -> str:
    """``user@server`` without agent or device (how the engine names people and chats)."""
    user, server = getattr(jid, "User", ""), getattr(jid, "Server", "")
    return f"{user}@{server}" if user and server else ""


def is_person_chat(source: Any) -> bool:
    """A one-to-one chat with a person (not a group, broadcast, status or newsletter)."""
    chat = source.Chat
    return not source.IsGroup and chat.Server in _PERSON_SERVERS


def alternates(source: Any) -> dict[str, str]:
    """The sender's other identity (LID ↔ phone), as inbound_validate reads it in ``extra``."""
    alt = jid_str(source.SenderAlt)
    if not alt:
        return {}
    return {"lid": alt} if source.SenderAlt.Server == "lid" else {"phone_jid": alt}


def kind_of(message: Any) -> str | None:
    """The engine's kind for a waE2E ``Message``; None for what the desk does not store."""
    if message.conversation or message.HasField("extendedTextMessage"):
        return "text"
    for kind, name in _MEDIA_FIELDS.items():
        if message.HasField(name):
            return kind
    if message.HasField("locationMessage") or message.HasField("liveLocationMessage"):
        return "location"
    if message.HasField("contactMessage") or message.HasField("contactsArrayMessage"):
        return "contact"
    if message.HasField("reactionMessage"):
        return "reaction"  # 👍 on one of the clinic's messages: often how a patient confirms
    return None


def media_part(message: Any, kind: str) -> Any:
    """The media sub-message of ``message`` for a media ``kind``."""
    return getattr(message, _MEDIA_FIELDS[kind])


def normalise(ev: Any, kind: str) -> InboundMessage:
    """A ``MessageEv`` of ``kind`` as the engine's message, without media bytes yet."""
    info, msg = ev.Info, ev.Message
    source = info.MessageSource
    extra: dict[str, object] = {**alternates(source)}
    text, mime, name = _content(msg, kind, extra)
    return InboundMessage(
        wa_id=info.ID,
        chat_jid=jid_str(source.Chat),
        sender_jid=jid_str(source.Sender),
        timestamp=float(info.Timestamp),
        kind=kind,
        text=text or None,
        push_name=info.Pushname or None,
        media_mime=mime,
        media_name=name,
        extra=extra,
    )


def _content(msg: Any, kind: str, extra: dict[str, object]) -> tuple[str, str | None, str | None]:
    """(text, mime, file name) of ``msg``; location/contact details and quotes go in extra."""
    if kind == "text":
        ext = msg.extendedTextMessage
        _quote(ext.contextInfo, extra)
        return msg.conversation or ext.text, None, None
    if kind in MEDIA_KINDS:
        part = media_part(msg, kind)
        _quote(part.contextInfo, extra)
        caption = getattr(part, "caption", "")
        return caption, part.mimetype or None, getattr(part, "fileName", "") or None
    if kind == "location":
        return _location(msg, extra), None, None
    if kind == "reaction":  # the emoji ("" when the patient took the reaction back)
        extra["reacted_to"] = msg.reactionMessage.key.ID
        return msg.reactionMessage.text, None, None
    return _contact(msg, extra), None, None


def _quote(context: Any, extra: dict[str, object]) -> None:
    if context.stanzaID:
        extra["quoted_id"] = context.stanzaID


def _location(msg: Any, extra: dict[str, object]) -> str:
    loc = msg.locationMessage if msg.HasField("locationMessage") else msg.liveLocationMessage
    extra["latitude"], extra["longitude"] = loc.degreesLatitude, loc.degreesLongitude
    name, address = getattr(loc, "name", ""), getattr(loc, "address", "")
    if name:
        extra["name"] = name
    if address:
        extra["address"] = address
    return ""


def _contact(msg: Any, extra: dict[str, object]) -> str:
    cards = (
        [msg.contactMessage]
        if msg.HasField("contactMessage")
        else list(msg.contactsArrayMessage.contacts)
    )
    extra["contacts"] = [{"name": c.displayName, "vcard": c.vcard} for c in cards]
    return ""
