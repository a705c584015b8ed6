"""Ticket rules: transitions, reopen window, business hours, menu, placeholders (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import ClinicDeskError
from app.domain.tickets import (
    MenuOption,
    TicketAction,
    TicketStatus,
    is_open,
    menu_choice,
    menu_text,
    next_status,
    out_of_hours_reply_due,
    parse_hours,
    render_placeholders,
    reopens,
)

S, A = TicketStatus, TicketAction
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 12:00 in São Paulo (UTC-3)
HOURS = '{"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "sat": [["08:00", "12:00"]]}'


@pytest.mark.parametrize(
    ("current", "action", "to_user", "expected"),
    [
        (S.PENDING, A.ACCEPT, False, S.OPEN),
        (S.OPEN, A.RESOLVE, False, S.CLOSED),
        (S.PENDING, A.RESOLVE, False, S.CLOSED),
        (S.CLOSED, A.REOPEN, False, S.OPEN),
        (S.OPEN, A.TRANSFER, False, S.PENDING),  # to a queue: someone there accepts it
        (S.OPEN, A.TRANSFER, True, S.OPEN),  # to a person: they have it now
        (S.PENDING, A.TRANSFER, True, S.PENDING),
    ],
)
def test_transitions(current: S, action: A, to_user: bool, expected: S) -> None:
    assert next_status(current, action, to_user=to_user) is expected


@pytest.mark.parametrize(
    ("current", "action"),
    [(S.OPEN, A.ACCEPT), (S.CLOSED, A.ACCEPT), (S.CLOSED, A.RESOLVE), (S.OPEN, A.REOPEN)],
)
def test_invalid_transitions_are_refused(current: S, action: A) -> None:
    with pytest.raises(ClinicDeskError):
        next_status(current, action)


def test_reopen_window() -> None:
    window = timedelta(hours=2)
    assert reopens(NOW - timedelta(minutes=119), NOW, window)
    assert not reopens(NOW - timedelta(minutes=121), NOW, window)
    assert not reopens(None, NOW, window)
    assert not reopens(NOW - timedelta(seconds=1), NOW, timedelta(0))


def test_business_hours_in_the_branch_zone() -> None:
    hours = parse_hours(HOURS)
    assert not is_open(hours, NOW, "America/Sao_Paulo")  # 12:00 local: lunch break
    assert is_open(hours, NOW + timedelta(hours=1), "America/Sao_Paulo")
    assert not is_open(hours, NOW + timedelta(hours=6), "America/Sao_Paulo")  # 18:00
    assert not is_open(hours, NOW + timedelta(days=6), "America/Sao_Paulo")  # Sunday


def test_no_hours_means_always_open() -> None:
    assert parse_hours(None) is None
    assert is_open(None, NOW, "America/Sao_Paulo")


@pytest.mark.parametrize("raw", ["not json", '{"mon": [["18:00", "08:00"]]}', '{"mon": 5}'])
def test_malformed_hours_are_refused(raw: str) -> None:
    with pytest.raises(ClinicDeskError):
        parse_hours(raw)


def test_out_of_hours_reply_once_per_burst() -> None:
    quiet = timedelta(hours=4)
    assert out_of_hours_reply_due(None, NOW, quiet)
    assert not out_of_hours_reply_due(NOW - timedelta(minutes=5), NOW, quiet)
    assert out_of_hours_reply_due(NOW - timedelta(hours=5), NOW, quiet)


OPTIONS = [MenuOption(7, "Recepção"), MenuOption(3, "Exames")]


@pytest.mark.parametrize(
    ("text", "queue"),
    [
        ("1", 7), (" 2 ", 3), ("2)", 3), ("1.", 7), ("3", None), ("oi", None),
        ("2\ufe0f\u20e3", 3),  # the keycap emoji WhatsApp offers for digits
        ("Opção 2", 3), ("opcao 1", 7), ("nº 2", 3), ("Número 1", 7),
        ("exames", 3), ("EXAME", 3), ("recepcao!", 7), ("Recepção", 7),  # the option's name
        ("2 - Exames", 3), ("1 - Recepção", 7),  # a copied menu line
        ("2 pessoas", None), ("1 - Exames", None), ("exames de sangue", None),  # no guessing
        ("12", None), ("", None), (None, None), ("2" * 100, None),
    ],
)  # fmt: skip
def test_menu_choice(text: str | None, queue: int | None) -> None:
    choice = menu_choice(text, OPTIONS)
    assert (choice.queue_id if choice else None) == queue


def test_menu_text_numbers_the_options_in_order() -> None:
    assert menu_text("Escolha:", OPTIONS) == "Escolha:\n1 - Recepção\n2 - Exames"


def test_placeholders() -> None:
    values = {"nome": "Maria", "clinica": "Clínica Sol", "atendente": None}
    body = "Olá {nome}, aqui é da {clinica}. {atendente} {desconhecido}"
    assert render_placeholders(body, values) == (
        "Olá Maria, aqui é da Clínica Sol. {atendente} {desconhecido}"
    )
