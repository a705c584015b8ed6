"""The event bridge: one socket, typed signals, and a clean comeback after an engine restart."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from app.domain.channels import Backoff
from app.ui.bridge import EventBridge, LinkStatus
from app.ui.client import DeskClient
from tests.helpers.cli import PASSWORD, init_installation
from tests.helpers.desk import until
from tests.helpers.e2e import Engine

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="engine processes: POSIX here")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_bridge_comes_back_after_the_engine_restarts(
    qtbot: Any, tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.ui.bridge")
    init_installation(tmp_path, data_dir)
    port = _free_port()
    engine = Engine(data_dir, "--port", str(port))
    client = DeskClient(engine.url)
    bridge = EventBridge(client.events_url, backoff=Backoff(0.05, 0.2))
    client.on_token = bridge.set_token
    statuses: list[str] = []
    bridge.statusChanged.connect(statuses.append)
    try:
        await client.login("root", PASSWORD)
        assert client.token is not None
        bridge.start(client.token)
        await until(lambda: bridge.status is LinkStatus.CONNECTED, "the first connection")
        engine.stop_or_kill(timeout=5)
        await until(lambda: bridge.status is LinkStatus.BACKOFF, "backing off")
        with qtbot.waitSignal(bridge.authLost, timeout=60_000):
            engine = Engine(data_dir, "--port", str(port))  # tokens died with the old engine
            await until(lambda: bridge.status is LinkStatus.AUTH_NEEDED, "the refused token")
        with qtbot.waitSignal(bridge.resynced, timeout=30_000):
            await client.login("root", PASSWORD)  # on_token hands the bridge the new token
            await until(lambda: bridge.status is LinkStatus.CONNECTED, "connected again")
        assert statuses[:2] == ["connecting", "connected"]
        assert "backoff" in statuses and "auth_needed" in statuses
        assert statuses[-1] == "connected"
        logged = [r.getMessage() for r in caplog.records if r.name == "app.ui.bridge"]
        assert logged == ["event stream lost", "event stream back"]  # once each, not per try
    finally:
        await bridge.stop()
        await client.close()
        engine.stop_or_kill(timeout=5)
