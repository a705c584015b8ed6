"""Business hours as IT staff type them, and back: ``seg-sex 08:00-12:00 13:00-18:00; sab
08:00-12:00``.

Days in Portuguese (``dom seg ter qua qui sex sab``, accents optional) or English (``sun mon
… sat``); a range (``seg-sex``) runs in week order, a list (``seg,qua``) names days one by
one. Each group names its days, then one or more ``HH:MM-HH:MM`` intervals; groups are
separated by ``;`` (or new lines). Days not named are closed. ``sempre`` (or ``always``, or
nothing) means no rule: always open. The result is the JSON that
:func:`app.domain.tickets.parse_hours` reads, and it is checked by it.
"""

from __future__ import annotations

import json
import re
import unicodedata

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.tickets import WEEKDAYS, parse_hours

_PT = ("seg", "ter", "qua", "qui", "sex", "sab", "dom")  # in WEEKDAYS order
DAY_NAMES = dict(zip(_PT, WEEKDAYS, strict=True)) | {day: day for day in WEEKDAYS}
ALWAYS = frozenset({"", "sempre", "always", "24h"})
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def _bad() -> ClinicDeskError:
    return ClinicDeskError(ErrorCode.INVALID_INPUT, field="hours", reason="hours_format")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def hours_json(text: str) -> str | None:
    """The business-hours JSON for ``text`` (None: always open); ``input.invalid`` (field
    ``hours``, reason ``hours_format``) when it cannot be read."""
    folded = _fold(text).strip()
    if folded in ALWAYS:
        return None
    hours: dict[str, list[list[str]]] = {}
    for group in re.split(r"[;\n]", folded):
        if group.strip():
            _add_group(hours, group.split())
    raw = json.dumps({day: hours[day] for day in WEEKDAYS if day in hours})
    try:
        parse_hours(raw)  # the rule the engine applies: overlaps are fine, empty spans not
    except ClinicDeskError:
        raise _bad() from None
    return raw


def _add_group(hours: dict[str, list[list[str]]], words: list[str]) -> None:
    days, spans = words[0], words[1:]
    if not spans:
        raise _bad()
    for day in _days(days):
        hours.setdefault(day, []).extend(_span(span) for span in spans)


def _days(text: str) -> list[str]:
    """``seg-sex`` → mon … fri; ``seg,qua`` → mon, wed."""
    found: list[str] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise _bad()
        start, end = WEEKDAYS.index(DAY_NAMES[first]), WEEKDAYS.index(DAY_NAMES[last or first])
        if end < start:
            raise _bad()
        found.extend(WEEKDAYS[start : end + 1])
    return found


def _span(text: str) -> list[str]:
    """``8:00-12:00`` → ``["08:00", "12:00"]``."""
    parts = text.split("-")
    if len(parts) != 2:
        raise _bad()
    return [_clock(part) for part in parts]


def _clock(text: str) -> str:
    match = _TIME.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise _bad()
    return f"{int(match[1]):02d}:{match[2]}"


def hours_text(raw: str | None) -> str:
    """The Portuguese text form of stored business hours (``sempre`` for no rule); days with
    the same intervals are written together (``seg-sex 08:00-18:00; sab 08:00-12:00``)."""
    hours = json.loads(raw) if raw and raw.strip() else None
    if not hours:
        return "sempre"
    groups: list[tuple[list[int], list[list[str]]]] = []
    for index, day in enumerate(WEEKDAYS):
        spans = hours.get(day)
        if not spans:
            continue
        if groups and groups[-1][1] == spans and groups[-1][0][-1] == index - 1:
            groups[-1][0].append(index)
        else:
            groups.append(([index], spans))
    return "; ".join(_group_text(days, spans) for days, spans in groups)


def _group_text(days: list[int], spans: list[list[str]]) -> str:
    name = _PT[days[0]] if len(days) == 1 else f"{_PT[days[0]]}-{_PT[days[-1]]}"
    return " ".join([name, *(f"{a}-{b}" for a, b in spans)])
