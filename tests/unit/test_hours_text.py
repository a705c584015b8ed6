"""Business hours as IT staff type them (``app.domain.hours_text``): read, refused with one
reason, and written back in a form that reads the same."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import ClinicDeskError
from app.domain.hours_text import hours_json, hours_text
from app.domain.tickets import WEEKDAYS

WEEK = {day: [["08:00", "12:00"], ["13:00", "18:00"]] for day in WEEKDAYS[:5]}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("seg-sex 08:00-12:00 13:00-18:00", WEEK),
        ("SEG-SEX 8:00-12:00 13:00-18:00", WEEK),  # case and a one-digit hour
        ("mon-fri 08:00-12:00 13:00-18:00", WEEK),  # English day names
        ("sáb 08:00-12:00", {"sat": [["08:00", "12:00"]]}),  # with the accent
        ("seg,qua 07:00-11:00; dom 09:00-10:00", {
            "mon": [["07:00", "11:00"]], "wed": [["07:00", "11:00"]], "sun": [["09:00", "10:00"]],
        }),
    ],
)  # fmt: skip
def test_typed_hours(typed: str, expected: dict[str, list[list[str]]]) -> None:
    assert json.loads(str(hours_json(typed))) == expected


@pytest.mark.parametrize("typed", ["", "  ", "sempre", "Always", "24h"])
def test_always_open_is_no_rule(typed: str) -> None:
    assert hours_json(typed) is None
    assert hours_text(None) == "sempre"


@pytest.mark.parametrize(
    "typed",
    ["seg", "seg 8-12", "xyz 08:00-12:00", "sex-seg 08:00-10:00", "seg 25:00-26:00",
     "seg 10:00-09:00", "seg 08:00-09:00-10:00", "seg 08:60-09:00"],
)  # fmt: skip
def test_unreadable_hours_are_refused_with_their_reason(typed: str) -> None:
    with pytest.raises(ClinicDeskError) as caught:
        hours_json(typed)
    assert caught.value.params == {"field": "hours", "reason": "hours_format"}


MINUTES = st.integers(min_value=0, max_value=23 * 60 + 58)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """Any week: each day closed or with one to three increasing intervals."""
    week = {}
    for day in WEEKDAYS:
        marks = sorted(draw(st.sets(MINUTES, max_size=6)))
        pairs = [marks[i : i + 2] for i in range(0, len(marks) - 1, 2)]
        if pairs:
            week[day] = [
                [f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}"] for a, b in pairs
            ]
    return week


@given(schedules())
def test_written_hours_read_back_the_same(week: dict[str, list[list[str]]]) -> None:
    stored = json.dumps(week) if week else None
    again = hours_json(hours_text(stored))
    assert (json.loads(again) if again else {}) == week
