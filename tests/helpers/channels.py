"""A real simulator process, a real store with channel rows, and polling helpers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.config import DataDir
from app.services.ports import NewChannel
from app.store.store import Store
from app.store.types import utcnow

REPO = Path(__file__).resolve().parents[2]
# Runs ``clinicdesk simulator serve`` through its own parser, whether or not the top-level CLI
# has been wired to it yet.
_SERVE = (
    "import argparse, sys\n"
    "from app.cli.simulator_cmd import add_simulator_parser, cmd_simulator\n"
    "p = argparse.ArgumentParser(); add_simulator_parser(p.add_subparsers(dest='command'))\n"
    "sys.exit(cmd_simulator(p.parse_args(sys.argv[1:])))\n"
)
READY = "listening on "


class Simulator:
    """``clinicdesk simulator serve --port 0`` in a subprocess, with its control API."""

    def __init__(self, *extra: str) -> None:
        args = [sys.executable, "-c", _SERVE, "simulator", "serve", "--port", "0", *extra]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert READY in line, line
        self.url = line.split(READY, 1)[1].strip()
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def post(self, path: str, **body: Any) -> httpx.Response:
        return self.http.post(path, json=body)

    def fault(self, kind: str, channel: str | None, seconds: float | None = None) -> None:
        response = self.post("/control/fault", kind=kind, channel=channel, seconds=seconds)
        response.raise_for_status()

    def scan(self, channel: str) -> bool:
        return self.post("/control/scan", channel=channel).status_code == 200

    def account(self, channel: str) -> dict[str, Any]:
        response = self.http.get(f"/control/accounts/{channel}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def count(self, channel: str, name: str) -> int:
        return int(self.account(channel)["counts"].get(name, 0))

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def create_store(root: Path) -> Store:
    """A new encrypted store in ``root`` (a random key: nobody needs to reopen it)."""
    return Store.create(DataDir(root), os.urandom(32))


async def add_channels(store: Store, names: list[str], sim_url: str, **config: object) -> list[int]:
    """One branch and a simulator channel per name (the simulator account is the name)."""

    def work(tx: Any) -> list[int]:
        at = utcnow()
        branch = tx.branches.get_by_name("Centro") or tx.branches.get(tx.branches.add("Centro", at))
        return [
            tx.channels.add(
                NewChannel(
                    branch.id, name, name.title(), "simulator",
                    config={"simulator_url": sim_url, "account": name, **config},
                ),
                at,
            )
            for name in names
        ]  # fmt: skip

    ids: list[int] = await store.transaction(work)
    return ids


async def wait_for(
    check: Callable[[], object], what: str, timeout: float = 15.0, step: float = 0.02
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")
