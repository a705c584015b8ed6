"""Shared fixtures. Every test gets its own data directory and machine-key directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Fixtures every test may use: a throwaway PostgreSQL cluster (postgres_server, postgres_url)
# and a throwaway CA with a loopback server certificate (test_pki).
pytest_plugins = ["tests.helpers.postgres", "tests.helpers.tls"]

# Qt must never try to reach a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private machine-key directory (the Linux machine protector's home) for this test."""
    path = tmp_path / "machine-keys"
    monkeypatch.setenv("CLINICDESK_KEY_DIR", str(path))
    return path


@pytest.fixture
def data_dir(tmp_path: Path, key_dir: Path) -> Path:
    """A not-yet-initialised data directory path (the directory itself does not exist yet)."""
    return tmp_path / "data"
