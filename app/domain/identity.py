"""Patient identity on WhatsApp: JIDs, LIDs and the Brazilian ninth digit (pure).

One patient can reach a clinic as ``5511987654321@s.whatsapp.net`` (phone JID, also spelt
``…@c.us``), as ``123456789012345@lid`` (WhatsApp's privacy id) and, for older accounts, as a
Brazilian mobile number *without* the ninth digit (``551187654321``). Peers split such patients
into several contacts and tickets (PEERS_AND_USER_PAINS §2-E/F); here every form maps to lookup
keys, and one key is enough to find the one contact.

Keys never mix kinds: a LID is never read as a phone number, even when it is all digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from app.domain.errors import ClinicDeskError, ErrorCode

PHONE_SERVERS = frozenset({"s.whatsapp.net", "c.us"})
LID_SERVER = "lid"
GROUP_SERVER = "g.us"
MAX_JID = 80  # the column width of messages.chat_jid / sender_jid
_USER_RE = re.compile(r"^[0-9]{5,20}$")  # phone users and LIDs are digit strings
_SERVER_RE = re.compile(r"^[a-z0-9.-]{1,40}$")
BR_COUNTRY = "55"
BR_MOBILE_FIRST = frozenset("6789")  # first local digit of an 8-digit (pre-2016) mobile
PHONE_TYPED = re.compile(r"[\d\s()+.\-]+")  # what people type for a phone number


class JidKind(StrEnum):
    """What a JID names."""

    PHONE = "phone"  # a person by phone number
    LID = "lid"  # a person by WhatsApp's LID (no phone number visible)
    GROUP = "group"  # a group chat: not a patient
    OTHER = "other"  # broadcast, newsletter, server ids: not a patient


@dataclass(frozen=True, slots=True)
class Jid:
    """A parsed JID without its device part (``user:device@server`` → ``user@server``)."""

    user: str
    server: str
    kind: JidKind

    @property
    def bare(self) -> str:
        """``user@server``, the form stored and compared."""
        return f"{self.user}@{self.server}"

    @property
    def is_person(self) -> bool:
        return self.kind in (JidKind.PHONE, JidKind.LID)


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """The keys one patient can be looked up by (phone: canonical E.164; lid: digits)."""

    jid: str
    phone: str | None = None
    lid: str | None = None

    def pairs(self) -> list[tuple[str, str]]:
        """``(kind, value)`` pairs, strongest first: phone, lid, then the raw JID."""
        found = [("phone", self.phone), ("lid", self.lid), ("jid", self.jid)]
        return [(kind, value) for kind, value in found if value]


def _bad(field: str) -> ClinicDeskError:
    return ClinicDeskError(ErrorCode.INVALID_INPUT, field=field)


def parse_jid(raw: str) -> Jid:
    """Parse ``raw`` or raise ``input.invalid`` (field ``jid``) for anything malformed."""
    text = raw.strip().lower()
    user_part, at, server = text.rpartition("@")
    if not at or not user_part or len(text) > MAX_JID or not _SERVER_RE.fullmatch(server):
        raise _bad("jid")
    user = user_part.split(":", 1)[0].split(".", 1)[0]  # drop ":device" and ".agent"
    kind = _kind_of(server)
    if kind in (JidKind.PHONE, JidKind.LID) and not _USER_RE.fullmatch(user):
        raise _bad("jid")
    if not user or not user.isascii() or not user.replace("-", "").isalnum():
        raise _bad("jid")
    return Jid(user, server, kind)


def _kind_of(server: str) -> JidKind:
    if server in PHONE_SERVERS:
        return JidKind.PHONE
    if server == LID_SERVER:
        return JidKind.LID
    return JidKind.GROUP if server == GROUP_SERVER else JidKind.OTHER


def canonical_br_digits(digits: str) -> str:
    """A Brazilian number (``55`` + DDD + local) in its canonical form, WITH the ninth digit.

    A 12-digit mobile (first local digit 6–9) gets the ``9`` inserted after the DDD; landlines
    (first local digit 2–5), 13-digit numbers and anything not Brazilian come back unchanged.
    """
    if not _is_br_shape(digits) or len(digits) != 12:
        return digits
    ddd, local = digits[2:4], digits[4:]
    return f"{BR_COUNTRY}{ddd}9{local}" if local[0] in BR_MOBILE_FIRST else digits


def _is_br_shape(digits: str) -> bool:
    """``55``, a DDD of two non-zero digits, and 8 or 9 local digits."""
    if not (digits.isascii() and digits.isdigit() and digits.startswith(BR_COUNTRY)):
        return False
    return len(digits) in (12, 13) and "0" not in digits[2:4]


def canonical_phone(digits: str) -> str | None:
    """E.164 (``+5511987654321``) for the digits of a phone JID, or None if not a number.

    Brazilian numbers are judged by shape (the ninth digit restored) rather than by
    phonenumbers' validity tables, so a new DDD range never splits a patient in two.
    """
    canon = canonical_br_digits(digits)
    if _is_br_shape(canon):
        # What phonenumbers would give (no zero in the DDD: the national number keeps every
        # digit), without its parse: 100 µs, the costliest step of an inbound message.
        return f"+{canon}"
    return _library_e164(canon)


def typed_phone(text: str) -> str | None:
    """E.164 for a whole phone number as people type it, or None.

    With a leading ``+`` any country's number (its country code first); without, a Brazilian
    number with its DDD, with or without ``55`` or a trunk ``0`` ("(11) 98765-4321",
    "011 8765-4321"), the ninth digit restored as for inbound numbers. Only digits, spaces and
    ``()+-.`` are allowed.
    """
    if not PHONE_TYPED.fullmatch(text.strip() or "x"):
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.strip().startswith("+"):
        return canonical_phone(digits) if digits else None
    national = digits.lstrip("0")  # the trunk prefix of a long-distance call
    if len(national) in (10, 11):
        national = BR_COUNTRY + national
    if len(national) not in (12, 13) or not national.startswith(BR_COUNTRY):
        return None
    return canonical_phone(national)


def _library_e164(canon: str) -> str | None:
    """E.164 by phonenumbers' own parse and validity tables (numbers of other countries)."""
    try:
        number = phonenumbers.parse(f"+{canon}", None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def keys_for(jid: Jid) -> IdentityKeys:
    """The lookup keys of a person's JID (raises ``input.invalid`` for groups and others)."""
    if jid.kind is JidKind.LID:
        return IdentityKeys(jid=jid.bare, lid=jid.user)
    if jid.kind is JidKind.PHONE:
        phone = canonical_phone(jid.user)
        return IdentityKeys(jid=_phone_jid(jid, phone), phone=phone)
    raise _bad("jid")


def _phone_jid(jid: Jid, phone: str | None) -> str:
    """One spelling for phone JIDs: ``c.us`` and a missing ninth digit collapse to one."""
    digits = phone[1:] if phone else jid.user
    return f"{digits}@s.whatsapp.net"


def merge_keys(first: IdentityKeys, other: IdentityKeys) -> IdentityKeys:
    """Keys of one person seen under two JIDs (e.g. a LID with its phone JID)."""
    return IdentityKeys(jid=first.jid, phone=first.phone or other.phone, lid=first.lid or other.lid)


def patient_keys(chat_jid: str, alternates: list[str]) -> IdentityKeys:
    """All keys of the patient behind ``chat_jid``, plus any alternate JIDs the event carries.

    Raises ``input.invalid`` when ``chat_jid`` is not a person; a malformed alternate is
    ignored (it adds nothing reliable, and the message itself is fine).
    """
    keys = keys_for(parse_jid(chat_jid))
    for alternate in alternates:
        try:
            other = parse_jid(alternate)
        except ClinicDeskError:
            continue
        if other.is_person:
            keys = merge_keys(keys, keys_for(other))
    return keys
