"""The simulator's wire protocol (version 1), shared by the server and the simulator transport.

One WebSocket per account at ``ws://HOST:PORT/ws?account=NAME``; every frame is one JSON object
``{"v": 1, "type": ..., ...}``. docs/SIMULATOR.md describes every message. This module is pure:
no I/O, no server imports, so the transport can import it cheaply.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

VERSION = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8766
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
WS_PATH = "/ws"
#: Largest frame either side accepts (base64 media up to ~12 MB).
MAX_FRAME = 16 * 1024 * 1024

# transport → server
HELLO = "hello"
PAIR_QR = "pair_qr"
PAIR_CODE = "pair_code"
CANCEL_PAIRING = "cancel_pairing"
SEND = "send"
MARK_READ = "mark_read"
TYPING = "typing"
ACK = "ack"
LOGOUT = "logout"
# server → transport (PAIR_CODE is used both ways)
STATE = "state"
QR = "qr"
PAIRED = "paired"
INBOUND = "inbound"
RECEIPT = "receipt"
RESULT = "result"
ERROR = "error"

# Close codes (4000 + the WhatsApp status the simulator mimics). A "state" frame naming the
# reason is always sent before a close with one of these codes, except for DROP (a plain drop).
CLOSE_NORMAL = 1000
CLOSE_LOGGED_OUT = 4401
CLOSE_TEMP_BANNED = 4402
CLOSE_BANNED = 4406
CLOSE_CONNECTION_LOST = 4408
CLOSE_REPLACED = 4440
CLOSE_PROTOCOL = 4400
CLOSE_UNAVAILABLE = 4503

# Error codes in "result"/"error" frames.
ERR_MALFORMED = "malformed"
ERR_NOT_PAIRED = "not_paired"
ERR_BAD_RECIPIENT = "bad_recipient"
ERR_BAD_PHONE = "bad_phone"
ERR_ALREADY_PAIRED = "already_paired"
ERR_UNKNOWN_TYPE = "unknown_type"

JID_SUFFIX = "@s.whatsapp.net"


class ProtocolError(ValueError):
    """A frame that is not valid JSON, not an object, of another version or without a type."""


def encode(kind: str, **fields: Any) -> str:
    """One frame as JSON text; ``None`` fields are left out."""
    frame: dict[str, Any] = {"v": VERSION, "type": kind}
    frame.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def decode(raw: str | bytes) -> dict[str, Any]:
    """Parse one frame; raises :class:`ProtocolError` (never echoing the content)."""
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("not_json") from exc
    if not isinstance(frame, dict):
        raise ProtocolError("not_object")
    if frame.get("v") != VERSION:
        raise ProtocolError("bad_version")
    if not isinstance(frame.get("type"), str):
        raise ProtocolError("no_type")
    return frame


def ws_url(base_url: str, account: str) -> str:
    """``http://h:p`` (or ``ws://h:p``) → ``ws://h:p/ws?account=NAME``."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "ws")
    return urlunsplit((scheme, parts.netloc, WS_PATH, f"account={quote(account, safe='')}", ""))


def http_url(base_url: str) -> str:
    """The control API's base URL for a simulator address given as http(s) or ws(s)."""
    parts = urlsplit(base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme or "http")
    return urlunsplit((scheme, parts.netloc, "", "", "")).rstrip("/")


def is_user_jid(value: object) -> bool:
    """``5511987654321@s.whatsapp.net``: 8-15 digits then the user suffix."""
    if not isinstance(value, str) or not value.endswith(JID_SUFFIX):
        return False
    user = value[: -len(JID_SUFFIX)]
    return user.isdigit() and 8 <= len(user) <= 15
