"""Offscreen screenshots of the inbox and of a conversation with a photo, a document, a refused
file and failed sends, on fake data (the demo's simulator sends text only).

    QT_QPA_PLATFORM=offscreen python -m tests.helpers.desk_shots docs/screenshots [en]

Emoji need a colour emoji font (Debian: fonts-noto-color-emoji).
"""

import asyncio
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import qasync

from app.ui.app import make_app
from app.ui.bridge import EventBridge
from app.ui.client_types import BranchRole, Channel, Me, Note
from app.ui.desk import save
from app.ui.login import LoginResult
from app.ui.main_window import MainWindow
from tests.helpers.desk import make_ticket
from tests.helpers.fake_desk import IMAGE_SHA, FakeDesk, text_message

OUT = Path(sys.argv[1])


class ShotDesk(FakeDesk):
    async def channels(self):
        return [
            Channel(
                1,
                1,
                "recepcao",
                "Recepção",
                "simulator",
                "+5511999990001",
                True,
                "CONNECTED",
                None,
                0,
            ),
            Channel(
                2, 1, "exames", "Exames", "simulator", "+5511999990002", True, "CONNECTED", None, 0
            ),
        ]

    def __getattr__(self, name):
        async def nothing(*a, **k):
            return []

        return nothing


def photo_png() -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    img = QImage(320, 240, QImage.Format.Format_RGB32)
    img.fill(QColor("#F4F1EA"))
    p = QPainter(img)
    p.setPen(QColor("#333"))
    f = QFont()
    f.setPointSize(14)
    p.setFont(f)
    p.drawText(QRect(0, 20, 320, 30), int(Qt.AlignmentFlag.AlignCenter), "PEDIDO MÉDICO")
    for i in range(6):
        p.fillRect(30, 70 + i * 25, 260 - (i % 3) * 40, 8, QColor("#9AA5B1"))
    p.end()
    arr = QByteArray()
    buf = QBuffer(arr)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "JPEG")
    return bytes(arr.data())


async def main(app):
    now = datetime.now(UTC)
    fake = ShotDesk(0)
    people = [
        (
            "Maria Aparecida Souza",
            "Bom dia! Gostaria de remarcar minha consulta de quinta",
            "text",
            "in",
            2,
            3,
        ),
        ("João Pedro Lima", None, "image", "in", 1, 7),
        ("Ana Beatriz Costa", "Obrigada, até amanhã então 😊", "text", "out", 0, 15),
        ("Carlos Eduardo Nunes", None, "document", "in", 1, 32),
        ("Fernanda Oliveira", None, "audio", "in", 4, 58),
        ("Roberto Almeida", "Vocês aceitam o convênio Unimed?", "text", "in", 1, 140),
    ]
    for i, (name, preview, kind, direction, unread, mins) in enumerate(people, start=1):
        at = now - timedelta(minutes=mins)
        fake.rows[i] = replace(
            make_ticket(i),
            contact_name=name,
            preview=preview,
            last_kind=kind,
            last_direction=direction,
            unread_count=unread,
            last_activity_at=at,
            queue_id=1 if i % 2 else 2,
            channel_id=1 if i < 4 else 2,
            tags=("retorno",) if i == 2 else (),
        )
    t0 = now - timedelta(minutes=20)

    def at(m):
        return t0 + timedelta(minutes=m)

    fake.conversations[2] = [
        text_message(1, body="Boa tarde! Preciso marcar um exame de sangue.", sent_at=at(0)),
        text_message(
            2, "out", body="Boa tarde, João! Claro. Você tem o pedido médico?", sent_at=at(2)
        ),
        text_message(
            3,
            body=None,
            kind="image",
            media_sha256=IMAGE_SHA,
            has_thumbnail=True,
            media_name="pedido.jpg",
            media_size=184_000,
            sent_at=at(4),
        ),
        text_message(
            4,
            body=None,
            kind="document",
            media_sha256="cd" * 32,
            media_name="carteirinha-convenio.pdf",
            media_size=1_450_000,
            sent_at=at(5),
        ),
        text_message(
            5, body=None, kind="document", media_refused=True, media_name="exame.exe", sent_at=at(6)
        ),
        text_message(
            6,
            "out",
            body="Recebido! Temos horário amanhã às 7h30, em jejum de 8 horas.",
            ack="pending",
            outbox_id=41,
            send_status="failed",
            sent_at=at(7),
        ),
        text_message(
            7,
            "out",
            body="Ok",
            ack="pending",
            outbox_id=42,
            send_status="needs_review",
            sent_at=at(8),
        ),
    ]
    fake.notes_of[2] = [Note(1, 1, "Paciente prefere horários cedo.", at(1))]
    fake.media_bytes[IMAGE_SHA] = photo_png()
    me = Me(1, "ana", "Ana (recepção)", False, (BranchRole(1, "Clínica Centro", "receptionist"),))
    window = MainWindow(fake, EventBridge("ws://127.0.0.1:9/events"), LoginResult(me, None))
    window.resize(1400, 800)
    from app.ui.bridge import LinkStatus

    window.bridge.statusChanged.emit(LinkStatus.CONNECTED.value)
    window.show()
    window.refresh_channels()
    window.inbox.set_queues({1: ("Consultas", "#2E7D32"), 2: ("Exames", "#1565C0")})
    for m in window.inbox.models.values():
        m.fetchMore()
    for _ in range(4):
        await window.settle()
        await asyncio.sleep(0.2)
    save(window, OUT / "inbox.png")
    view = window.inbox.views["pending"]
    view.selectRow(1)
    window.inbox._open(window.inbox.models["pending"], window.inbox.models["pending"].index(1, 0))
    for _ in range(5):
        await window.settle()
        await asyncio.sleep(0.2)
    save(window, OUT / "conversation.png")
    app.quit()


app, _translators = make_app(sys.argv[2] if len(sys.argv) > 2 else None)
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
with loop:
    loop.run_until_complete(main(app))
