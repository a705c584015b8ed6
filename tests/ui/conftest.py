"""Desk tests: offscreen Qt, coroutines on the qasync loop, Qt warnings fail the test.

Every async test here runs on a ``qasync.QEventLoop`` around pytest-qt's QApplication
(STACK_NOTES.md §4), so the desk's tasks run exactly as in the app. Every test is marked
``gui`` (qutebrowser's split: ``-m "not gui"`` skips them).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtWidgets import QApplication

# Harmless offscreen-plugin chatter; anything else Qt warns about fails the test.
QT_LOG_IGNORE = ["This plugin does not support propagateSizeHints"]


# Every qasync loop a test made, kept for the whole session: a closed loop only marks its
# timer object stopped, and Qt still holds that object's pending timers (a "call_later" not yet
# due). Freed with the loop, the next test's event processing delivered a timer event to freed
# memory (a segfault when an async test that is not a desk test ran after a desk test). Alive,
# the object receives each late timer and kills it.
_LOOPS = pytest.StashKey[list[asyncio.AbstractEventLoop]]()


def _qasync_loop(config: pytest.Config) -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    config.stash.setdefault(_LOOPS, []).append(loop)
    return loop


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Callable[[], Any]]:
    return {"qasync": lambda: _qasync_loop(config)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*QT_LOG_IGNORE))


@pytest.fixture(autouse=True)
def _keep_loop_alive(qapp: QApplication) -> None:
    """Closing a test's last window must not quit the app (and stop the qasync loop)."""
    qapp.setQuitOnLastWindowClosed(False)
