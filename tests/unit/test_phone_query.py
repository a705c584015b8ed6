"""What a typed search means as a phone number (``app.services.search.phone_query``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.search import PhoneQuery, phone_query


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("(11) 98765-4321", PhoneQuery("11987654321", "+5511987654321")),
        ("11 8765-4321", PhoneQuery("1187654321", "+5511987654321")),  # ninth digit restored
        ("+55 (11) 98765-4321", PhoneQuery("5511987654321", "+5511987654321")),
        ("011 98765.4321", PhoneQuery("011987654321", "+5511987654321")),
        ("(11) 3333-4444", PhoneQuery("1133334444", "+551133334444")),  # a landline stays
        ("4321", PhoneQuery("4321")),  # the last digits: matched anywhere
        ("98765-4321", PhoneQuery("987654321")),  # no DDD: not a whole number
        ("+351 912 345 678", PhoneQuery("351912345678", "+351912345678")),  # with its +
    ],
)
def test_typed_numbers(typed: str, expected: PhoneQuery) -> None:
    assert phone_query(typed) == expected


@pytest.mark.parametrize("typed", ["Maria", "123", "Maria 98765-4321", "2 pessoas", "", "  ", "--"])
def test_names_and_short_numbers_are_not_phone_searches(typed: str) -> None:
    assert phone_query(typed) is None


DDD = st.integers(min_value=11, max_value=99).filter(lambda d: d % 10 != 0)


@given(ddd=DDD, local=st.integers(min_value=0, max_value=9999_9999), style=st.integers(0, 4))
def test_every_way_of_writing_a_mobile_finds_the_same_number(
    ddd: int, local: int, style: int
) -> None:
    eight = f"{local:08d}"
    nine = "9" + eight
    written = [
        f"({ddd}) {nine[:5]}-{nine[5:]}",
        f"{ddd} {nine}",
        f"+55 {ddd} {nine[:5]} {nine[5:]}",
        f"0{ddd}{nine}",
        f"({ddd}) {eight[:4]}-{eight[4:]}",  # the pre-2016 form, when it was a mobile
    ][style]
    found = phone_query(written)
    assert found is not None
    if style < 4 or eight[0] in "6789":
        assert found.e164 == f"+55{ddd}{nine}"
    else:
        assert found.e164 == f"+55{ddd}{eight}"  # a landline keeps its eight digits
