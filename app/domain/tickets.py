"""Ticket rules (pure): status transitions, the reopen window, business hours, the numbered
menu and quick-reply placeholders.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import ClinicDeskError, ErrorCode

DEFAULT_REOPEN_WINDOW = timedelta(hours=2)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A folded reply (see _fold): an optional "opção"/"opcao"/"op"/"numero"/"nº", the number,
# an optional separator, and perhaps the option's name after it (a copied menu line).
_MENU_RE = re.compile(r"^(?:(?:opcao|opc|op|numero|n[o.º°]?)\s*:?\s*)?(\d{1,2})\s*[.)\-:]?\s*(.*)$")
_PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")


class TicketStatus(StrEnum):
    PENDING = "pending"  # waiting for someone to accept it
    OPEN = "open"  # accepted, being handled
    CLOSED = "closed"  # resolved


class TicketAction(StrEnum):
    ACCEPT = "accept"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    REOPEN = "reopen"


S = TicketStatus
_ALLOWED: dict[TicketAction, frozenset[TicketStatus]] = {
    TicketAction.ACCEPT: frozenset({S.PENDING}),
    TicketAction.TRANSFER: frozenset({S.PENDING, S.OPEN}),
    TicketAction.RESOLVE: frozenset({S.PENDING, S.OPEN}),
    TicketAction.REOPEN: frozenset({S.CLOSED}),
}


def next_status(
    current: TicketStatus, action: TicketAction, *, to_user: bool = False
) -> TicketStatus:
    """The status after ``action``, or raise ``ticket.invalid_transition``.

    Accept: pending → open. Resolve: pending/open → closed. Reopen: closed → open. Transfer:
    to a person keeps the ticket open (that person has it); to a queue only, it goes back to
    pending so someone of that queue accepts it.
    """
    if current not in _ALLOWED[action]:
        raise ClinicDeskError(
            ErrorCode.INVALID_INPUT, field="status", status=current.value, action=action.value
        )
    if action is TicketAction.TRANSFER:
        return S.OPEN if to_user and current is S.OPEN else S.PENDING
    return S.CLOSED if action is TicketAction.RESOLVE else S.OPEN


def reopens(closed_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """True when a patient writing at ``now`` reopens a ticket closed at ``closed_at``.

    Within the window the conversation continues (same ticket, queue and history: ticketz#451);
    after it a new ticket starts. A zero window never reopens.
    """
    if closed_at is None or window <= timedelta(0):
        return False
    return timedelta(0) <= now - closed_at <= window


# ---- business hours ------------------------------------------------------------------------

Hours = dict[str, list[tuple[time, time]]]


def parse_hours(raw: str | None) -> Hours | None:
    """``{"mon": [["08:00","18:00"]], ...}`` → intervals; None (no rule) means always open.

    A weekday left out is closed all day. Raises ``input.invalid`` on a malformed value, so an
    admin finds out when saving rather than a patient at night.
    """
    if raw is None or not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return {day: _intervals(data.get(day, [])) for day in WEEKDAYS}
    except (ValueError, TypeError, AttributeError):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="business_hours") from None


def _intervals(spans: Sequence[Sequence[str]]) -> list[tuple[time, time]]:
    out = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans]
    if any(start >= end for start, end in out):
        raise ValueError("empty interval")
    return out


def is_open(hours: Hours | None, now: datetime, timezone: str) -> bool:
    """True when ``now`` (aware) falls in the branch's hours, read in the branch's zone."""
    if hours is None:
        return True
    local = now.astimezone(_zone(timezone))
    spans = hours.get(WEEKDAYS[local.weekday()], [])
    moment = local.time().replace(tzinfo=None)
    return any(start <= moment < end for start, end in spans)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("America/Sao_Paulo")  # the installation's home; never crash ingest


def out_of_hours_reply_due(
    previous_inbound: datetime | None, now: datetime, quiet: timedelta
) -> bool:
    """Whether to send the out-of-hours reply again: once per burst of messages.

    A patient who writes five lines at night gets one reply, not five; one who writes again
    after ``quiet`` without writing gets it again.
    """
    return previous_inbound is None or now - previous_inbound >= quiet


# ---- the numbered menu ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MenuOption:
    """A queue as a menu line (options are numbered 1.. in menu order)."""

    queue_id: int
    name: str


def menu_choice(text: str | None, options: Sequence[MenuOption]) -> MenuOption | None:
    """The option a reply picks, or None: its number (``"2"``, ``"2)"``, ``"2️⃣"``,
    ``"opção 2"``), its name (``"exames"``: case, accents and a plural ``s`` aside), or a
    copied menu line (``"2 - Exames"``). Anything else ("2 pessoas", "exames de sangue")
    picks nothing: a guess would move the patient to the wrong queue."""
    if not text or len(text) > 80:
        return None
    folded = _fold(text)
    match = _MENU_RE.match(folded)
    if match is None:
        return next((o for o in options if _same_name(folded, o.name)), None)
    index = int(match.group(1)) - 1
    if not 0 <= index < len(options):
        return None
    rest = match.group(2)
    return options[index] if not rest or _same_name(rest, options[index].name) else None


def _fold(text: str) -> str:
    """Lower case, no accents, no emoji keycap marks, single spaces, no end punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\ufe0f", "").replace("\u20e3", ""))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(plain.split()).strip(" .!?")


def _same_name(folded: str, name: str) -> bool:
    """Whether ``folded`` names the option (a plural ``s`` on either side aside)."""
    target = _fold(name)
    return bool(target) and folded.removesuffix("s") == target.removesuffix("s")


def menu_text(header: str, options: Sequence[MenuOption]) -> str:
    """The menu sent to a new patient: the header, then ``1 - Name`` lines."""
    lines = [f"{n} - {option.name}" for n, option in enumerate(options, start=1)]
    return "\n".join([header, *lines])


# ---- quick replies --------------------------------------------------------------------------


def render_placeholders(body: str, values: Mapping[str, str | None]) -> str:
    """Fill ``{nome}``, ``{clinica}``, ``{atendente}``…; unknown or empty ones stay as written."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else match.group(0)

    return _PLACEHOLDER_RE.sub(fill, body)


def first_name(name: str | None) -> str | None:
    """The first word of a display name (``{nome}`` greets "Maria", not "Maria da Silva")."""
    parts = (name or "").split()
    return parts[0] if parts else None
