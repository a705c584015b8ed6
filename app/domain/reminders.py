"""Reminder and campaign rules (pure): recurrence, per-channel pacing, the send key, the
opt-out keywords, and the patient's answer to "1 to confirm, 2 to reschedule".

A reminder is one scheduled text to one contact; a campaign is the same text to several
contacts, one reminder each, grouped by a campaign id. Recurrence follows APScheduler 3 trigger
semantics (``IntervalTrigger(days=n)`` or a 5-field ``CronTrigger``) in the branch's time zone.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from app.domain.errors import ClinicDeskError, ErrorCode

OPT_OUT_KEYWORDS = frozenset({"SAIR", "PARAR", "STOP"})
OPT_IN_KEYWORDS = frozenset({"VOLTAR"})
MAX_EVERY_DAYS = 366
CRON_MAX = 64
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DIGITS = re.compile(r"\d+")

# The patient's answer to a reminder that asks for confirmation. Only a message made of one of
# these (after folding) is an answer: anything longer goes to a person, never guessed at.
CONFIRMED, DECLINED = "confirmed", "declined"
ANSWERS = (CONFIRMED, DECLINED)
WAITING = "waiting"  # a list filter: asked and sent, no answer yet
_CONFIRM_WORDS = frozenset(
    {"1", "SIM", "S", "OK", "CONFIRMO", "CONFIRMAR", "CONFIRMADO", "CONFIRMADA", "SIM CONFIRMO",
     "CONFIRMADISSIMO", "\N{THUMBS UP SIGN}", "1 CONFIRMAR", "1 SIM"}
)  # fmt: skip
_DECLINE_WORDS = frozenset(
    {"2", "NAO", "N", "REMARCAR", "REAGENDAR", "DESMARCAR", "CANCELAR", "NAO POSSO",
     "NAO VOU", "NAO VOU PODER", "QUERO REMARCAR", "2 REMARCAR"}
)  # fmt: skip
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_ANSWER_PUNCTUATION = re.compile(r"[.!,;:)(\-]+")
ANSWER_WINDOW = timedelta(days=3)  # a "1" later than this is not taken as an answer

# ---- opt-out keywords ------------------------------------------------------------------------


def opt_keyword(text: str | None) -> str | None:
    """The keyword ``text`` consists of (SAIR, PARAR, STOP, VOLTAR), or None.

    Case, accents, blanks and trailing ``.``/``!`` are ignored ("  sáir! " is SAIR); anything
    else in the message ("quero sair") is an ordinary message, never an opt-out.
    """
    if not text or len(text) > 40:
        return None
    folded = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in folded if not unicodedata.combining(c) and not c.isspace())
    word = letters.rstrip(".!").upper()
    return word if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS else None


def reminder_answer(text: str | None) -> str | None:
    """``CONFIRMED`` or ``DECLINED`` when the whole message is such an answer ("1", "Sim!",
    "👍", "2", "não posso", "Remarcar."), else None. Case, accents, punctuation, blanks and
    emoji skin tones are ignored; "sim, estarei lá" is an ordinary message, never guessed."""
    if not text or len(text) > 40:
        return None
    folded = unicodedata.normalize("NFKD", _SKIN_TONES.sub("", text))
    plain = "".join(c for c in folded if not unicodedata.combining(c)).upper()
    words = " ".join(_ANSWER_PUNCTUATION.sub(" ", plain).split())
    if words in _CONFIRM_WORDS:
        return CONFIRMED
    return DECLINED if words in _DECLINE_WORDS else None


def answer_state(
    asks: bool, answer: str | None, sent: datetime | None, now: datetime
) -> str | None:
    """Where a reminder's question stands at ``now``: None (it asks nothing), ``pending``
    (not sent yet), the answer, ``waiting`` (sent, may still be answered) or ``no_answer``
    (``ANSWER_WINDOW`` passed)."""
    if not asks:
        return None
    if answer is not None:
        return answer
    if sent is None:
        return "pending"
    return WAITING if now - sent < ANSWER_WINDOW else "no_answer"


# ---- recurrence -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Once (both None), every ``every_days`` days, or on a 5-field ``cron`` expression."""

    every_days: int | None = None
    cron: str | None = None

    @property
    def once(self) -> bool:
        return self.every_days is None and self.cron is None


def check_recurrence(rec: Recurrence, tz: str) -> Recurrence:
    """``rec`` validated: at most one kind; 1–366 days; a cron whose minute field is a single
    number (at most one send per hour: a campaign must not fire every minute)."""
    if rec.every_days is not None and rec.cron is not None:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="recurrence")
    if rec.every_days is not None and not 1 <= rec.every_days <= MAX_EVERY_DAYS:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="every_days", maximum=MAX_EVERY_DAYS)
    if rec.cron is not None:
        return Recurrence(cron=_checked_cron(rec.cron, tz))
    return rec


def _checked_cron(expr: str, tz: str) -> str:
    fields = expr.split()
    if len(expr) > CRON_MAX or len(fields) != 5 or not fields[0].isdigit():
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="cron")
    try:
        _trigger(" ".join(fields), tz)
    except ValueError:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="cron") from None
    return " ".join(fields)


def first_occurrence(rec: Recurrence, start: datetime, tz: str) -> datetime:
    """The first run at or after ``start`` (a cron may move it to its next matching time)."""
    if rec.cron is None:
        return start
    return _cron_next(rec.cron, tz, start - timedelta(microseconds=1))


def next_occurrence(rec: Recurrence, last: datetime, now: datetime, tz: str) -> datetime | None:
    """The first occurrence after both ``last`` (the one just handled) and ``now``; None when
    it ran once. Missed occurrences are not caught up one by one (APScheduler's coalescing):
    a daily reminder that found the PC off for three days sends once, then goes on daily."""
    if rec.every_days is not None:
        return _next_interval(last, now, rec.every_days, ZoneInfo(tz))
    if rec.cron is not None:
        return _cron_next(rec.cron, tz, max(last, now))
    return None


def _next_interval(last: datetime, now: datetime, days: int, zone: ZoneInfo) -> datetime:
    # Local wall-clock arithmetic: "every day at 09:00" stays at 09:00 across offset changes.
    local = last.astimezone(zone)
    step = max(1, int((now - last) / timedelta(days=days)) + 1)
    while (candidate := _shift_days(local, days * step)) <= now:
        step += 1
    return candidate


def _shift_days(local: datetime, days: int) -> datetime:
    naive = local.replace(tzinfo=None) + timedelta(days=days)
    return naive.replace(tzinfo=local.tzinfo).astimezone(UTC)


def _trigger(expr: str, tz: str) -> CronTrigger:
    """The APScheduler trigger of a standard crontab. APScheduler 3 numbers weekdays from
    Monday = 0, crontab from Sunday = 0 (7 too): numbers become names so "1-5" stays Mon–Fri."""
    fields = expr.split()
    fields[4] = _DIGITS.sub(lambda m: _WEEKDAYS[int(m.group(0)) % 7], fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(tz))


def _cron_next(expr: str, tz: str, after: datetime) -> datetime:
    trigger = _trigger(expr, tz)
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    if fire is None:  # pragma: no cover - a 5-field crontab always fires again
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="cron")
    return fire.astimezone(UTC)


# ---- the send key -----------------------------------------------------------------------------


def occurrence_key(reminder_id: int, occurrence: datetime) -> str:
    """The outbox idempotency key of one occurrence of a reminder: firing it twice (a double
    job, a crash before the schedule moved on) finds the key and queues nothing."""
    millis = round(occurrence.timestamp() * 1000)
    return hashlib.sha256(f"reminder|{reminder_id}|{millis}".encode("ascii")).hexdigest()


# ---- pacing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pacing:
    """Per channel: a random gap between reminder sends and a cap per local day. Sends over
    the cap move to the next day from ``day_start`` (never at night, never dropped)."""

    min_gap_s: float = 20.0
    max_gap_s: float = 60.0
    daily_cap: int = 200
    day_start: time = time(8, 0)

    def gap(self, uniform: float) -> timedelta:
        """A gap in [min, max] for ``uniform`` in [0, 1)."""
        return timedelta(seconds=self.min_gap_s + (self.max_gap_s - self.min_gap_s) * uniform)


@dataclass(slots=True)
class ChannelPace:
    """One channel's pacing state: the earliest free slot and the sends counted on ``day``."""

    next_free: datetime | None = None
    day: date | None = None
    count: int = 0


def reserve_slot(
    pace: ChannelPace, now: datetime, tz: str, cfg: Pacing, uniform: float
) -> datetime:
    """Reserve the next send slot at or after ``now`` on a channel (updates ``pace``)."""
    zone = ZoneInfo(tz)
    slot = max(now, pace.next_free or now)
    day = local_date(slot, tz)
    if pace.day != day:
        pace.day, pace.count = day, 0
    if pace.count >= cfg.daily_cap:
        day = day + timedelta(days=1)
        slot = datetime.combine(day, cfg.day_start, zone).astimezone(UTC)
        pace.day, pace.count = day, 0
    pace.count += 1
    pace.next_free = slot + cfg.gap(uniform)
    return slot


def local_day_start(now: datetime, tz: str) -> datetime:
    """Midnight of ``now``'s local day in ``tz`` (the daily cap counts from there)."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0, 0), zone).astimezone(UTC)


def local_date(now: datetime, tz: str) -> date:
    """``now``'s calendar day in ``tz``."""
    return now.astimezone(ZoneInfo(tz)).date()


def pacing_from_env(raw: str | None) -> Pacing:
    """Pacing from a JSON object of :class:`Pacing` fields (``day_start`` as "HH:MM"), or the
    defaults when ``raw`` is empty; ValueError on anything else."""
    if not raw:
        return Pacing()
    values = json.loads(raw)
    if not isinstance(values, dict) or not set(values) <= set(Pacing.__dataclass_fields__):
        raise ValueError("reminder pacing must be a JSON object of Pacing fields")
    if "day_start" in values:
        values["day_start"] = time.fromisoformat(str(values["day_start"]))
    pacing = Pacing(**values)
    if not 0 <= pacing.min_gap_s <= pacing.max_gap_s or pacing.daily_cap < 1:
        raise ValueError("reminder pacing: need 0 <= min_gap_s <= max_gap_s and daily_cap >= 1")
    return pacing
