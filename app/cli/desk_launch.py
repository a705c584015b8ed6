"""``clinicdesk desk``: open the desk on this PC's engine, starting the engine if none answers.

The engine is started as a detached process (its own session), so closing the desk never
stops it or WhatsApp. If it does not answer in time the desk opens anyway: its login dialog
says the service is unreachable and keeps trying.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import httpx

from app.cli.backends import data_dir_of
from app.config import DEFAULT_ENGINE_PORT, DataDir
from app.infra.engine_info import read_engine_info
from app.infra.lock import is_locked_by_other

START_WAIT_S = 30.0


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _published_url(data_dir: DataDir) -> str | None:
    info = read_engine_info(data_dir) or {}
    url = info.get("url")
    return str(url) if url and _answers(str(url)) else None


def start_engine(data_dir: DataDir) -> None:
    """``clinicdesk engine`` in its own session: it outlives the desk."""
    cmd = [sys.executable, "-m", "app", "engine", "--data-dir", str(data_dir.root)]
    subprocess.Popen(  # noqa: S603 - our own module, no user input
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def engine_url(data_dir: DataDir, wait: float = START_WAIT_S) -> str:
    """The URL of the engine on ``data_dir``; starts one when none runs (never a second)."""
    url = _published_url(data_dir)
    if url:
        return url
    if not is_locked_by_other(data_dir.engine_lock):
        start_engine(data_dir)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        url = _published_url(data_dir)
        if url:
            return url
        time.sleep(0.3)
    return f"http://127.0.0.1:{DEFAULT_ENGINE_PORT}"  # the login dialog keeps trying


def cmd_desk(args: argparse.Namespace) -> int:
    from app.ui.desk import DeskOptions, run_desk

    url = engine_url(data_dir_of(args))
    return run_desk(DeskOptions(url, username=args.username, language=args.language))
