"""End-to-end helpers: a real engine with drained pipes, its API, the /events stream, the CLI.

Waiting is always polling with a deadline (:func:`wait_until`); nothing here measures speed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.helpers.channels import REPO, Simulator
from tests.helpers.cli import PASSWORD, EngineProcess, Result, init_installation, run_cli

DEADLINE = 30.0
Json = dict[str, Any]


def wait_until(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def one_line_error(result: Result) -> str:
    """The single stderr line of a failed command, without the program prefix."""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    prefix = "clinicdesk: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0].removeprefix(prefix)


def json_documents(text: str) -> list[Any]:
    """Every JSON value printed one after the other in ``text`` (lines or indented blocks)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while (at := _skip_blank(text, at)) < len(text):
        value, at = decoder.raw_decode(text, at)
        docs.append(value)
    return docs


def _skip_blank(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def require_free_port(port: int) -> None:
    """Fail clearly when something already listens on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(1)
        busy = probe.connect_ex(("127.0.0.1", port)) == 0
    assert not busy, f"127.0.0.1:{port} is busy; the demo needs it for its simulator"


# ---- the engine ----------------------------------------------------------------------------


class Engine(EngineProcess):
    """:class:`EngineProcess` whose output is drained (a full pipe would stall the engine),
    plus an API client holding the local admin token from ``engine.json``."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        super().__init__(data_dir, *extra)
        self._err: list[str] = []
        for stream, sink in ((self.proc.stdout, []), (self.proc.stderr, self._err)):
            threading.Thread(target=_drain, args=(stream, sink), daemon=True).start()
        info = self.wait_ready()
        self.url, self.token = str(info["url"]), str(info["token"])
        self.api = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            trust_env=False,
        )

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; an engine that does not stop in time is killed and reported."""
        self.api.close()
        try:
            return super().stop(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"engine did not stop in {timeout} s:\n{self.stderr()}") from None

    def stop_or_kill(self, timeout: float = 10) -> int | None:
        """SIGTERM; SIGKILL if it has not stopped after ``timeout`` s (returns None then)."""
        try:
            return self.stop(timeout)
        except AssertionError:
            return None

    def stderr(self) -> str:
        return "".join(self._err)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code < 400, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def channel(self, name: str) -> Json:
        return dict(self.call("GET", f"/channels/{name}"))

    def state_of(self, name: str) -> tuple[str, str]:
        c = self.channel(name)
        return c["state"], c["reason"]

    def names(self) -> set[str]:
        return {c["name"] for c in self.call("GET", "/channels")}

    def history(self, name: str) -> list[tuple[str, str]]:
        """(to_state, reason) of every stored transition, oldest first."""
        rows = self.call("GET", f"/channels/{name}/history")
        return [(r["to_state"], r["reason"]) for r in reversed(rows)]

    def wait_state(
        self, name: str, state: str, reason: str | None = None, reconnects: int = 0
    ) -> Json:
        """Wait until ``name`` is in ``state`` (with ``reason``, at least ``reconnects``)."""

        def there() -> Json | None:
            c = self.channel(name)
            ok = c["state"] == state and reason in (None, c["reason"])
            return c if ok and c["reconnects"] >= reconnects else None

        found: Json = wait_until(there, f"{name} {state}({reason}) reconnects>={reconnects}")
        return found

    def add_channel(self, branch: str, name: str, sim: Simulator) -> Json:
        body = {"branch": branch, "name": name, "kind": "simulator", "simulator_url": sim.url}
        return dict(self.call("POST", "/channels", json=body))

    def linked_channel(self, branch: str, name: str, sim: Simulator) -> Json:
        """A new channel paired through the API on an ``--auto-pair`` simulator, CONNECTED."""
        self.add_channel(branch, name, sim)
        self.wait_state(name, "QR_REQUIRED", "not_paired")
        self.call("POST", f"/channels/{name}/pair", json={})
        return self.wait_state(name, "CONNECTED", "connected")


def _drain(stream: Any, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)


def sim_account(sim: Simulator, channel: Json) -> str:
    """The simulator account the engine's channel links as.

    The contract (`simulator fault|burst --channel NAME`, docs/SIMULATOR.md "account (default
    the channel name)") says the channel's name, but the engine hands the transport the
    channel's id as its name, so today the account is ``str(id)``; see
    ``test_simulator_commands_reach_a_channel_by_its_name``. Either works here.
    """
    names = {a["name"] for a in sim.http.get("/control/accounts").json()["accounts"]}
    known = [n for n in (channel["name"], str(channel["id"])) if n in names]
    assert known, f"the simulator has no account for {channel['name']}: {sorted(names)}"
    return known[0]


def cli(*args: str | Path) -> Result:
    return run_cli(*args)


def cli_channels(data_dir: Path) -> dict[str, Json]:
    """``clinicdesk channel list --json``, by channel name."""
    result = cli("channel", "list", "--data-dir", data_dir, "--json")
    assert result.code == 0, result.err
    return {c["name"]: c for c in json.loads(result.out)}


def add_user(data_dir: Path, tmp: Path, username: str, branch: str, role: str) -> None:
    """``clinicdesk user add`` with a password file (the password is :data:`PASSWORD`)."""
    pw = tmp / f"{username}.pw"
    pw.write_text(PASSWORD + "\n")
    result = cli(
        "user", "add", "--data-dir", data_dir, "--username", username,
        "--display-name", username.title(), "--password-file", pw,
        "--branch", branch, "--role", role,
    )  # fmt: skip
    assert result.code == 0, result.err


def login(engine: Engine, username: str) -> str:
    body = {"username": username, "password": PASSWORD}
    response = httpx.post(f"{engine.url}/auth/login", json=body, timeout=30, trust_env=False)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


# ---- /events -------------------------------------------------------------------------------


def events_url(engine: Engine) -> str:
    return engine.url.replace("http://", "ws://", 1) + "/events"


@contextlib.contextmanager
def open_events(
    engine: Engine, token: str | None, first_frame: str | None = None
) -> Iterator[ClientConnection]:
    """A raw /events socket: the token in the header, or ``first_frame`` sent first."""
    headers = None if token is None else {"Authorization": f"Bearer {token}"}
    url = events_url(engine)
    with connect(url, additional_headers=headers, proxy=None, open_timeout=30) as ws:
        if first_frame is not None:
            ws.send(first_frame)
        yield ws


class EventStream:
    """The /events stream of one user, recorded by a background thread."""

    def __init__(self, engine: Engine, token: str) -> None:
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(open_events(engine, token))
        self.hello = json.loads(self.ws.recv(timeout=30))
        self.items: list[Json] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                self.items.append(json.loads(raw))
        except ConnectionClosed:
            return

    def of(self, kind: str, channel_id: int | None = None) -> list[Json]:
        return [
            e
            for e in list(self.items)
            if e["type"] == kind and channel_id in (None, e.get("channel_id"))
        ]

    def channels(self) -> set[int]:
        return {e["channel_id"] for e in list(self.items) if "channel_id" in e}

    def wait(self, kind: str, channel_id: int, count: int = 1, **fields: Any) -> list[Json]:
        def enough() -> list[Json] | None:
            hits = [e for e in self.of(kind, channel_id) if fields.items() <= e.items()]
            return hits if len(hits) >= count else None

        found: list[Json] = wait_until(enough, f"{count} x {kind} {fields} for {channel_id}")
        return found

    def close(self) -> None:
        self._stack.close()
        self._thread.join(10)


# ---- a CLI that keeps running ----------------------------------------------------------------


class LiveCommand:
    """``python -m app ARGS`` whose stdout is read line by line while it runs."""

    def __init__(self, *args: str | Path) -> None:
        cmd = [sys.executable, "-m", "app", *map(str, args)]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=_drain, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, needle: str) -> str:
        """The first output line containing ``needle`` (fails if the command ends first)."""

        def seen() -> str | None:
            hits = [line for line in list(self.lines) if needle in line]
            assert hits or self.proc.poll() is None, f"ended: {self.lines} {self._err}"
            return hits[0] if hits else None

        found: str = wait_until(seen, f"output line with {needle!r}")
        return found

    def finish(self, timeout: float = DEADLINE) -> Result:
        code = self.proc.wait(timeout)
        for reader in self._readers:  # they end at EOF: every line is in
            reader.join(timeout)
        return Result(code, "\n".join(self.lines), "".join(self._err))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def holds(check: Callable[[], Any], what: str, seconds: float) -> None:
    """Fail as soon as ``check`` is falsy while polling for ``seconds`` (a "stays" check)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert check(), f"{what}: no longer true"
        time.sleep(0.05)


@contextlib.contextmanager
def engine_and_simulator(base: Path, *sim_args: str) -> Iterator[tuple[Engine, Simulator]]:
    """A fresh installation in ``base/data`` (keys in ``base/keys``), its engine and a
    simulator started with ``sim_args``; both stopped (or killed) afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLINICDESK_KEY_DIR", str(base / "keys"))
        init_installation(base, base / "data")
        sim = Simulator(*sim_args)
        engine = Engine(base / "data")
        try:
            yield engine, sim
        finally:
            engine.stop_or_kill(timeout=10)
            sim.stop()


@dataclass
class LinkedRig:
    """An engine with one branch and one channel paired on an auto-pairing simulator."""

    engine: Engine
    sim: Simulator
    account: str  # the simulator account of the channel (patients write to it)


@contextlib.contextmanager
def linked_rig(base: Path, branch: str, channel: str) -> Iterator[LinkedRig]:
    """:func:`engine_and_simulator` with ``branch`` and a CONNECTED ``channel`` in it."""
    with engine_and_simulator(base, "--auto-pair", "--receipt-delay", "0.05") as (engine, sim):
        engine.call("POST", "/branches", json={"name": branch})
        yield LinkedRig(engine, sim, sim_account(sim, engine.linked_channel(branch, channel, sim)))
