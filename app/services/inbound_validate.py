"""Checking and normalising one inbound event before anything is written.

A bad event raises :class:`QuarantinedError` with a stable reason code; the pipeline keeps the event
in ``inbound_quarantine`` and goes on. Small defects that do not make a message untrustworthy
are repaired instead of rejected (a patient's words must not vanish over a stray character):
control characters are dropped from the text, an unusable timestamp becomes the arrival time, a
malformed push name or file name is left out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.domain.errors import ClinicDeskError
from app.domain.identity import IdentityKeys, patient_keys
from app.services.transport import EventKind, InboundMessage, TransportEvent

KINDS = frozenset(
    {"text", "image", "document", "audio", "video", "location", "contact", "sticker", "reaction"}
)
MAX_TEXT = 65_536  # WhatsApp's own limit is lower; anything longer is not a real message
MAX_PAYLOAD = 262_144  # characters of an event kept in quarantine
_WA_ID_RE = re.compile(r"^[\x21-\x7e]{1,80}$")  # printable ASCII, no spaces
_MIME_RE = re.compile(r"^[\w.+-]{1,40}/[\w.+-]{1,58}$")
_EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)  # WhatsApp did not exist before
# Unicode's control characters (category Cc, fixed by its stability policy): C0, DEL and C1.
# A regex rather than a per-character unicodedata lookup: ~90 µs less per message.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \r
ALT_KEYS = (("phone_jid", "@s.whatsapp.net"), ("lid", "@lid"), ("jid_alt", "@s.whatsapp.net"))


class QuarantinedError(Exception):
    """The event is not stored as a message; ``reason`` says why (a code, no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CleanInbound:
    """An inbound message fit to store: ids checked, text cleaned, identity keys derived."""

    wa_id: str
    chat_jid: str
    sender_jid: str
    keys: IdentityKeys
    sent_at: datetime
    kind: str
    text: str | None
    push_name: str | None
    media_mime: str | None
    media_name: str | None
    media_size: int | None
    reacted_to: str | None = None  # a reaction: the WhatsApp id of the message it is on


def validate(event: TransportEvent, now: datetime) -> CleanInbound:
    """``event`` as a :class:`CleanInbound`, or raise :class:`QuarantinedError`."""
    if event.kind is not EventKind.INBOUND:
        raise QuarantinedError("not_inbound")
    if not isinstance(event.message, InboundMessage):
        raise QuarantinedError("no_message")
    try:
        return _clean(event.message, now)
    except (TypeError, ValueError, AttributeError, OverflowError):
        raise QuarantinedError("field_invalid") from None


def _clean(msg: InboundMessage, now: datetime) -> CleanInbound:
    wa_id, chat, sender = _wa_id(msg.wa_id), _jid(msg.chat_jid), _jid(msg.sender_jid, True)
    kind = _kind(msg.kind)
    text = _text(msg.text, required=kind in ("text", "reaction"))
    try:
        keys = patient_keys(chat, [sender, *_alternates(msg.extra)])
    except ClinicDeskError:
        raise QuarantinedError("not_a_person") from None
    return CleanInbound(
        wa_id, chat, sender, keys, _sent_at(msg.timestamp, now), kind, text,
        _label(msg.push_name, 120), _mime(msg.media_mime), _label(msg.media_name, 255),
        _b64_size(msg.media_b64), _reacted_to(msg.extra) if kind == "reaction" else None,
    )  # fmt: skip


def _reacted_to(extra: object) -> str | None:
    """The id a reaction is on, when it is a well-formed one (else the reaction stands alone)."""
    value = extra.get("reacted_to") if isinstance(extra, Mapping) else None
    return value if isinstance(value, str) and _WA_ID_RE.fullmatch(value) else None


def _wa_id(value: object) -> str:
    if not isinstance(value, str) or not _WA_ID_RE.fullmatch(value):
        raise QuarantinedError("wa_id_invalid")
    return value


def _jid(value: object, optional: bool = False) -> str:
    if optional and value in (None, ""):
        return ""
    if not isinstance(value, str) or not _WA_ID_RE.fullmatch(value) or "@" not in value:
        raise QuarantinedError("jid_invalid")
    return value


def _kind(value: object) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise QuarantinedError("kind_unknown")
    return value


def _text(value: object, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise QuarantinedError("text_empty")
        return None
    if not isinstance(value, str):
        raise QuarantinedError("text_invalid")
    if len(value) > MAX_TEXT:
        raise QuarantinedError("text_too_long")
    if not _encodable(value):
        raise QuarantinedError("text_encoding")
    return _CONTROLS_BUT_LAYOUT.sub("", value)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: SQLite could not store them
        return False
    return True


def _label(value: object, limit: int) -> str | None:
    """A short display string (push name, file name), or None when unusable."""
    if not isinstance(value, str) or not _encodable(value):
        return None
    cleaned = " ".join(_CONTROLS.sub("", value).split())
    return cleaned[:limit] or None


def _mime(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and _MIME_RE.fullmatch(value) else None


def _b64_size(value: object) -> int | None:
    """Decoded size of base64 media, from its length alone (the bytes are not kept here)."""
    if not isinstance(value, str) or not value:
        return None
    return max(0, len(value) * 3 // 4 - value[-2:].count("="))


def _sent_at(value: object, now: datetime) -> datetime:
    """WhatsApp's timestamp when plausible, else the arrival time (the message is kept)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return now
    try:
        at = datetime.fromtimestamp(float(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return now
    if not _EARLIEST <= at <= now + timedelta(days=1):
        return now
    return at.replace(microsecond=(at.microsecond // 1000) * 1000)


def _alternates(extra: object) -> list[str]:
    """Other JIDs of the same person the transport saw (LID ↔ phone mapping)."""
    if not isinstance(extra, Mapping):
        return []
    found = []
    for key, suffix in ALT_KEYS:
        value = extra.get(key)
        if isinstance(value, str) and value:
            found.append(value if "@" in value else value + suffix)
    return found


def payload_of(event: TransportEvent) -> str:
    """The event as JSON for quarantine (ASCII-escaped, capped; media bytes left out)."""
    try:
        text = json.dumps(_plain(event), ensure_ascii=True, sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):  # odd keys or cycles: keep what repr shows
        text = json.dumps({"repr": repr(event)}, ensure_ascii=True)
    return text if len(text) <= MAX_PAYLOAD else text[:MAX_PAYLOAD] + "…[truncated]"


def _plain(event: TransportEvent) -> dict[str, object]:
    try:
        data = dataclasses.asdict(event)
    except (TypeError, ValueError, RecursionError):
        return {"kind": repr(event.kind), "repr": repr(event)[:MAX_PAYLOAD]}
    # The delivery reference changes from one delivery to the next; without it a redelivered
    # bad event is recognised as the one already kept.
    data.pop("ack_ref", None)
    message = data.get("message")
    if isinstance(message, dict) and message.get("media_b64"):
        message["media_b64"] = f"<{len(str(message['media_b64']))} chars>"
    return data
