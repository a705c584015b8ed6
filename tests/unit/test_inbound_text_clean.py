"""The inbound validator's cleaning of text and labels, and the Brazilian phone shortcut, give
exactly what the slower reference definitions give (Unicode category Cc; phonenumbers)."""

from __future__ import annotations

import unicodedata

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.identity import canonical_br_digits, canonical_phone
from app.services.inbound_validate import QuarantinedError, _label, _text

LAYOUT = frozenset("\t\n\r")
# Text near the control ranges (C0, DEL, C1) and beyond, so both sides of each edge come up.
# (Lone surrogates are left out: the validator refuses them outright, "text_encoding".)
CHARS = st.characters(max_codepoint=0x2FF, exclude_categories=("Cs",)) | st.characters(
    exclude_categories=("Cs",)
)


def reference_text(value: str) -> str:
    return "".join(c for c in value if c in LAYOUT or unicodedata.category(c) != "Cc")


def reference_label(value: str, limit: int) -> str | None:
    kept = "".join(c for c in value if unicodedata.category(c) != "Cc")
    return " ".join(kept.split())[:limit] or None


@given(st.text(CHARS, min_size=1, max_size=200))
def test_text_drops_exactly_the_control_characters_but_layout(value: str) -> None:
    assert _text(value, required=False) == reference_text(value)


@given(st.text(CHARS, max_size=200), st.integers(min_value=1, max_value=80))
def test_labels_drop_every_control_character_and_fold_spaces(value: str, limit: int) -> None:
    assert _label(value, limit) == reference_label(value, limit)


def test_a_message_keeps_its_layout_and_loses_its_controls() -> None:
    assert _text("linha\x00 um\r\n\tdois\x1b\x7f\x85", required=True) == "linha um\r\n\tdois"


@given(
    st.integers(min_value=11, max_value=99).filter(lambda ddd: ddd % 10 != 0),
    st.sampled_from([8, 9]),
    st.integers(min_value=0, max_value=999_999_999),
)
def test_brazilian_numbers_get_what_phonenumbers_gives(ddd: int, size: int, local: int) -> None:
    digits = f"55{ddd}{local % 10**size:0{size}d}"
    expected = phonenumbers.format_number(
        phonenumbers.parse(f"+{canonical_br_digits(digits)}", None),
        phonenumbers.PhoneNumberFormat.E164,
    )
    assert canonical_phone(digits) == expected


def test_other_countries_still_go_through_the_validity_tables() -> None:
    assert canonical_phone("14155552671") == "+14155552671"
    assert canonical_phone("1415555267") is None  # one digit short: not a US number


def test_a_lone_surrogate_is_refused_not_cleaned() -> None:
    with pytest.raises(QuarantinedError) as refused:
        _text("consulta \ud800", required=False)
    assert refused.value.reason == "text_encoding"
