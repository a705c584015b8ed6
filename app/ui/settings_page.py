"""Configurações: this workstation's desk settings (:class:`DeskSettings`).

Everyone sets their personal preferences (language, notifications, sound); admins also set the
clinic's policy on this workstation (idle-lock minutes, privacy of notifications). Changes are
saved at once; the language applies at the next start.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.desk_settings import IDLE_RANGE_MIN, DeskSettings
from app.ui.qtutil import named


class SettingsPage(QWidget):
    """The form; each control writes its setting when changed."""

    def __init__(self, settings: DeskSettings, admin: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        layout = QVBoxLayout(self)
        head = QLabel(self.tr("Configurações"))
        head.setStyleSheet("font-size: 18px; font-weight: bold;")
        layout.addWidget(head)
        layout.addWidget(self._personal())
        self.policy = self._policy()
        self.policy.setVisible(admin)
        layout.addWidget(self.policy)
        layout.addStretch(1)

    def _personal(self) -> QGroupBox:
        box = QGroupBox(self.tr("Preferências pessoais"))
        form = QFormLayout(box)
        self.language = named(QComboBox(), "settingLanguage")
        self.language.addItem(self.tr("Português (Brasil)"), "pt_BR")
        self.language.addItem(self.tr("Inglês"), "en")
        self.language.setCurrentIndex(max(0, self.language.findData(self.settings.language)))
        self.language.currentIndexChanged.connect(self._language_changed)
        form.addRow(self.tr("Idioma"), self.language)
        form.addRow("", QLabel(self.tr("O idioma muda na próxima vez que o ClinicDesk abrir.")))
        self.notifications = self._check("settingNotify", self.tr("Avisar novas mensagens"))
        self.notifications.setChecked(self.settings.notifications)
        self.notifications.toggled.connect(lambda on: setattr(self.settings, "notifications", on))
        self.sound = self._check("settingSound", self.tr("Tocar som ao avisar"))
        self.sound.setChecked(self.settings.sound)
        self.sound.toggled.connect(lambda on: setattr(self.settings, "sound", on))
        form.addRow(self.notifications)
        form.addRow(self.sound)
        return box

    def _policy(self) -> QGroupBox:
        box = QGroupBox(self.tr("Regras da clínica neste computador"))
        form = QFormLayout(box)
        self.idle = named(QSpinBox(), "settingIdle")
        self.idle.setRange(*IDLE_RANGE_MIN)
        self.idle.setValue(self.settings.idle_minutes)
        self.idle.setSuffix(self.tr(" min"))
        self.idle.valueChanged.connect(lambda v: setattr(self.settings, "idle_minutes", v))
        form.addRow(self.tr("Bloquear a tela após"), self.idle)
        self.privacy = self._check(
            "settingPrivacy", self.tr("Privacidade: avisos mostram só o nome, nunca o texto")
        )
        self.privacy.setChecked(self.settings.privacy)
        self.privacy.toggled.connect(lambda on: setattr(self.settings, "privacy", on))
        form.addRow(self.privacy)
        return box

    def _check(self, name: str, text: str) -> QCheckBox:
        return named(QCheckBox(text), name)

    def _language_changed(self, index: int) -> None:
        self.settings.language = str(self.language.itemData(index))
