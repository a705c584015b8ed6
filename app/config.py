"""Where an installation keeps its files, and how the data directory is chosen.

Order: ``--data-dir``, else ``CLINICDESK_DATA_DIR``, else the platform's per-machine data folder
(platformdirs ``site_data_dir``; on Windows ``C:\\ProgramData\\ClinicDesk``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "ClinicDesk"
ENV_DATA_DIR = "CLINICDESK_DATA_DIR"
ENV_KEY_DIR = "CLINICDESK_KEY_DIR"
DEFAULT_ENGINE_PORT = 8765


def default_data_dir() -> Path:
    """The per-machine data folder used when neither flag nor environment names one."""
    return Path(platformdirs.site_data_dir(APP_NAME, appauthor=False))


def resolve_data_dir(cli_value: str | os.PathLike[str] | None) -> Path:
    """Pick the data directory from the flag, the environment, or the platform default."""
    if cli_value:
        return Path(cli_value).expanduser().absolute()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().absolute()
    return default_data_dir()


def default_key_dir() -> Path:
    """Where the Linux machine protector keeps its key files: outside the data directory.

    Copying the data directory to another PC must not carry the machine key with it, so the key
    lives in the installing account's own config folder (``CLINICDESK_KEY_DIR`` overrides it,
    e.g. ``/etc/clinicdesk/keys`` for a root service).
    """
    env = os.environ.get(ENV_KEY_DIR)
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "machine-keys"


@dataclass(frozen=True, slots=True)
class DataDir:
    """The files of one installation (see docs/ARCHITECTURE.md, "Data directory")."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "clinicdesk.db"

    @property
    def db_set(self) -> tuple[Path, Path, Path]:
        """The database file and its WAL and shared-memory companions."""
        return (self.db, self.root / "clinicdesk.db-wal", self.root / "clinicdesk.db-shm")

    @property
    def keystore(self) -> Path:
        return self.root / "keystore.json"

    @property
    def keystore_backup(self) -> Path:
        return self.root / "keystore.bak"

    @property
    def engine_info(self) -> Path:
        """Written by a running engine: where it listens and the local admin credential."""
        return self.root / "engine.json"

    @property
    def engine_lock(self) -> Path:
        return self.root / "engine.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def channels(self) -> Path:
        return self.root / "channels"

    @property
    def media(self) -> Path:
        return self.root / "media"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def exports(self) -> Path:
        """Scratch space for a patient's data archive on its way to the desk (LGPD exports);
        each is deleted once sent."""
        return self.root / "exports"

    @property
    def migration_copies(self) -> Path:
        """Copies of the database file set kept before each schema migration."""
        return self.root / "pre-migration"

    def is_initialised(self) -> bool:
        """True when a store or a keystore exists here (init must then refuse)."""
        return any(p.exists() for p in (self.db, self.keystore, self.keystore_backup))
