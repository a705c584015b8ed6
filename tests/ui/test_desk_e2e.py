"""The desk against a real engine and simulator on loopback.

A simulated patient writes in, the ticket appears in Aguardando, the receptionist opens it and
answers, and the simulated WhatsApp receives the reply. Login errors are shown in Portuguese.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.domain.errors import ErrorCode
from app.simulator.patients import patient_jid
from app.ui.client import DeskClient
from app.ui.login import LoginDialog
from app.ui.messages_view import MESSAGE_ROLE
from app.ui.texts import error_text, phone_text
from app.ui.ticket_model import PREVIEW_ROLE
from tests.helpers.desk import root_desk, until
from tests.helpers.e2e import LinkedRig as Rig
from tests.helpers.e2e import linked_rig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes: POSIX here")
BRANCH = "Clínica Desk"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with linked_rig(tmp_path_factory.mktemp("desk"), BRANCH, "desk-1") as found:
        yield found


async def test_a_wrong_password_is_explained_in_portuguese(qtbot: Any, rig: Rig) -> None:
    client = DeskClient(rig.engine.url)
    dialog = LoginDialog(client, "root")
    qtbot.addWidget(dialog)
    dialog.password.setText("not-the-password")
    dialog.submit()
    await dialog.settle()
    assert dialog.message.text() == "Usuário ou senha incorretos."
    assert dialog.result_ is None and dialog.button.isEnabled()
    await client.close()


async def test_an_unreachable_engine_is_explained_and_retried(qtbot: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DeskClient(f"http://127.0.0.1:{port}")
    dialog = LoginDialog(client, "ana")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.check_engine()
    await dialog.settle()
    assert dialog.message.text() == error_text(ErrorCode.ENGINE_UNREACHABLE)
    assert dialog.message.text().startswith("Não foi possível conectar ao serviço ClinicDesk")
    assert not dialog.button.isEnabled()
    assert dialog._timer.isActive()  # it keeps checking by itself
    dialog.hide()  # closed: it stops asking
    assert not dialog._timer.isActive()
    dialog.show()  # shown again: it asks at once, and goes on asking
    await dialog.settle()
    assert dialog._timer.isActive()
    dialog.hide()
    await client.close()


async def test_a_patient_writes_the_receptionist_answers_and_whatsapp_gets_it(
    qtbot: Any, qapp: Any, rig: Rig
) -> None:
    async with root_desk(qtbot, qapp, rig.engine.url) as window:
        await until(lambda: window.health_label.text() == "1 de 1 número conectado", "health")
        pending = window.inbox.models["pending"]
        text = "Bom dia, quero marcar uma consulta"
        rig.sim.post("/control/inbound", channel=rig.account, text=text, patient=7)
        await until(lambda: pending.rowCount() > 0, "the new ticket in Aguardando")
        assert window.inbox.open_first("pending")
        pane = window.inbox.conversation
        shown = lambda: [m.body for m in pane.model.messages()]  # noqa: E731
        await until(lambda: text in shown(), "the patient's message in the conversation")
        reply = "Olá! Temos horário amanhã às 9h."
        pane.composer.setText(reply)
        pane.composer.returnPressed.emit()
        outbox = lambda: rig.sim.http.get(f"/control/outbox/{rig.account}").json()  # noqa: E731
        await until(lambda: reply in str(outbox()), "the reply on the simulated WhatsApp")
        bubble = lambda: [m for m in pane.model.messages() if m.body == reply]  # noqa: E731
        await until(lambda: bubble() and bubble()[0].ack in ("delivered", "read"), "ticks")
        row = pane.model.index(len(pane.model.messages()) - 1)
        assert row.data(MESSAGE_ROLE).direction == "out"


async def test_the_clinic_writes_first_and_the_patients_answer_joins_the_conversation(
    qtbot: Any, qapp: Any, rig: Rig
) -> None:
    async with root_desk(qtbot, qapp, rig.engine.url) as window:
        number = patient_jid(23).split("@")[0]  # a patient who never wrote
        await until(lambda: window.health_label.text() == "1 de 1 número conectado", "health")
        dialog = window.inbox.open_start()
        dialog.phone.setText(phone_text(f"+{number}"))  # as typed: "(11) 9xxxx-xxxx"
        dialog.name.setText("Paciente Novo")
        dialog.submit()
        pane = window.inbox.conversation
        await until(lambda: pane.ticket is not None, "the new conversation opened")
        assert pane.ticket is not None and pane.ticket.status == "open"
        assert not dialog.isVisible()
        first = "Olá! Aqui é da clínica, sobre o seu exame."
        pane.composer.setText(first)
        pane.composer.returnPressed.emit()
        outbox = lambda: str(rig.sim.http.get(f"/control/outbox/{rig.account}").json())  # noqa: E731
        await until(lambda: first in outbox(), "the first message on the simulated WhatsApp")
        assert number in outbox()
        answer = "Obrigado, pode ser na sexta?"
        rig.sim.post("/control/inbound", channel=rig.account, text=answer, patient=23)
        shown = lambda: [m.body for m in pane.model.messages()]  # noqa: E731
        await until(lambda: answer in shown(), "the answer in the same conversation")
        assert shown()[:2] == [first, answer]


async def test_a_photo_shows_as_preview_and_thumbnail_and_a_dropped_pdf_is_sent(
    qtbot: Any, qapp: Any, rig: Rig, tmp_path: Any
) -> None:
    async with root_desk(qtbot, qapp, rig.engine.url) as window:
        inbox, pending = window.inbox, window.inbox.models["pending"]
        rig.sim.post("/control/inbound", channel=rig.account, text="", kind="image", patient=11)
        photo_row = lambda: [  # noqa: E731
            r
            for r in range(pending.rowCount())
            if pending.index(r, 0).data(PREVIEW_ROLE) == "📷 Foto"
        ]
        await until(photo_row, "the photo's ticket with its preview")
        row = photo_row()[0]
        ticket_id = pending.ticket_id(row)
        inbox.views["pending"].selectRow(row)
        inbox._open(pending, pending.index(row, 0))
        pane = inbox.conversation
        await until(lambda: pane.model.rowCount() > 0, "the photo bubble")
        photo = pane.model.messages()[-1]
        assert photo.kind == "image" and photo.has_thumbnail and photo.media_sha256
        await until(
            lambda: pane.model.index(pane.model.rowCount() - 1).data(
                Qt.ItemDataRole.DecorationRole
            ),
            "the thumbnail, fetched when the bubble was painted",
        )
        seen = lambda: (t := pending.cached(ticket_id)) is not None and t.unread_count == 0  # noqa: E731
        await until(seen, "unread cleared by opening")
        exam = tmp_path / "exame.pdf"
        exam.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(exam))])
        buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        pane.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, buttons, mods))
        sent = lambda: [m for m in pane.model.messages() if m.media_name == "exame.pdf"]  # noqa: E731
        await until(sent, "the PDF in the conversation")
        assert sent()[0].direction == "out" and pane.notice.isHidden()
