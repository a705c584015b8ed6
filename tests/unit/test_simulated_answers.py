"""Simulated patients answer a numbered menu the way people do, and the engine's menu reading
understands every such answer (the demo's tickets then reach their queues); their names vary."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from app.domain.tickets import MenuOption, menu_choice, menu_text
from app.simulator.patients import REPLIES, answer, patient_name

OPTIONS = [MenuOption(3, "Agendamento"), MenuOption(5, "Exames"), MenuOption(8, "Recepção")]
MENU = menu_text("Olá! Para agilizar o seu atendimento, responda com o número da opção:", OPTIONS)


@given(st.integers(min_value=0, max_value=2**32))
def test_every_answer_to_a_menu_picks_one_of_its_options(seed: int) -> None:
    said = answer(MENU, random.Random(seed))
    assert menu_choice(said, OPTIONS) in OPTIONS


def test_answers_come_in_every_form_people_use() -> None:
    rng = random.Random(7)
    said = {answer(MENU, rng) for _ in range(200)}
    assert {"1", "2\ufe0f\u20e3", "opção 3", "exames"} <= said


@given(st.sampled_from(["Sua consulta está confirmada.", "", None, "1) sem traço"]))
def test_anything_else_gets_an_ordinary_reply(said: str | None) -> None:
    assert answer(said, random.Random(1)) in REPLIES


def test_simulated_patients_have_distinct_names_and_neighbours_differ_in_surname() -> None:
    names = [patient_name(i) for i in range(221)]
    assert len(set(names)) == 221
    surnames = [name.split()[-1] for name in names]
    assert all(a != b for a, b in itertools.pairwise(surnames))
