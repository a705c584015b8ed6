""" "Nova conversa": what the dialog asks, what it says when something is wrong, and which
queues it offers (a receptionist only their own)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client_types import Queue
from app.ui.start_dialog import StartConversationDialog, queue_choices
from tests.helpers.desk import make_ticket

CHANNELS = {3: "Recepção", 4: "Exames"}
QUEUES = [Queue(1, 1, "Consultas", "#fff", member=True), Queue(2, 1, "Exames", "#000")]


class FakeClient:
    def __init__(self, fail: ErrorCode | None = None) -> None:
        self.fail, self.calls = fail, []

    async def start_ticket(
        self, channel_id: int, phone: str, queue_id: int | None, name: str | None = None
    ) -> Any:
        self.calls.append((channel_id, phone, queue_id, name))
        if self.fail is not None:
            raise ClinicDeskError(self.fail, field="phone")
        return make_ticket(42)


def _dialog(qtbot: Any, client: FakeClient, phone: str = "") -> StartConversationDialog:
    choices = queue_choices(QUEUES, receptionist=False)
    dialog = StartConversationDialog(client, CHANNELS, choices, phone)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


async def test_it_starts_on_the_chosen_number_and_queue_and_hands_over_the_ticket(
    qtbot: Any,
) -> None:
    client = FakeClient()
    dialog = _dialog(qtbot, client, "(11) 98765-4321")
    started: list[int] = []
    dialog.started.connect(started.append)
    dialog.channel.setCurrentIndex(1)
    dialog.queue.setCurrentIndex(1)
    dialog.name.setText("  Maria  ")
    dialog.submit()
    await dialog.settle()
    assert client.calls == [(4, "(11) 98765-4321", 2, "Maria")]
    assert started == [42] and not dialog.isVisible()


async def test_a_missing_number_is_asked_for_and_the_engine_is_not(qtbot: Any) -> None:
    client = FakeClient()
    dialog = _dialog(qtbot, client)
    dialog.submit()
    await dialog.settle()
    assert dialog.message.text() == "Informe o telefone do paciente."
    assert client.calls == [] and dialog.isVisible()


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (ErrorCode.PHONE_INVALID, "Confira o número: inclua o DDD, por exemplo (11) 98765-4321."),
        (ErrorCode.ALREADY_EXISTS, "Este paciente já está em atendimento em outra fila."),
        (ErrorCode.ACCESS_DENIED, "Você não tem permissão para fazer isso."),
    ],
)
async def test_the_engines_refusal_is_explained_and_the_dialog_stays(
    qtbot: Any, code: ErrorCode, said: str
) -> None:
    dialog = _dialog(qtbot, FakeClient(code), "123")
    dialog.submit()
    await dialog.settle()
    assert dialog.message.text() == said
    assert dialog.isVisible() and dialog.buttons.isEnabled()


def test_a_receptionist_is_offered_only_their_own_queues() -> None:
    assert queue_choices(QUEUES, receptionist=True) == [(1, "Consultas")]
    assert queue_choices([QUEUES[1]], receptionist=True) == [(None, "Sem fila")]
    assert queue_choices(QUEUES, receptionist=False) == [
        (1, "Consultas"), (2, "Exames"), (None, "Sem fila"),
    ]  # fmt: skip
