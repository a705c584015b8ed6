"""neonize/whatsmeow protobufs → the engine's reasons, receipts and inbound messages."""

from __future__ import annotations

import pytest
from neonize.proto import Neonize_pb2 as pb
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from app.channels.transports import wa_mapping as m
from app.domain.channels import LinkState, Reason, outcome_of
from app.services.inbound_validate import validate
from app.services.transport import EventKind, Receipt, TransportEvent
from app.store.types import utcnow


@pytest.mark.parametrize(
    ("enum", "reason", "state", "detail"),
    [
        (2, Reason.LOGGED_OUT, LinkState.QR_REQUIRED, "401"),
        (3, Reason.TEMP_BANNED, LinkState.SUSPENDED, "402"),
        (4, Reason.MAIN_DEVICE_GONE, LinkState.ERROR, "403"),
        (5, Reason.BANNED, LinkState.ERROR, "406"),
        (6, Reason.CLIENT_OUTDATED, LinkState.ERROR, "405"),
        (7, Reason.CLIENT_OUTDATED, LinkState.ERROR, "409"),
        (8, Reason.SERVER_UNAVAILABLE, LinkState.CONNECTING, "500"),
        (10, Reason.SERVER_UNAVAILABLE, LinkState.CONNECTING, "503"),
        (1, Reason.CONNECT_FAILED, LinkState.DISCONNECTED, "400"),
        (77, Reason.CONNECT_FAILED, LinkState.DISCONNECTED, "enum:77"),
    ],
)
def test_failure_reasons(enum: int, reason: Reason, state: LinkState, detail: str) -> None:
    fact = m.failure_fact(enum)
    assert (fact.reason, fact.detail) == (reason, detail)
    assert outcome_of(fact.reason).state is state


def test_temporary_ban_carries_its_expiry_and_code() -> None:
    fact = m.temp_ban_fact(2, 3600, now=1000.0)
    assert (fact.reason, fact.detail, fact.until) == (Reason.TEMP_BANNED, "402:102", 4600.0)
    assert m.temp_ban_fact(5, 0, now=1.0).until is None


def test_receipt_types() -> None:
    assert [m.receipt_of(t) for t in (1, 4, 6, 8)] == [
        Receipt.DELIVERED, Receipt.READ, Receipt.READ, Receipt.FAILED,
    ]  # fmt: skip
    assert [m.receipt_of(t) for t in (2, 3, 5, 7, 11)] == [None] * 5


def _jid(text: str) -> pb.JID:
    user, _, server = text.partition("@")
    return pb.JID(User=user, Server=server, RawAgent=0, Device=3, Integrator=0)


def _event(message: e2e.Message, *, sender: str, alt: str = "", group: bool = False) -> pb.Message:
    chat = "120363@g.us" if group else "5511987654321@s.whatsapp.net"
    source = pb.MessageSource(Chat=_jid(chat), Sender=_jid(sender), IsFromMe=False, IsGroup=group)
    if alt:
        source.SenderAlt.CopyFrom(_jid(alt))
    info = pb.MessageInfo(MessageSource=source, ID="3A1", Timestamp=1_790_000_000, Pushname="Ana")
    return pb.Message(Info=info, Message=message)


def test_text_from_a_lid_sender_keeps_the_phone_as_alternate_and_validates() -> None:
    ev = _event(
        e2e.Message(conversation="oi"), sender="99887766@lid", alt="5511987654321@s.whatsapp.net"
    )
    kind = m.kind_of(ev.Message)
    msg = m.normalise(ev, kind or "")
    assert (kind, msg.text, msg.sender_jid) == ("text", "oi", "99887766@lid")
    assert msg.extra == {"phone_jid": "5511987654321@s.whatsapp.net"}
    clean = validate(TransportEvent(EventKind.INBOUND, "1", message=msg), utcnow())
    assert clean.kind == "text"


def test_media_location_contact_and_quotes() -> None:
    image = e2e.Message(imageMessage=e2e.ImageMessage(mimetype="image/jpeg", caption="exame"))
    image.imageMessage.contextInfo.stanzaID = "Q1"
    msg = m.normalise(_event(image, sender="5511987654321@s.whatsapp.net"), "image")
    assert (msg.kind, msg.text, msg.media_mime, msg.extra) == (
        "image", "exame", "image/jpeg", {"quoted_id": "Q1"},
    )  # fmt: skip
    doc = e2e.Message(
        documentMessage=e2e.DocumentMessage(mimetype="application/pdf", fileName="r.pdf")
    )
    assert m.normalise(_event(doc, sender="1@s.whatsapp.net"), "document").media_name == "r.pdf"
    loc = e2e.Message(
        locationMessage=e2e.LocationMessage(degreesLatitude=-23.5, degreesLongitude=-46.6)
    )
    assert m.kind_of(loc) == "location"
    extra = m.normalise(_event(loc, sender="1@s.whatsapp.net"), "location").extra
    assert (extra["latitude"], extra["longitude"]) == (-23.5, -46.6)
    card = e2e.Message(contactMessage=e2e.ContactMessage(displayName="Dr", vcard="BEGIN:VCARD"))
    assert m.normalise(_event(card, sender="1@s.whatsapp.net"), "contact").extra == {
        "contacts": [{"name": "Dr", "vcard": "BEGIN:VCARD"}]
    }


def test_groups_and_unknown_kinds_are_not_person_messages() -> None:
    group = _event(e2e.Message(conversation="x"), sender="1@s.whatsapp.net", group=True)
    assert not m.is_person_chat(group.Info.MessageSource)
    assert m.kind_of(e2e.Message()) is None


def test_a_reaction_carries_its_emoji_and_the_message_it_is_on() -> None:
    liked = e2e.Message(reactionMessage=e2e.ReactionMessage(text="👍"))
    liked.reactionMessage.key.ID = "3EB0REMINDER"
    assert m.kind_of(liked) == "reaction"
    msg = m.normalise(_event(liked, sender="5511987654321@s.whatsapp.net"), "reaction")
    assert (msg.kind, msg.text, msg.extra) == ("reaction", "👍", {"reacted_to": "3EB0REMINDER"})
    clean = validate(TransportEvent(EventKind.INBOUND, "1", message=msg), utcnow())
    assert (clean.kind, clean.text, clean.reacted_to) == ("reaction", "👍", "3EB0REMINDER")
    taken_back = e2e.Message(reactionMessage=e2e.ReactionMessage(text=""))
    back = m.normalise(_event(taken_back, sender="1@s.whatsapp.net"), "reaction")
    assert back.text is None  # the handler drops it: taking a reaction back is no message
