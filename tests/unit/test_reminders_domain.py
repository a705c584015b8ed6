"""Reminder rules without I/O: opt-out keywords, the patient's answer to "1 or 2",
recurrence, pacing math (fake clock and RNG values), the daily cap rolling over, and the
per-occurrence send key."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import ClinicDeskError
from app.domain.reminders import (
    ChannelPace,
    Pacing,
    Recurrence,
    answer_state,
    check_recurrence,
    first_occurrence,
    local_day_start,
    next_occurrence,
    occurrence_key,
    opt_keyword,
    pacing_from_env,
    reminder_answer,
    reserve_slot,
)
from app.domain.roles import Permission, Role, role_grants

TZ = "America/Sao_Paulo"
SP = ZoneInfo(TZ)
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 09:00 in São Paulo


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("SAIR", "SAIR"),
        ("sair", "SAIR"),
        ("  Sair  ", "SAIR"),
        ("Sáir!", "SAIR"),
        ("parar.", "PARAR"),
        ("Stop", "STOP"),
        ("S A I R", "SAIR"),
        ("voltar", "VOLTAR"),
        ("quero sair", None),
        ("sair da lista por favor", None),
        ("sairr", None),
        ("", None),
        (None, None),
        ("1", None),
    ],
)
def test_opt_keyword_is_the_whole_message_ignoring_case_accents_and_blanks(
    text: str | None, keyword: str | None
) -> None:
    assert opt_keyword(text) == keyword


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("1", "confirmed"),
        (" Sim! ", "confirmed"),
        ("sím", "confirmed"),
        ("CONFIRMADO.", "confirmed"),
        ("ok", "confirmed"),
        ("\N{THUMBS UP SIGN}", "confirmed"),
        ("\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}", "confirmed"),
        ("1 - sim", "confirmed"),
        ("2", "declined"),
        ("Não posso", "declined"),
        ("nao vou poder!", "declined"),
        ("Remarcar.", "declined"),
        ("cancelar", "declined"),
        ("sim, estarei lá", None),  # a sentence goes to a person: never guessed
        ("12", None),
        ("3", None),
        ("sair", None),  # an opt-out keyword is never an answer
        ("", None),
        (None, None),
        ("1" * 41, None),
    ],
)
def test_an_answer_is_the_whole_message_in_a_known_form(
    text: str | None, answer: str | None
) -> None:
    assert reminder_answer(text) == answer


def test_where_a_question_stands() -> None:
    sent = T0 - timedelta(days=1)
    assert answer_state(False, None, sent, T0) is None  # asks nothing
    assert answer_state(True, None, None, T0) == "pending"
    assert answer_state(True, None, sent, T0) == "waiting"
    assert answer_state(True, None, T0 - timedelta(days=3), T0) == "no_answer"
    assert answer_state(True, "declined", T0 - timedelta(days=9), T0) == "declined"


@given(st.text(max_size=60))
def test_no_text_is_both_an_answer_and_an_opt_keyword(text: str) -> None:
    assert reminder_answer(text) is None or opt_keyword(text) is None


@pytest.mark.parametrize(
    "rec",
    [
        Recurrence(every_days=0),
        Recurrence(every_days=400),
        Recurrence(every_days=1, cron="0 9 * * *"),
        Recurrence(cron="* 9 * * *"),  # every minute of an hour: refused
        Recurrence(cron="*/5 * * * *"),
        Recurrence(cron="0 9 * *"),
        Recurrence(cron="0 25 * * *"),
    ],
)
def test_bad_recurrences_are_refused(rec: Recurrence) -> None:
    with pytest.raises(ClinicDeskError) as err:
        check_recurrence(rec, TZ)
    assert err.value.code.value == "input.invalid"


def test_every_days_keeps_the_local_time_and_skips_missed_occurrences() -> None:
    rec = check_recurrence(Recurrence(every_days=1), TZ)
    assert next_occurrence(rec, T0, T0, TZ) == T0 + timedelta(days=1)
    # The PC was off for three and a half days: one send now, then the next 09:00 after now.
    later = T0 + timedelta(days=3, hours=12)
    assert next_occurrence(rec, T0, later, TZ) == T0 + timedelta(days=4)
    weekly = Recurrence(every_days=7)
    assert next_occurrence(weekly, T0, T0 + timedelta(minutes=1), TZ) == T0 + timedelta(days=7)


def test_once_has_no_next_occurrence() -> None:
    assert next_occurrence(Recurrence(), T0, T0, TZ) is None


def test_cron_runs_on_the_branch_wall_clock() -> None:
    rec = check_recurrence(Recurrence(cron="30 8 * * 1-5"), TZ)  # weekdays 08:30 local
    first = first_occurrence(rec, T0, TZ)  # Monday 09:00 local: next is Tuesday 08:30
    assert first.astimezone(SP).replace(tzinfo=None) == datetime(2026, 11, 24, 8, 30)
    friday = datetime(2026, 11, 27, 8, 30, tzinfo=SP)
    after = next_occurrence(rec, friday, friday, TZ)
    assert after is not None and after.astimezone(SP).replace(tzinfo=None) == datetime(
        2026, 11, 30, 8, 30
    )


def test_occurrence_key_is_stable_and_distinct() -> None:
    key = occurrence_key(7, T0)
    assert key == occurrence_key(7, T0) and len(key) == 64
    assert key != occurrence_key(7, T0 + timedelta(days=1))
    assert key != occurrence_key(8, T0)


def test_reserve_slot_spaces_sends_by_the_random_gap() -> None:
    cfg = Pacing(min_gap_s=20, max_gap_s=60, daily_cap=200)
    pace = ChannelPace()
    first = reserve_slot(pace, T0, TZ, cfg, uniform=0.0)
    second = reserve_slot(pace, T0, TZ, cfg, uniform=0.5)
    third = reserve_slot(pace, T0, TZ, cfg, uniform=0.999)
    assert first == T0
    assert second == T0 + timedelta(seconds=20)  # the gap drawn after the first send
    assert third == second + timedelta(seconds=40)
    assert pace.next_free == third + timedelta(seconds=20 + 40 * 0.999)
    # A slot already free (the last send long ago) is now.
    later = T0 + timedelta(hours=1)
    assert reserve_slot(pace, later, TZ, cfg, uniform=0.3) == later


def test_over_the_daily_cap_goes_to_the_next_local_morning_not_dropped() -> None:
    cfg = Pacing(min_gap_s=10, max_gap_s=10, daily_cap=3, day_start=time(8, 0))
    pace = ChannelPace()
    slots = [reserve_slot(pace, T0, TZ, cfg, uniform=0.5) for _ in range(5)]
    assert slots[:3] == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)]
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=SP).astimezone(UTC)
    assert slots[3] == morning
    assert slots[4] == morning + timedelta(seconds=10)
    assert pace.count == 2  # counted on the new day


def test_the_cap_counts_per_local_day_in_the_branch_zone() -> None:
    cfg = Pacing(min_gap_s=0, max_gap_s=0, daily_cap=1)
    late = datetime(2026, 11, 23, 23, 59, tzinfo=SP).astimezone(UTC)  # 02:59 UTC next day
    pace = ChannelPace()
    assert reserve_slot(pace, late, TZ, cfg, 0.0) == late
    after_midnight = late + timedelta(minutes=2)  # a new local day: the cap starts again
    assert reserve_slot(pace, after_midnight, TZ, cfg, 0.0) == after_midnight
    assert local_day_start(late, TZ) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_a_pace_restored_from_the_store_keeps_todays_count() -> None:
    cfg = Pacing(min_gap_s=30, max_gap_s=30, daily_cap=2)
    pace = ChannelPace(None, T0.astimezone(SP).date(), 2)  # two sent earlier today
    slot = reserve_slot(pace, T0, TZ, cfg, 0.0)
    assert slot == datetime(2026, 11, 24, 8, 0, tzinfo=SP)


def test_pacing_from_env() -> None:
    assert pacing_from_env(None) == Pacing()
    got = pacing_from_env(
        '{"min_gap_s": 0.1, "max_gap_s": 0.2, "daily_cap": 5, "day_start": "07:30"}'
    )
    assert got == Pacing(0.1, 0.2, 5, time(7, 30))
    for bad in ('{"min_gap_s": 5, "max_gap_s": 1}', '{"daily_cap": 0}', '{"nope": 1}', "[1]"):
        with pytest.raises(ValueError):
            pacing_from_env(bad)


def test_supervisors_and_admins_manage_reminders_receptionists_remind_only() -> None:
    grants = {r: role_grants(r, Permission.MANAGE_REMINDERS) for r in Role}
    assert grants == {
        Role.SUPER_ADMIN: True, Role.ADMIN: True, Role.SUPERVISOR: True,
        Role.RECEPTIONIST: False,
    }  # fmt: skip
    # everyone may remind a patient whose conversation they see (the service checks which)
    assert all(role_grants(r, Permission.REMIND_PATIENTS) for r in Role)


@pytest.mark.parametrize(
    ("dow", "weekdays"),
    [("1-5", {0, 1, 2, 3, 4}), ("0", {6}), ("7", {6}), ("6,0", {5, 6}), ("*", set(range(7)))],
)
def test_cron_weekdays_are_numbered_like_crontab(dow: str, weekdays: set[int]) -> None:
    rec = check_recurrence(Recurrence(cron=f"0 9 * * {dow}"), TZ)
    seen, at = set(), T0
    for _ in range(10):
        nxt = next_occurrence(rec, at, at, TZ)
        assert nxt is not None
        seen.add(nxt.astimezone(SP).weekday())
        at = nxt
    assert seen == weekdays
