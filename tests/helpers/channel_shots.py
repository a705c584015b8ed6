"""Offscreen screenshot of the Canais page as a branch admin sees it (actions on each card), on
fake channels in four states (the demo's user is a receptionist, who sees no actions).

    QT_QPA_PLATFORM=offscreen python -m tests.helpers.channel_shots docs/screenshots [en]
"""

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import qasync

from app.ui.app import make_app
from app.ui.bridge import EventBridge, LinkStatus
from app.ui.client_types import BranchRole, Channel, Me
from app.ui.desk import save
from app.ui.login import LoginResult
from app.ui.main_window import MainWindow
from tests.helpers.fake_desk import FakeDesk

OUT = Path(sys.argv[1])
STATES = (
    ("recepcao", "Recepção", "+5511999990001", "CONNECTED", None),
    ("exames", "Exames", "+5511999990002", "SUSPENDED", "admin_suspend"),
    ("pediatria", "Pediatria", "+5511999990003", "QR_REQUIRED", "logged_out"),
    ("odonto", "Odontologia", "+5511999990004", "ERROR", "connect_failed"),
)


class ShotDesk(FakeDesk):
    async def channels(self) -> list[Channel]:
        return [
            Channel(n, 1, name, shown, "whatsapp", phone, True, state, reason, 0)
            for n, (name, shown, phone, state, reason) in enumerate(STATES, start=1)
        ]

    def __getattr__(self, name: str):
        async def nothing(*a: object, **k: object) -> list[object]:
            return []

        return nothing


async def main(app: object) -> None:
    me = Me(1, "carla", "Carla (administração)", False, (BranchRole(1, "Clínica Centro", "admin"),))
    window = MainWindow(ShotDesk(0), EventBridge("ws://127.0.0.1:9/events"), LoginResult(me, None))
    window.channels_page.branch_names = {1: "Clínica Centro"}
    window.resize(1400, 800)
    window.bridge.statusChanged.emit(LinkStatus.CONNECTED.value)
    window.show()
    window.refresh_channels()
    window.show_page(2)
    for _ in range(4):
        await window.settle()
        await asyncio.sleep(0.2)
    save(window, OUT / "channels.png")
    app.quit()  # type: ignore[attr-defined]


app, _translators = make_app(sys.argv[2] if len(sys.argv) > 2 else None)
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
with loop:
    loop.run_until_complete(main(app))
