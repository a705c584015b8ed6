"""The engine ↔ channel-worker protocol: versioned, newline-delimited JSON over stdin/stdout.

Every line is one JSON object ``{"v": 1, "op": ..., ...fields}``. The engine sends requests
(each with an integer ``id``); the worker answers each with ``result{id, ok, value | error}``
and, unasked, sends ``hello`` once, ``event`` for transport facts and ``heartbeat`` every few
seconds. See docs/CHANNELS.md, "Worker protocol".

Decoding is strict: a line that is not JSON, names an unknown op or version, lacks a field or
has one of the wrong type, or is longer than :data:`MAX_LINE_BYTES` raises ``WORKER_PROTOCOL``
with a ``reason`` code; the caller logs it and keeps running.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.transport import EventKind, InboundMessage, Receipt, TransportEvent

VERSION = 1
MAX_LINE_BYTES = 16 * 1024 * 1024  # a media message in base64 fits; a runaway line does not


class Op(StrEnum):
    """Engine → worker requests."""

    OPEN = "open"
    CONNECT = "connect"
    PAIR_QR = "pair_qr"
    PAIR_CODE = "pair_code"
    CANCEL_PAIRING = "cancel_pairing"
    SEND_TEXT = "send_text"
    SEND_MEDIA = "send_media"
    MARK_READ = "mark_read"
    TYPING = "typing"
    ACK = "ack"
    LOGOUT = "logout"
    CLOSE = "close"
    RECONCILE = "reconcile"
    PING = "ping"
    SHUTDOWN = "shutdown"


_CH: dict[str, type | tuple[type, ...]] = {"channel": str}
#: Required fields of each request (beyond ``v``, ``op`` and ``id``) and their JSON types.
REQUEST_FIELDS: dict[Op, dict[str, type | tuple[type, ...]]] = {
    Op.OPEN: {**_CH, "kind": str, "config": dict, "private_dir": str},
    Op.CONNECT: _CH,
    Op.PAIR_QR: _CH,
    Op.PAIR_CODE: {**_CH, "phone": str},
    Op.CANCEL_PAIRING: _CH,
    Op.SEND_TEXT: {**_CH, "to": str, "text": str, "key": str},
    Op.SEND_MEDIA: {**_CH, "to": str, "media": dict, "key": str},
    Op.MARK_READ: {**_CH, "chat": str, "ids": list},
    Op.TYPING: {**_CH, "chat": str, "on": bool},
    Op.ACK: {**_CH, "ref": str},
    Op.LOGOUT: _CH,
    Op.CLOSE: _CH,
    Op.RECONCILE: {**_CH, "since": (int, float)},
    Op.PING: {},
    Op.SHUTDOWN: {},
}


@dataclass(frozen=True, slots=True)
class Request:
    """An engine → worker request; ``args`` holds the op's fields (see REQUEST_FIELDS)."""

    id: int
    op: Op
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> str | None:
        value = self.args.get("channel")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Hello:
    """First line a worker writes: who it is and which transport kinds it can host."""

    version: int
    pid: int
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failed request: a stable code and placeholder params (never message text)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Result:
    """The answer to request ``id``: ``value`` when ok, else ``error``."""

    id: int
    ok: bool
    value: Any = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class EventMessage:
    """A fact a transport reported about ``channel``."""

    channel: str
    event: TransportEvent


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The worker's loop is alive (``at``: the worker's monotonic clock, informative only)."""

    at: float


Message = Request | Hello | Result | EventMessage | Heartbeat


def protocol_error(reason: str, **params: object) -> ClinicDeskError:
    """The error every malformed line raises; ``reason`` is a short stable code."""
    return ClinicDeskError(ErrorCode.WORKER_PROTOCOL, reason=reason, **params)


# ---- encoding -------------------------------------------------------------------------------


def encode(msg: Message) -> bytes:
    """``msg`` as one JSON line (UTF-8, ending in ``\\n``)."""
    body = {"v": VERSION, **_fields_of(msg)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _fields_of(msg: Message) -> dict[str, Any]:
    if isinstance(msg, Request):
        return {"op": msg.op.value, "id": msg.id, **msg.args}
    if isinstance(msg, Hello):
        return {"op": "hello", "version": msg.version, "pid": msg.pid, "kinds": list(msg.kinds)}
    if isinstance(msg, Result):
        return _result_fields(msg)
    if isinstance(msg, EventMessage):
        return {"op": "event", "channel": msg.channel, "event": event_to_dict(msg.event)}
    return {"op": "heartbeat", "at": msg.at}


def _result_fields(msg: Result) -> dict[str, Any]:
    if msg.ok:
        return {"op": "result", "id": msg.id, "ok": True, "value": msg.value}
    error = msg.error or ErrorInfo(ErrorCode.WORKER_PROTOCOL.value)
    body = {"code": error.code, "params": dict(error.params)}
    return {"op": "result", "id": msg.id, "ok": False, "error": body}


def event_to_dict(event: TransportEvent) -> dict[str, Any]:
    """A JSON-ready dict of ``event``, leaving out fields that are None."""
    raw = dataclasses.asdict(event)
    if event.message is not None:
        raw["message"] = {k: v for k, v in raw["message"].items() if v is not None}
        raw["message"]["extra"] = dict(event.message.extra)
    return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in raw.items() if v is not None}


# ---- decoding -------------------------------------------------------------------------------


def decode(line: bytes | str) -> Message:
    """Parse one line; raises ``WORKER_PROTOCOL`` (reason code in params) if it is malformed."""
    data = line.encode() if isinstance(line, str) else line
    if len(data) > MAX_LINE_BYTES:
        raise protocol_error("line_too_long", size=len(data))
    body = _json_object(data)
    if body.get("v") != VERSION:
        raise protocol_error("unsupported_version", version=str(body.get("v")))
    op = body.get("op")
    if not isinstance(op, str):
        raise protocol_error("missing_field", field="op")
    return _decode_op(op, body)


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise protocol_error("not_json") from None
    if not isinstance(body, dict):
        raise protocol_error("not_an_object")
    return body


def _decode_op(op: str, body: dict[str, Any]) -> Message:
    decoder = _WORKER_DECODERS.get(op)
    if decoder is not None:
        return decoder(body)
    try:
        return _decode_request(Op(op), body)
    except ValueError:
        raise protocol_error("unknown_op", op=op[:40]) from None


def _require(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``body[name]`` if present and of JSON type ``kind`` (a bool is not an int here)."""
    if name not in body:
        raise protocol_error("missing_field", field=name)
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise protocol_error("wrong_type", field=name)
    if not isinstance(value, kinds):
        raise protocol_error("wrong_type", field=name)
    return value


def _optional(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    return None if body.get(name) is None else _require(body, name, kind)


def _decode_request(op: Op, body: dict[str, Any]) -> Request:
    request_id = _require(body, "id", int)
    args = {name: _require(body, name, kind) for name, kind in REQUEST_FIELDS[op].items()}
    extras = {k: v for k, v in body.items() if k not in {"v", "op", "id", *args}}
    return Request(request_id, op, {**extras, **args})


def _decode_hello(body: dict[str, Any]) -> Hello:
    kinds = _require(body, "kinds", list)
    if not all(isinstance(k, str) for k in kinds):
        raise protocol_error("wrong_type", field="kinds")
    return Hello(_require(body, "version", int), _require(body, "pid", int), tuple(kinds))


def _decode_result(body: dict[str, Any]) -> Result:
    request_id = _require(body, "id", int)
    if _require(body, "ok", bool):
        return Result(request_id, True, body.get("value"))
    error = _require(body, "error", dict)
    params = _optional(error, "params", dict) or {}
    return Result(request_id, False, None, ErrorInfo(_require(error, "code", str), params))


def _decode_event(body: dict[str, Any]) -> EventMessage:
    channel = _require(body, "channel", str)
    return EventMessage(channel, event_from_dict(_require(body, "event", dict)))


def _decode_heartbeat(body: dict[str, Any]) -> Heartbeat:
    return Heartbeat(float(_require(body, "at", (int, float))))


_WORKER_DECODERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "hello": _decode_hello,
    "result": _decode_result,
    "event": _decode_event,
    "heartbeat": _decode_heartbeat,
}


def _enum(kind: type[StrEnum], raw: Mapping[str, Any], name: str) -> Any:
    value = _optional(raw, name, str)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise protocol_error("unknown_value", field=name) from None


_EVENT_TEXT = ("channel", "detail", "qr", "code", "wa_id", "ack_ref")


def event_from_dict(raw: Mapping[str, Any]) -> TransportEvent:
    """The :class:`TransportEvent` in ``raw``; raises ``WORKER_PROTOCOL`` if it is malformed."""
    kind = _enum(EventKind, raw, "kind")
    if kind is None:
        raise protocol_error("missing_field", field="kind")
    text = {name: _optional(raw, name, str) for name in _EVENT_TEXT}
    if text["channel"] is None:
        raise protocol_error("missing_field", field="channel")
    message = _optional(raw, "message", dict)
    return TransportEvent(
        kind=kind,
        reason=_enum(Reason, raw, "reason"),
        until=_optional(raw, "until", (int, float)),
        receipt=_enum(Receipt, raw, "receipt"),
        progress=_optional(raw, "progress", (int, float)),
        message=None if message is None else message_from_dict(message),
        **text,
    )


_MESSAGE_REQUIRED = {"wa_id": str, "chat_jid": str, "sender_jid": str}
_MESSAGE_OPTIONAL = ("kind", "text", "push_name", "media_b64", "media_mime", "media_name")


def message_from_dict(raw: Mapping[str, Any]) -> InboundMessage:
    """The :class:`InboundMessage` in ``raw``; raises ``WORKER_PROTOCOL`` if it is malformed."""
    required = {name: _require(raw, name, kind) for name, kind in _MESSAGE_REQUIRED.items()}
    optional = {name: _optional(raw, name, str) for name in _MESSAGE_OPTIONAL}
    optional = {k: v for k, v in optional.items() if v is not None}
    timestamp = float(_require(raw, "timestamp", (int, float)))
    extra = _optional(raw, "extra", dict) or {}
    return InboundMessage(**required, timestamp=timestamp, extra=extra, **optional)
