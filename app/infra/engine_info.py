"""``engine.json``: where a running engine listens, and its local admin token.

Kept apart from ``app.engine`` so that the command line can find a running engine without
importing the engine itself (FastAPI, the store, backups): see docs/CLI.md, "Start-up time".
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from app import __version__
from app.config import DataDir
from app.infra.atomic import atomic_write_text


def write_engine_info(data_dir: DataDir, url: str, token: str) -> None:
    """Publish where this engine listens and the local admin token (owner-only file)."""
    info = {
        "pid": os.getpid(),
        "url": url,
        "version": __version__,
        "started_at": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
        "token": token,
    }
    atomic_write_text(data_dir.engine_info, json.dumps(info, indent=2), mode=0o600)


def read_engine_info(data_dir: DataDir) -> dict[str, object] | None:
    """What a running engine published, or None (absent or unreadable)."""
    try:
        info = json.loads(data_dir.engine_info.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
