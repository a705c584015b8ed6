"""Patient identity: JIDs, LIDs and the Brazilian ninth digit (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import ClinicDeskError
from app.domain.identity import (
    JidKind,
    canonical_br_digits,
    canonical_phone,
    keys_for,
    parse_jid,
    patient_keys,
)

DDD = st.integers(min_value=11, max_value=99).filter(lambda d: d % 10 != 0)
EIGHT = st.text("0123456789", min_size=7, max_size=7)


@pytest.mark.parametrize(
    ("raw", "user", "kind"),
    [
        ("5511987654321@s.whatsapp.net", "5511987654321", JidKind.PHONE),
        ("5511987654321@c.us", "5511987654321", JidKind.PHONE),
        ("5511987654321:12@s.whatsapp.net", "5511987654321", JidKind.PHONE),
        ("123456789012345@lid", "123456789012345", JidKind.LID),
        ("123456789012345:3@lid", "123456789012345", JidKind.LID),
        ("120363012345678901@g.us", "120363012345678901", JidKind.GROUP),
        ("status@broadcast", "status", JidKind.OTHER),
    ],
)
def test_parse_jid(raw: str, user: str, kind: JidKind) -> None:
    jid = parse_jid(raw)
    assert (jid.user, jid.kind) == (user, kind)


@pytest.mark.parametrize(
    "raw", ["", "@", "abc", "55119@", "@s.whatsapp.net", "55 11@s.whatsapp.net", "abc@lid"]
)
def test_malformed_jids_are_refused(raw: str) -> None:
    with pytest.raises(ClinicDeskError):
        parse_jid(raw)


def test_groups_are_not_patients() -> None:
    with pytest.raises(ClinicDeskError):
        keys_for(parse_jid("120363012345678901@g.us"))


@pytest.mark.parametrize(
    ("digits", "canonical"),
    [
        ("551187654321", "5511987654321"),  # mobile without the ninth digit
        ("5511987654321", "5511987654321"),  # already canonical
        ("551133334444", "551133334444"),  # landline (first digit 2-5): unchanged
        ("556261234567", "5562961234567"),
        ("14155552671", "14155552671"),  # not Brazilian: unchanged
    ],
)
def test_canonical_br_digits(digits: str, canonical: str) -> None:
    assert canonical_br_digits(digits) == canonical


def test_canonical_phone_is_e164() -> None:
    assert canonical_phone("551187654321") == "+5511987654321"
    assert canonical_phone("14155552671") == "+14155552671"
    assert canonical_phone("999") is None


def test_lid_and_phone_jid_of_one_person_give_both_keys() -> None:
    keys = patient_keys("123456789012345@lid", ["551187654321@s.whatsapp.net"])
    assert (keys.lid, keys.phone) == ("123456789012345", "+5511987654321")


def test_a_bad_alternate_is_ignored() -> None:
    keys = patient_keys("5511987654321@s.whatsapp.net", ["garbage", "1203630@g.us"])
    assert (keys.phone, keys.lid) == ("+5511987654321", None)


@given(DDD, st.sampled_from("6789"), EIGHT)
def test_with_and_without_the_ninth_digit_map_to_one_key(ddd: int, first: str, rest: str) -> None:
    without = f"55{ddd}{first}{rest}"
    with_nine = f"55{ddd}9{first}{rest}"
    a = keys_for(parse_jid(f"{without}@s.whatsapp.net"))
    b = keys_for(parse_jid(f"{with_nine}@c.us"))
    assert a.phone == b.phone == f"+{with_nine}"
    assert a.jid == b.jid


@given(DDD, st.sampled_from("2345"), EIGHT)
def test_landlines_are_never_given_a_ninth_digit(ddd: int, first: str, rest: str) -> None:
    digits = f"55{ddd}{first}{rest}"
    assert canonical_br_digits(digits) == digits


@given(st.text("0123456789", min_size=0, max_size=16))
def test_canonicalisation_is_idempotent(digits: str) -> None:
    once = canonical_br_digits(digits)
    assert canonical_br_digits(once) == once
    phone = canonical_phone(digits)
    if phone is not None:
        assert canonical_phone(phone[1:]) == phone


@given(st.text("0123456789", min_size=5, max_size=20))
def test_a_lid_is_never_read_as_a_phone(user: str) -> None:
    keys = keys_for(parse_jid(f"{user}@lid"))
    assert keys.phone is None
    assert keys.lid == user
    assert all(kind != "phone" for kind, _ in keys.pairs())


@given(st.text(max_size=100))
def test_parse_jid_never_fails_unexpectedly(raw: str) -> None:
    try:
        jid = parse_jid(raw)
    except ClinicDeskError:
        return
    assert "@" in jid.bare
