"""``clinicdesk --demo`` with the desk: simulator + engine process + desk window.

The engine runs as its own process, as in production (the desk is only its client). On a fresh
demo folder the desk logs in by itself as the demo super admin ``admin`` (its password is
printed); on a reused folder it shows the login dialog with ``admin`` filled in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from app.config import DataDir
from app.infra.engine_info import read_engine_info
from app.simulator.protocol import DEFAULT_URL

ENGINE_START_S = 60.0


def start_engine(root: Path) -> subprocess.Popen[bytes]:
    """``clinicdesk engine --data-dir ROOT --port 0`` as a child process."""
    cmd = [sys.executable, "-m", "app", "engine", "--data-dir", str(root), "--port", "0"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # noqa: S603 - our own module


def wait_engine(root: Path, proc: subprocess.Popen[bytes]) -> str:
    """The URL of ``proc`` once its ``/health`` answers (SystemExit if it never does)."""
    deadline = time.monotonic() + ENGINE_START_S
    while time.monotonic() < deadline and proc.poll() is None:
        info = read_engine_info(DataDir(root)) or {}
        if info.get("pid") == proc.pid and _healthy(str(info.get("url"))):
            return str(info["url"])
        time.sleep(0.2)
    raise SystemExit("clinicdesk: error: the demo engine did not start")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def run_demo_desk(root: Path, password: str, args: argparse.Namespace) -> int:
    """Create the demo if needed, start its engine, pair its channels, run the desk."""
    from app.cli.demo import create_demo, pair_all
    from app.ui.desk import DeskOptions, run_desk

    fresh = not (root / "keystore.json").exists()
    if fresh:
        asyncio.run(create_demo(root, password, DEFAULT_URL))
    engine = start_engine(root)
    try:
        url = wait_engine(root, engine)
        threading.Thread(target=pair_all, args=(root,), daemon=True).start()
        shown = password if fresh else "(as set when the demo folder was made)"
        intro = {"data_dir": str(root), "engine_url": url, "user": "admin", "password": shown}
        print(json.dumps(intro, ensure_ascii=False), flush=True)
        options = DeskOptions(
            url,
            username="admin",
            autologin=("admin", password) if fresh else None,
            screenshot=Path(args.screenshot) if args.screenshot else None,
            quit_after=args.quit_after,
            language=args.language,
        )
        return run_desk(options)
    finally:
        engine.terminate()
        try:
            engine.wait(20)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait(5)
