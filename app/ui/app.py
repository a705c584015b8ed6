"""The QApplication, its qasync loop and the translators.

Language: the desk's source strings are Portuguese (Brazil), so pt-BR needs no translation file
and the UI stays Portuguese even if the build step that compiles ``.qm`` files was skipped.
English (``en``) loads ``resources/i18n/clinicdesk_en.qm``. The language comes from
``--language`` or ``CLINICDESK_LANG`` (default ``pt_BR``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

DEFAULT_LANGUAGE = "pt_BR"
LANGUAGES = ("pt_BR", "en")


def i18n_dir() -> Path:
    """``resources/i18n`` of the checkout, or of the PyInstaller bundle when frozen."""
    frozen = getattr(sys, "_MEIPASS", None)
    base = Path(frozen) if frozen else Path(__file__).resolve().parents[2]
    return base / "resources" / "i18n"


def chosen_language(explicit: str | None = None) -> str:
    """``explicit``, else ``$CLINICDESK_LANG``, else pt_BR; unknown values fall back to pt_BR."""
    value = explicit or os.environ.get("CLINICDESK_LANG") or DEFAULT_LANGUAGE
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def install_translators(app: QApplication, language: str) -> list[QTranslator]:
    """Load Qt's own strings (dialog buttons) and, for English, the desk's translation.

    Returns the translators (the caller keeps them alive for the app's lifetime).
    """
    loaded: list[QTranslator] = []
    qt = QTranslator(app)
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if qt.load(QLocale(language), "qtbase", "_", qt_dir):
        app.installTranslator(qt)
        loaded.append(qt)
    if language != DEFAULT_LANGUAGE:
        ours = QTranslator(app)
        if ours.load(str(i18n_dir() / f"clinicdesk_{language}.qm")):
            app.installTranslator(ours)
            loaded.append(ours)
    QLocale.setDefault(QLocale(language))
    return loaded


def make_app(language: str | None = None) -> tuple[QApplication, list[QTranslator]]:
    """The QApplication (reused if one exists, as under pytest-qt) with translators."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("ClinicDesk")
    app.setOrganizationName("ClinicDesk")
    # The desk ends when its session says so (Desk.run), not when Qt sees no window: a closed
    # dialog or window must not stop the qasync loop under a coroutine still running.
    app.setQuitOnLastWindowClosed(False)
    font = QFont(app.font())
    font.setPointSize(max(font.pointSize(), 10))
    app.setFont(font)
    return app, install_translators(app, chosen_language(language))
