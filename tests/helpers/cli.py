"""Running the real ``clinicdesk`` command in a subprocess, and a real engine process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PASSWORD = "correct-horse-battery-1"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str | Path, env: dict[str, str] | None = None, stdin: str = "") -> Result:
    """Run ``python -m app ARGS`` and capture its exit code and output."""
    cmd = [sys.executable, "-m", "app", *map(str, args)]
    proc = subprocess.run(
        cmd,
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (to prove a failed command changed nothing)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def init_installation(tmp: Path, data_dir: Path) -> Path:
    """``clinicdesk init`` into ``data_dir``; returns the recovery key file."""
    pw = tmp / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    rk = tmp / "rk.txt"
    result = run_cli(
        "init", "--data-dir", data_dir, "--admin-user", "root",
        "--admin-password-file", pw, "--recovery-key-file", rk,
    )  # fmt: skip
    assert result.code == 0, result.err
    return rk


class EngineProcess:
    """A real ``clinicdesk engine`` on a free loopback port."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        cmd = [sys.executable, "-m", "app", "engine", "--data-dir", str(data_dir), "--port", "0"]
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [*cmd, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_ready(self, timeout: float = 30) -> dict[str, object]:
        """Wait until ``engine.json`` names a URL whose /health answers; return engine.json."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"engine exited {self.proc.returncode}: {self.stderr()}")
            info = self._info()
            if info and _healthy(str(info["url"])):
                return info
            time.sleep(0.1)
        raise AssertionError("engine did not become ready")

    def _info(self) -> dict[str, object] | None:
        try:
            return json.loads((self.data_dir / "engine.json").read_text())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (CTRL_BREAK on Windows) and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False
