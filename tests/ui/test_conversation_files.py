"""The conversation: retries, files (drop, thumbnails), mark-read and transfer, on a fake client."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.ui.bridge import EventBridge
from app.ui.client_types import Ticket
from app.ui.conversation import ConversationPane
from app.ui.media import ATTACHMENT_MAX
from app.ui.messages_view import MESSAGE_ROLE
from tests.helpers.desk import make_ticket, until
from tests.helpers.fake_desk import IMAGE_SHA, FakeDesk, png_bytes, text_message


def _pane(qtbot: Any, fake: FakeDesk, height: int = 600) -> ConversationPane:
    pane = ConversationPane(fake, EventBridge("ws://127.0.0.1:9/events"))  # type: ignore[arg-type]
    qtbot.addWidget(pane)
    pane.resize(700, height)
    pane.show()
    return pane


async def _open(pane: ConversationPane, ticket: Ticket) -> None:
    pane.show_ticket(ticket)
    await pane.settle()


def _click_bubble(qtbot: Any, pane: ConversationPane, message_id: int) -> None:
    model = pane.model
    row = next(
        r for r in range(model.rowCount()) if model.index(r).data(MESSAGE_ROLE).id == message_id
    )
    pane.list.scrollTo(model.index(row))
    rect = pane.list.visualRect(model.index(row))
    at = rect.center()
    at.setX(rect.right() - 30)  # outgoing bubbles sit on the right
    qtbot.mouseClick(pane.list.viewport(), Qt.MouseButton.LeftButton, pos=at)


async def test_opening_a_ticket_with_unread_messages_marks_it_read(qtbot: Any) -> None:
    fake = FakeDesk(1)
    pane = _pane(qtbot, fake)
    await _open(pane, replace(fake.rows[1], unread_count=3))
    assert fake.called("mark_read") == [(1,)]
    await _open(pane, fake.rows[1])  # the same ticket again: nothing new to mark
    assert fake.called("mark_read") == [(1,)]


async def test_a_failed_send_shows_retry_and_a_click_retries(qtbot: Any) -> None:
    fake = FakeDesk(1)
    failed = text_message(5, "out", ack="pending", outbox_id=77, send_status="failed")
    fake.conversations[1] = [text_message(1), failed]
    pane = _pane(qtbot, fake)
    await _open(pane, fake.rows[1])
    shown = pane.model.messages()[-1]
    assert "Tentar de novo" in pane.delegate._problem_text(shown)
    _click_bubble(qtbot, pane, 5)
    await pane.settle()
    assert fake.called("retry") == [(77, False)]
    assert pane.model.messages()[-1].send_status == "queued"


async def test_a_doubtful_send_asks_before_resending(qtbot: Any) -> None:
    fake = FakeDesk(1)
    doubtful = text_message(5, "out", outbox_id=78, send_status="needs_review")
    fake.conversations[1] = [doubtful]
    pane = _pane(qtbot, fake)
    answers: list[bool] = [False, True]
    asked: list[int] = []

    def confirm(_parent: Any) -> bool:
        asked.append(1)
        return answers.pop(0)

    pane.confirm_resend = confirm
    await _open(pane, fake.rows[1])
    _click_bubble(qtbot, pane, 5)
    await pane.settle()
    assert asked == [1] and fake.called("retry") == []  # "Cancelar": nothing is sent
    _click_bubble(qtbot, pane, 5)
    await pane.settle()
    assert fake.called("retry") == [(78, True)]


def _drop(pane: ConversationPane, *paths: Path) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, data,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    pane.dropEvent(event)


async def test_a_dropped_file_is_sent_in_base64_with_a_client_key(
    qtbot: Any, tmp_path: Path
) -> None:
    fake = FakeDesk(1)
    pane = _pane(qtbot, fake)
    await _open(pane, fake.rows[1])
    exam = tmp_path / "exame.pdf"
    exam.write_bytes(b"%PDF-1.4 exame de sangue")
    pane.composer.setText("Segue o resultado")
    _drop(pane, exam)
    await pane.settle()
    [(ticket_id, data_b64, name, caption, key)] = fake.called("send_attachment")
    assert ticket_id == 1 and name == "exame.pdf" and caption == "Segue o resultado"
    assert base64.b64decode(data_b64) == exam.read_bytes()
    assert key.startswith("desk-file:") and pane.composer.text() == ""


async def test_a_file_over_10_mb_is_refused_in_portuguese(qtbot: Any, tmp_path: Path) -> None:
    fake = FakeDesk(1)
    pane = _pane(qtbot, fake)
    await _open(pane, fake.rows[1])
    big = tmp_path / "video.mp4"
    with big.open("wb") as f:
        f.truncate(ATTACHMENT_MAX + 1)
    _drop(pane, big)
    await pane.settle()
    assert fake.called("send_attachment") == []
    assert pane.notice.text() == "Arquivo grande demais. O limite é de 10 MB."


async def test_a_thumbnail_is_fetched_only_when_its_bubble_is_shown(qtbot: Any) -> None:
    fake = FakeDesk(1)
    photo = text_message(
        1, body=None, kind="image", media_sha256=IMAGE_SHA, has_thumbnail=True,
        media_name="foto.jpg", media_size=120_000,
    )  # fmt: skip
    fake.conversations[1] = [photo, *(text_message(n) for n in range(2, 40))]
    fake.media_bytes[IMAGE_SHA] = png_bytes()
    pane = _pane(qtbot, fake, height=400)
    await _open(pane, fake.rows[1])
    qtbot.wait(50)  # let the view paint the bottom of the conversation
    await pane.settle()
    assert fake.called("media") == []  # the photo is far above: not painted, not fetched
    pane.list.scrollToTop()
    await until(lambda: fake.called("media"), "the thumbnail request")
    await pane.settle()
    assert fake.called("media") == [(IMAGE_SHA, True)]
    assert pane.model.index(0).data(Qt.ItemDataRole.DecorationRole) is not None
    pane.list.viewport().repaint()
    await pane.settle()
    assert fake.called("media") == [(IMAGE_SHA, True)]  # cached: asked once


async def test_the_transfer_dialog_sends_the_chosen_queue(qtbot: Any) -> None:
    fake = FakeDesk(1)
    fake.rows[1] = make_ticket(1, queue_id=7)
    pane = _pane(qtbot, fake)
    pane.set_queues({7: ("Consultas", "#111"), 9: ("Exames", "#222")})
    await _open(pane, fake.rows[1])
    pane.transfer_btn.click()
    await until(lambda: pane.transfer_dialog is not None, "the transfer dialog")
    dialog = pane.transfer_dialog
    assert dialog is not None
    assert dialog.queue.findData(7) == -1  # the current queue is not offered
    dialog.queue.setCurrentIndex(dialog.queue.findData(9))
    dialog.accept()
    await pane.settle()
    assert fake.called("transfer") == [(1, 9, None)]
    assert pane.ticket is not None and pane.ticket.queue_id == 9
