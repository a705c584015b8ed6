"""Channels end to end: a real ``clinicdesk engine``, real channel workers and real simulator
processes on loopback, driven through the real CLI, the HTTP API and the /events WebSocket.

Isolation: one engine and three simulators per module (``rig``); every test makes its own
uniquely named channels (and branches, users), so no test depends on another's state. Fault
cases are parametrized, each on a fresh channel of the shared engine (nothing is healed or
reset between cases). The engine-restart and demo tests run their own engine and simulator.
Waiting is polling with a deadline; "stays" checks hold a state over a short window.
Marked ``slow`` (3-4 minutes, mostly CLI start-up): run with ``pytest -m slow`` or the full suite.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from app.simulator.protocol import DEFAULT_PORT
from tests.helpers.channels import Simulator
from tests.helpers.cli import init_installation
from tests.helpers.e2e import (
    Engine,
    EventStream,
    LiveCommand,
    add_user,
    cli,
    cli_channels,
    holds,
    json_documents,
    login,
    one_line_error,
    open_events,
    require_free_port,
    sim_account,
)

pytestmark = [
    pytest.mark.slow,  # about 3-4 minutes: every CLI call is a fresh interpreter (~2 s)
    pytest.mark.skipif(
        sys.platform == "win32", reason="stops engines with SIGTERM and kills CLIs (POSIX signals)"
    ),
]

BRANCH = "Centro"
QR_GLYPHS = frozenset("█▀▄ \xa0")  # qrcode pads with no-break spaces
CODE_RE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}")


@dataclass
class Rig:
    engine: Engine
    data: Path
    auto: Simulator  # --auto-pair: every pairing is accepted at once
    manual: Simulator  # QR every 0.5 s (the first after 1.5 s); pairs on POST /control/scan
    slow: Simulator  # default timing: the first QR after 60 s


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    base = tmp_path_factory.mktemp("e2e")
    sims: list[Simulator] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLINICDESK_KEY_DIR", str(base / "keys"))
        init_installation(base, base / "data")
        try:
            sims += [Simulator("--auto-pair", "--receipt-delay", "0.05")]
            sims += [Simulator("--qr-interval", "0.5"), Simulator()]
            engine = Engine(base / "data")
            engine.call("POST", "/branches", json={"name": BRANCH})
            yield Rig(engine, base / "data", *sims)
            # Not stop(): /events clients (the pair CLI, the tests) make a graceful stop hang,
            # see test_engine_stops_on_sigterm_with_an_events_client.
            engine.stop_or_kill(timeout=5)
        finally:
            for sim in sims:
                sim.stop()


@pytest.fixture
def name() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def standing(rig: Rig) -> dict[str, str]:
    """Channels that tests only look at: one CONNECTED, one waiting to be paired."""
    rig.engine.linked_channel(BRANCH, "standing-linked", rig.auto)
    rig.engine.add_channel(BRANCH, "standing-waiting", rig.manual)
    rig.engine.wait_state("standing-waiting", "QR_REQUIRED", "not_paired")
    return {"linked": "standing-linked", "waiting": "standing-waiting", "missing": "no-such"}


def waiting_channel(
    rig: Rig, name: str, sim: Simulator, branch: str = BRANCH
) -> tuple[dict[str, Any], str]:
    """A new channel sitting at QR_REQUIRED(not_paired), and its simulator account."""
    channel = rig.engine.add_channel(branch, name, sim)
    rig.engine.wait_state(name, "QR_REQUIRED", "not_paired")
    return channel, sim_account(sim, channel)


def snapshot(rig: Rig, *names: str) -> dict[str, tuple[object, ...]]:
    """What a refused command must leave unchanged: live state and stored history."""
    channels = {n: rig.engine.channel(n) for n in names}
    return {
        n: (c["state"], c["reason"], c["reconnects"], len(rig.engine.history(n)))
        for n, c in channels.items()
    }


def qr_rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip() and set(line) <= QR_GLYPHS]


# ---- channel add / list ------------------------------------------------------------------------


def test_add_then_list_shows_name_state_reason_and_reconnects(rig: Rig, name: str) -> None:
    added = cli(
        "channel", "add", "--data-dir", rig.data, "--branch", BRANCH, "--name", name,
        "--kind", "simulator", "--simulator-url", rig.manual.url,
    )  # fmt: skip
    assert added.code == 0, added.err
    assert added.out.startswith(f"Channel {name} created")
    rig.engine.wait_state(name, "QR_REQUIRED", "not_paired")
    listed = cli_channels(rig.data)[name]
    shown = {k: listed[k] for k in ("name", "kind", "state", "reason", "reconnects")}
    assert shown == {
        "name": name, "kind": "simulator", "state": "QR_REQUIRED",
        "reason": "not_paired", "reconnects": 0,
    }  # fmt: skip


def test_add_with_an_unknown_kind_is_a_usage_error(rig: Rig, name: str) -> None:
    before = rig.engine.names()
    result = cli(
        "channel", "add", "--data-dir", rig.data, "--branch", BRANCH, "--name", name,
        "--kind", "telegram",
    )  # fmt: skip
    assert result.code == 2
    assert "invalid choice: 'telegram'" in result.err
    assert rig.engine.names() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--name", "Bad Name!"], "invalid value for name", id="name"),
        pytest.param(["--name", "standing-waiting"], "that channel already exists", id="dup"),
        pytest.param(
            ["--name", "{new}", "--phone", "12ab"], "not a valid phone number", id="phone"
        ),
        pytest.param(["--name", "{new}", "--branch", "Nowhere"], "no such branch", id="branch"),
    ],
)
def test_add_refuses_bad_input_in_one_line_and_creates_nothing(
    rig: Rig, standing: dict[str, str], name: str, args: list[str], message: str
) -> None:
    before = rig.engine.names()
    argv = [a.replace("{new}", name) for a in args]
    result = cli(
        "channel", "add", "--data-dir", rig.data, "--branch", BRANCH, "--kind", "simulator", *argv
    )
    assert result.code == 1
    assert one_line_error(result) == message
    assert rig.engine.names() == before


def test_no_qr_is_made_while_nobody_pairs(rig: Rig, name: str) -> None:
    _, account = waiting_channel(rig, name, rig.manual)

    def quiet() -> bool:
        state = rig.manual.account(account)
        return state["counts"].get("qr_codes", 0) == 0 and state["pairing"] is False

    holds(quiet, "no QR for an unpaired channel", seconds=2.0)  # the first QR comes at 1.5 s
    assert rig.engine.channel(name)["state"] == "QR_REQUIRED"


# ---- channel pair ------------------------------------------------------------------------------


def test_pair_shows_a_qr_in_the_terminal_and_connects_after_the_scan(rig: Rig, name: str) -> None:
    _, account = waiting_channel(rig, name, rig.manual)
    live = LiveCommand("channel", "pair", "--data-dir", rig.data, "--name", name, "--timeout", "60")
    try:
        live.wait_line("Scan with WhatsApp")
        assert rig.manual.scan(account)
        result = live.finish()
    finally:
        live.kill()
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "Connected."
    rows = qr_rows(result.out)
    assert len(rows) >= 10 and len({len(r) for r in rows}) == 1  # a square block of modules
    assert cli_channels(rig.data)[name]["state"] == "CONNECTED"


def test_pair_by_phone_number_prints_a_code_and_connects(rig: Rig, name: str) -> None:
    _, account = waiting_channel(rig, name, rig.manual)
    live = LiveCommand(
        "channel", "pair", "--data-dir", rig.data, "--name", name,
        "--phone", "+55 11 98765-4321", "--timeout", "60",
    )  # fmt: skip
    try:
        line = live.wait_line("Link with phone number:")
        assert rig.manual.scan(account)
        result = live.finish()
    finally:
        live.kill()
    assert CODE_RE.fullmatch(line.rsplit(": ", 1)[1])
    assert (result.code, result.out.splitlines()[-1]) == (0, "Connected.")
    assert qr_rows(result.out) == []
    assert rig.manual.count(account, "qr_codes") == 0


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        pytest.param("linked", [], "that channel is already connected", id="connected"),
        pytest.param("waiting", ["--phone", "12ab"], "not a valid phone number", id="phone"),
        pytest.param("missing", [], "no such channel", id="unknown"),
    ],
)
def test_pair_refuses_bad_requests_and_leaves_state_unchanged(
    rig: Rig, standing: dict[str, str], target: str, extra: list[str], message: str
) -> None:
    before = snapshot(rig, standing["linked"], standing["waiting"])
    result = cli("channel", "pair", "--data-dir", rig.data, "--name", standing[target], *extra)
    assert result.code == 1
    assert one_line_error(result) == message
    assert snapshot(rig, standing["linked"], standing["waiting"]) == before


def test_pair_with_nobody_scanning_times_out_with_a_clear_message(rig: Rig, name: str) -> None:
    waiting_channel(rig, name, rig.slow)
    result = cli("channel", "pair", "--data-dir", rig.data, "--name", name, "--timeout", "2")
    assert result.code == 1
    assert one_line_error(result) == "pairing timed out; nobody scanned the code"


def test_a_pair_command_that_gives_up_closes_the_pairing_window(rig: Rig, name: str) -> None:
    _, account = waiting_channel(rig, name, rig.slow)
    result = cli("channel", "pair", "--data-dir", rig.data, "--name", name, "--timeout", "2")
    assert result.code == 1
    assert rig.engine.channel(name)["state"] == "QR_REQUIRED"
    assert rig.slow.account(account)["pairing"] is False


# ---- faults (clinicdesk simulator fault) -------------------------------------------------------

CONNECTED = ("CONNECTED", "connected")
LOGGED_OUT, BANNED, REPLACED = (
    ("QR_REQUIRED", "logged_out"),
    ("ERROR", "banned"),
    ("ERROR", "replaced"),
)
TEMP_BAN = [("SUSPENDED", "temp_banned"), ("CONNECTING", "temp_banned"), CONNECTED]


@pytest.mark.parametrize(
    ("kind", "seconds", "path", "end", "reconnects"),
    [
        pytest.param("drop", [], [("CONNECTING", "connection_lost"), CONNECTED], CONNECTED, 1,
                     id="drop"),
        pytest.param("logout", [], [LOGGED_OUT], LOGGED_OUT, 0, id="logout"),
        pytest.param("ban", [], [BANNED], BANNED, 0, id="ban-permanent"),
        pytest.param("ban", ["--seconds", "2"], TEMP_BAN, CONNECTED, 1, id="ban-2s"),
        pytest.param("replaced", [], [REPLACED], REPLACED, 0, id="replaced"),
        pytest.param("deaf", [], [], CONNECTED, 0, id="deaf"),
    ],
)  # fmt: skip
def test_fault_ends_in_its_documented_state_and_stays_there(
    rig: Rig,
    name: str,
    kind: str,
    seconds: list[str],
    path: list[tuple[str, str]],
    end: tuple[str, str],
    reconnects: int,
) -> None:
    channel = rig.engine.linked_channel(BRANCH, name, rig.auto)
    account = sim_account(rig.auto, channel)
    mark = len(rig.engine.history(name))
    result = cli("simulator", "fault", kind, "--channel", account, *seconds, "--url", rig.auto.url)
    assert (result.code, result.out.strip()) == (0, f"{kind}: applied to 1 channel(s)")
    rig.engine.wait_state(name, *end, reconnects=reconnects)
    holds(lambda: rig.engine.state_of(name) == end, f"{name} stays {end}", seconds=1.0)
    assert rig.engine.history(name)[mark:] == path  # no retry loop, no detour
    listed = cli_channels(rig.data)[name]
    assert (listed["state"], listed["reason"]) == end
    assert listed["reconnects"] >= reconnects


# ---- logout, restart, inbound ------------------------------------------------------------------


def test_logout_unlinks_and_waits_for_a_person(rig: Rig, name: str) -> None:
    channel = rig.engine.linked_channel(BRANCH, name, rig.auto)
    account = sim_account(rig.auto, channel)
    result = cli("channel", "logout", "--data-dir", rig.data, "--name", name)
    assert (result.code, result.out.strip()) == (0, f"Channel {name}: logout requested")
    listed = cli_channels(rig.data)[name]
    assert (listed["state"], listed["reason"]) == ("QR_REQUIRED", "logout_by_user")
    assert rig.auto.account(account)["status"] == "unpaired"
    assert not (rig.data / "channels" / str(channel["id"]) / "simulator-session.json").exists()


def test_a_connected_channel_comes_back_after_an_engine_restart_without_pairing(
    tmp_path: Path, data_dir: Path, name: str
) -> None:
    init_installation(tmp_path, data_dir)
    sim = Simulator("--auto-pair")
    engines = [Engine(data_dir)]
    try:
        engines[0].call("POST", "/branches", json={"name": BRANCH})
        account = sim_account(sim, engines[0].linked_channel(BRANCH, name, sim))
        assert engines[0].stop() == 0
        stored = cli_channels(data_dir)[name]  # no engine: read from the store
        assert (stored["state"], stored["reason"]) == ("DISCONNECTED", "stopped")
        engines.append(Engine(data_dir))
        engines[1].wait_state(name, *CONNECTED)
        history = engines[1].history(name)
        assert history[-3:] == [("DISCONNECTED", "stopped"), ("CONNECTING", "starting"), CONNECTED]
        assert [state for state, _ in history].count("PAIRING") == 1  # the first pairing only
        assert (sim.count(account, "pairings"), sim.count(account, "qr_codes")) == (1, 1)
    finally:
        engines[-1].stop()
        sim.stop()


def test_burst_reaches_the_engine_as_inbound_events(rig: Rig, standing: dict[str, str]) -> None:
    channel = rig.engine.channel(standing["linked"])
    account = sim_account(rig.auto, channel)
    stream = EventStream(rig.engine, rig.engine.token)  # the local administrator
    try:
        result = cli(
            "simulator", "burst", "--channel", account, "--count", "5", "--url", rig.auto.url
        )
        assert result.code == 0, result.err
        got = stream.wait("InboundReceived", channel["id"], count=5)
    finally:
        stream.close()
    assert result.out.strip() == f"5 message(s) for {account}: delivering now"
    assert len({e["wa_id"] for e in got}) == 5


def test_simulator_commands_reach_a_channel_by_its_name(rig: Rig, name: str) -> None:
    rig.engine.linked_channel(BRANCH, name, rig.auto)
    assert rig.auto.http.get(f"/control/accounts/{name}").status_code == 200


# ---- the /events WebSocket -------------------------------------------------------------------


def test_events_reach_only_users_of_their_branch_and_qr_only_channel_managers(
    rig: Rig, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    branch = {side: rig.engine.call("POST", "/branches", json={"name": f"{side}-{tag}"})
              for side in "AB"}  # fmt: skip
    users = {f"admin-a.{tag}": ("A", "admin"), f"recep-a.{tag}": ("A", "receptionist"),
             f"admin-b.{tag}": ("B", "admin")}  # fmt: skip
    for user, (side, role) in users.items():
        add_user(rig.data, tmp_path, user, f"{side}-{tag}", role)
    admin_a, recep_a, admin_b = users
    a, account_a = waiting_channel(rig, f"a-{tag}", rig.manual, f"A-{tag}")
    b, account_b = waiting_channel(rig, f"b-{tag}", rig.auto, f"B-{tag}")
    streams = {user: EventStream(rig.engine, login(rig.engine, user)) for user in users}
    side_a = (streams[admin_a], streams[recep_a])
    try:
        rig.engine.call("POST", f"/channels/{a['name']}/pair", json={})
        streams[admin_a].wait("PairingQr", a["id"])
        assert rig.manual.scan(account_a)
        rig.engine.call("POST", f"/channels/{b['name']}/pair", json={})
        streams[admin_b].wait("ChannelStateChanged", b["id"], state="CONNECTED")
        # Each side's last event is a marker published after every event of the other side:
        # a stream delivers in order, so anything leaked would have arrived before it.
        rig.auto.fault("drop", account_b)
        streams[admin_b].wait("ChannelStateChanged", b["id"], state="CONNECTED", reconnects=1)
        rig.manual.fault("drop", account_a)
        for stream in side_a:
            stream.wait("ChannelStateChanged", a["id"], state="CONNECTED", reconnects=1)
        rig.auto.fault("drop", account_b)
        streams[admin_b].wait("ChannelStateChanged", b["id"], state="CONNECTED", reconnects=2)
    finally:
        for stream in streams.values():
            stream.close()
    ids = {"A": [branch["A"]["id"]], "B": [branch["B"]["id"]]}
    assert {u: s.hello["branches"] for u, s in streams.items()} == {
        admin_a: ids["A"],
        recep_a: ids["A"],
        admin_b: ids["B"],
    }
    seen = {user: s.channels() for user, s in streams.items()}
    assert seen == {admin_a: {a["id"]}, recep_a: {a["id"]}, admin_b: {b["id"]}}
    assert streams[admin_a].of("PairingQr", a["id"])
    assert streams[recep_a].of("PairingQr") == streams[recep_a].of("PairingCode") == []


@pytest.mark.parametrize(
    ("token", "first_frame"),
    [
        pytest.param("not-a-token", None, id="header"),
        pytest.param(None, json.dumps({"token": "not-a-token"}), id="first-frame"),
        pytest.param(None, "not json", id="garbage-frame"),
    ],
)
def test_a_bad_token_is_closed_with_policy_violation(
    rig: Rig, token: str | None, first_frame: str | None
) -> None:
    with (
        open_events(rig.engine, token, first_frame) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


@pytest.mark.parametrize("client", ["connected", "gone"])
def test_engine_stops_on_sigterm_with_an_events_client(
    tmp_path: Path, data_dir: Path, client: str
) -> None:
    init_installation(tmp_path, data_dir)
    engine = Engine(data_dir)
    stream = EventStream(engine, engine.token)
    try:
        {"connected": lambda: None, "gone": stream.close}[client]()
        assert engine.stop_or_kill(timeout=5) == 0
    finally:
        stream.close()


# ---- the demo ----------------------------------------------------------------------------------


def test_demo_headless_quits_with_a_summary_of_connected_channels(
    tmp_path: Path, key_dir: Path
) -> None:
    require_free_port(DEFAULT_PORT)  # the demo's simulator always uses the default port
    result = cli("--demo", "--headless", "--quit-after", "15", "--data-dir", tmp_path / "demo")
    assert result.code == 0, result.err
    summary = json_documents(result.out)[-1]
    assert set(summary) == {"channels", "messages_in", "total_in"}
    channels = summary["channels"]
    assert set(channels) == {"recepcao-1", "exames-1", "recepcao-2", "exames-2"}
    assert {c["state"] for c in channels.values()} == {"CONNECTED"}, (summary, result.err)
    assert summary["total_in"] == sum(summary["messages_in"].values()) >= 0
