"""Every user-facing string goes through tr(): the .ts files are complete and current, the
English UI shows no Portuguese source text, and the Portuguese UI shows no English text."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QTranslator
from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QLineEdit,
    QListWidget,
    QTabWidget,
    QWidget,
)

from app.ui.app import i18n_dir
from app.ui.bridge import EventBridge
from app.ui.client import DeskClient
from app.ui.client_types import BranchRole, Me
from app.ui.i18n_build import sources, tool
from app.ui.login import LoginDialog, LoginResult
from app.ui.main_window import MainWindow

EN_TS = i18n_dir() / "clinicdesk_en.ts"


def _entries(ts: Path) -> dict[tuple[str, str], str | None]:
    """(context, source) → translation text (None when unfinished or empty)."""
    found: dict[tuple[str, str], str | None] = {}
    for ctx in ET.parse(ts).getroot().iter("context"):
        name = ctx.findtext("name") or ""
        for msg in ctx.iter("message"):
            tr = msg.find("translation")
            done = tr is not None and tr.get("type") is None and bool(tr.text)
            found[(name, msg.findtext("source") or "")] = (
                tr.text if done and tr is not None else None
            )
    return found


def test_the_english_ts_is_current_and_has_no_unfinished_entry(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.ts"
    subprocess.run(
        [tool("lupdate"), *sources(), "-ts", str(fresh)], check=True, capture_output=True
    )
    committed = _entries(EN_TS)
    assert set(_entries(fresh)) == set(committed), "run: python -m app.ui.i18n_build update"
    unfinished = sorted(key for key, text in committed.items() if text is None)
    assert not unfinished


@pytest.fixture
def english(qapp: Any, tmp_path: Path) -> Iterator[None]:
    qm = tmp_path / "clinicdesk_en.qm"
    subprocess.run([tool("lrelease"), str(EN_TS), "-qm", str(qm)], check=True, capture_output=True)
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    yield
    QCoreApplication.removeTranslator(translator)


def _visible_texts(root: QWidget) -> set[str]:
    texts: set[str] = set()
    for w in [root, *root.findChildren(QWidget)]:
        if isinstance(w, QLabel | QAbstractButton):
            texts.add(w.text())
        if isinstance(w, QLineEdit):
            texts.add(w.placeholderText())
        if isinstance(w, QTabWidget):
            texts.update(w.tabText(i).split(" (")[0] for i in range(w.count()))
        if isinstance(w, QListWidget):
            texts.update(w.item(i).text() for i in range(w.count()))
    return {t for t in texts if t.strip()}


async def _screens(qtbot: Any) -> tuple[set[str], list[Any]]:
    client = DeskClient("http://127.0.0.1:9")  # nothing answers: the screens show as built
    bridge = EventBridge(client.events_url)
    me = Me(1, "ana", "Ana", False, (BranchRole(1, "Centro", "admin"),))
    window = MainWindow(client, bridge, LoginResult(me, None))
    dialog = LoginDialog(client, "ana")
    for w in (window, dialog):
        qtbot.addWidget(w)
        w.show()
    texts = _visible_texts(window) | _visible_texts(dialog)
    for i in range(window.stack.count()):
        texts |= _visible_texts(window.stack.widget(i))
    await window.settle()
    await client.close()
    return texts, [window, dialog]


async def test_the_english_ui_shows_no_portuguese_source_text(qtbot: Any, english: None) -> None:
    texts, _ = await _screens(qtbot)
    portuguese = {src for (_, src), en in _entries(EN_TS).items() if en != src}
    assert "Conversations" in texts  # the translation is really loaded
    assert not texts & portuguese


async def test_the_portuguese_ui_shows_no_english_text(qtbot: Any) -> None:
    texts, _ = await _screens(qtbot)
    english_words = {en for (_, src), en in _entries(EN_TS).items() if en and en != src}
    assert "Atendimentos" in texts
    assert not texts & english_words
