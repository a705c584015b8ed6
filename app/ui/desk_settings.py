"""The desk's own settings on this workstation (QSettings), typed.

Personal: language (applied at the next start), desktop notifications, sound. Clinic policy
(admins only, in Configurações): idle-lock minutes and notification privacy. Privacy is on by
default: a reception screen may be seen by patients (LGPD), so a notification names the contact
only and never shows the message text.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.ui.app import DEFAULT_LANGUAGE, LANGUAGES

IDLE_DEFAULT_MIN = 5
IDLE_RANGE_MIN = (1, 120)


def _flag(value: object, default: bool) -> bool:
    """QSettings hands back "true"/"false" strings from INI files."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class DeskSettings:
    """Typed view over one QSettings (tests pass an INI file of their own)."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings("ClinicDesk", "ClinicDesk")

    def _get(self, key: str) -> object:
        return self.store.value(key)

    @property
    def language(self) -> str:
        value = str(self._get("desk/language") or DEFAULT_LANGUAGE)
        return value if value in LANGUAGES else DEFAULT_LANGUAGE

    @language.setter
    def language(self, value: str) -> None:
        self.store.setValue("desk/language", value)

    @property
    def idle_minutes(self) -> int:
        try:
            value = int(str(self._get("desk/idle_minutes") or IDLE_DEFAULT_MIN))
        except ValueError:
            return IDLE_DEFAULT_MIN
        low, high = IDLE_RANGE_MIN
        return min(high, max(low, value))

    @idle_minutes.setter
    def idle_minutes(self, value: int) -> None:
        self.store.setValue("desk/idle_minutes", int(value))

    @property
    def notifications(self) -> bool:
        return _flag(self._get("desk/notifications"), True)

    @notifications.setter
    def notifications(self, value: bool) -> None:
        self.store.setValue("desk/notifications", bool(value))

    @property
    def sound(self) -> bool:
        return _flag(self._get("desk/sound"), True)

    @sound.setter
    def sound(self, value: bool) -> None:
        self.store.setValue("desk/sound", bool(value))

    @property
    def privacy(self) -> bool:
        return _flag(self._get("desk/privacy"), True)

    @privacy.setter
    def privacy(self, value: bool) -> None:
        self.store.setValue("desk/privacy", bool(value))
