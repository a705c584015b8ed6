"""The worker protocol: every message survives a round trip; malformed lines fail clearly."""

from __future__ import annotations

import json

import pytest

from app.channels.protocol import (
    MAX_LINE_BYTES,
    REQUEST_FIELDS,
    ErrorInfo,
    EventMessage,
    Heartbeat,
    Hello,
    Message,
    Op,
    Request,
    Result,
    decode,
    encode,
)
from app.domain.channels import Reason
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.transport import EventKind, InboundMessage, Receipt, TransportEvent

SAMPLE_ARGS: dict[object, object] = {
    str: "x", dict: {"a": 1}, list: ["1", "2"], bool: True, (int, float): 1.5,
}  # fmt: skip

INBOUND = InboundMessage(
    wa_id="ABC",
    chat_jid="c@s.whatsapp.net",
    sender_jid="s@s.whatsapp.net",
    timestamp=1700000000.5,
    text="olá",
    extra={"quoted": "XYZ"},
)
MESSAGES: list[Message] = [
    Hello(1, 4242, ("simulator",)),
    Result(7, True, {"wa_id": "W1"}),
    Result(8, False, error=ErrorInfo("channel.not_running", {"channel_id": 3})),
    Heartbeat(12.5),
    EventMessage("3", TransportEvent(EventKind.STATE, "3", Reason.TEMP_BANNED, until=1.0e9)),
    EventMessage("3", TransportEvent(EventKind.INBOUND, "3", message=INBOUND, ack_ref="r1")),
    EventMessage("3", TransportEvent(EventKind.RECEIPT, "3", wa_id="W1", receipt=Receipt.READ)),
    EventMessage("3", TransportEvent(EventKind.QR, "3", qr="2@abc")),
    *(
        Request(n, op, {name: SAMPLE_ARGS[kind] for name, kind in REQUEST_FIELDS[op].items()})
        for n, op in enumerate(Op, start=1)
    ),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Message) -> None:
    line = encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == msg


def _line(**body: object) -> bytes:
    return json.dumps(body).encode()


MALFORMED = {
    "not_json": b"{nope",
    "not_an_object": b"[1, 2]",
    "unsupported_version": _line(v=2, op="ping", id=1),
    "missing_version": _line(op="ping", id=1),
    "unknown_op": _line(v=1, op="explode", id=1),
    "missing_op": _line(v=1, id=1),
    "missing_id": _line(v=1, op="ping"),
    "bool_id": _line(v=1, op="ping", id=True),
    "missing_field": _line(v=1, op="send_text", id=1, channel="3", to="x", text="y"),
    "wrong_type": _line(v=1, op="typing", id=1, channel="3", chat="c", on="yes"),
    "bad_event_kind": _line(v=1, op="event", channel="3", event={"kind": "boom", "channel": "3"}),
    "bad_reason": _line(
        v=1, op="event", channel="3", event={"kind": "state", "channel": "3", "reason": "?"}
    ),
    "bad_message": _line(
        v=1, op="event", channel="3", event={"kind": "inbound", "channel": "3", "message": {}}
    ),
    "result_without_error": _line(v=1, op="result", id=1, ok=False),
    "hello_kinds_not_text": _line(v=1, op="hello", version=1, pid=1, kinds=[1]),
}

EXPECTED_REASON = {
    "missing_version": "unsupported_version",
    "missing_op": "missing_field",
    "missing_id": "missing_field",
    "bool_id": "wrong_type",
    "bad_event_kind": "unknown_value",
    "bad_reason": "unknown_value",
    "bad_message": "missing_field",
    "result_without_error": "missing_field",
    "hello_kinds_not_text": "wrong_type",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_line_raises_protocol_error(name: str) -> None:
    with pytest.raises(ClinicDeskError) as info:
        decode(MALFORMED[name])
    assert info.value.code is ErrorCode.WORKER_PROTOCOL
    assert info.value.params["reason"] == EXPECTED_REASON.get(name, name)


def test_oversized_line_is_refused_before_parsing() -> None:
    line = b'{"v":1,"op":"ping","id":1,"pad":"' + b"x" * MAX_LINE_BYTES + b'"}'
    with pytest.raises(ClinicDeskError) as info:
        decode(line)
    assert info.value.params["reason"] == "line_too_long"


def test_unknown_extra_fields_are_kept_for_newer_engines() -> None:
    msg = decode(_line(v=1, op="connect", id=5, channel="3", hint="fast"))
    assert msg == Request(5, Op.CONNECT, {"channel": "3", "hint": "fast"})


def test_line_splitter_cuts_lines_across_chunks_and_skips_oversized_tails() -> None:
    from app.channels.worker import LineSplitter

    splitter = LineSplitter(cap=8)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\nde\n") == [b"abc\n", b"de\n"]
    assert splitter.feed(b"0123456789") == [b"012345678"]  # cap + 1: fails as too long
    assert splitter.feed(b"more tail") == []
    assert splitter.feed(b"end\nok\n") == [b"ok\n"]
