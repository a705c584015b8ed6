"""Channel-engine benchmark (issue 3): N simulated channels under one engine.

    .venv/bin/python -m tests.bench.bench_channels [--channels 1000] [--json]

The engine runs in this process (its supervisor on this event loop, its DB writer thread), with
production settings (``SupervisorSettings()``: connect cap 32, 250 channels per worker); the
channel workers and the simulator (``--auto-pair``) are real subprocesses. Phases:

1. floor — a bare WebSocket client in its own process says ``hello`` N times to the simulator,
   ``connect_cap`` at a time: the physical floor every engine time is divided by;
2. connect — the supervisor starts; every channel reports ``not_paired`` (QR_REQUIRED), is
   paired through ``ChannelService.pair`` (the simulator accepts at once) and must reach
   CONNECTED. Engine RSS is read before the supervisor starts and once all are CONNECTED;
3. storm — the simulator drops every socket (``POST /control/fault {"kind": "drop"}``); every
   channel must leave CONNECTED and come back, never more than ``connect_cap`` connects in flight;
4. restart — the supervisor stops (channels stored DISCONNECTED/stopped) and a new one starts:
   every channel reconnects with its stored session;
5. stop — the supervisor stops; no ``channel-worker`` process may remain.

A ticker on the loop wakes every 10 ms throughout and records how late it woke (the loop's
longest stall). Every figure is printed with its goal, value / goal, and, for times,
value / floor. Exit code 1 when a behaviour check fails (not all CONNECTED, cap exceeded, a
worker left behind); a missed goal is reported, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.bootstrap import Core, FirstAdmin, build_supervisor, init_installation
from app.channels.supervisor import Supervisor, SupervisorSettings
from app.config import ENV_KEY_DIR
from app.domain.channels import LinkState
from app.engine import freeze_startup_objects
from app.services.channels import ChannelSpec
from app.services.events import ChannelStateChanged, Event
from tests.bench import common

CONNECTED = LinkState.CONNECTED.value
QR_REQUIRED = LinkState.QR_REQUIRED.value

GOAL_CONNECT_S = 60.0
GOAL_RSS_PER_CHANNEL_KIB = 1024.0  # 1 MB
GOAL_STORM_S = 60.0
GOAL_STALL_MS = 100.0
CREATE_CHUNK = 100


@dataclass
class BenchOptions:
    channels: int = 1000
    settings: SupervisorSettings = field(default_factory=SupervisorSettings)
    deadline: float = 300.0  # per phase; well past every goal, so a slow run still reports
    engine_log: bool = True  # log to a file like ``clinicdesk engine`` (off in pytest)
    restart: bool = True
    trace_stalls: bool = False  # sample the loop thread's stack during stalls (diagnosis)


# ---- following the channels ----------------------------------------------------------------


class Tracker:
    """Follows ChannelStateChanged on the bus: current state per channel, reasons seen, and
    which channels left CONNECTED since :meth:`mark`."""

    def __init__(self, ids: list[int]) -> None:
        self.state: dict[int, str | None] = dict.fromkeys(ids)
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.left: set[int] = set()
        self.transitions = 0

    def on_event(self, event: Event) -> None:
        if not isinstance(event, ChannelStateChanged) or event.channel_id not in self.state:
            return
        old = self.state[event.channel_id]
        if old is not None:
            self.counts[old] -= 1
        self.counts[event.state] += 1
        self.state[event.channel_id] = event.state
        self.reasons[event.reason] += 1
        self.transitions += 1
        if event.state != CONNECTED:
            self.left.add(event.channel_id)

    def mark(self) -> None:
        self.reasons.clear()
        self.left.clear()
        self.transitions = 0

    def all_in(self, state: str) -> bool:
        return self.counts[state] == len(self.state)

    def all_back(self) -> bool:
        """Every channel left CONNECTED since :meth:`mark` and every one is CONNECTED now."""
        return len(self.left) == len(self.state) and self.all_in(CONNECTED)

    def histogram(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.counts.items()) if v}


async def until(check: Callable[[], bool], deadline: float, step: float = 0.01) -> float | None:
    """Seconds until ``check()`` held (polled every ``step``), or None at the deadline."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > deadline:
            return None
        await asyncio.sleep(step)
    return time.perf_counter() - started


# ---- CPU per phase ------------------------------------------------------------------------------


class CpuClock:
    """CPU seconds of the engine (this process), its workers and the simulator, per phase.

    Linux only for workers and simulator (``/proc``); a worker first seen in a phase counts
    from zero, a worker gone keeps its last reading.
    """

    def __init__(self, sim_pid: int) -> None:
        self.sim_pid = sim_pid
        self.worker_cpu: dict[int, float] = {}
        self.phases: dict[str, dict[str, float | None]] = {}
        self._last = self._read()

    def _read(self) -> dict[str, float | None]:
        for pid in common.children_of(os.getpid(), "channel-worker"):
            self.worker_cpu.setdefault(pid, 0.0)
        for pid in self.worker_cpu:
            value = common.cpu_s(pid)
            if value is not None:
                self.worker_cpu[pid] = value
        return {
            "engine": common.own_cpu_s(),
            "workers": sum(self.worker_cpu.values()) if common.LINUX else None,
            "simulator": common.cpu_s(self.sim_pid),
        }

    def lap(self, phase: str) -> None:
        now, last = self._read(), self._last
        self.phases[phase] = {
            k: None if now[k] is None or last[k] is None else round(now[k] - last[k], 2)  # type: ignore[operator]
            for k in now
        }
        self._last = now


# ---- the run ------------------------------------------------------------------------------


async def _seed(core: Core, count: int, sim_url: str) -> list[int]:
    """One branch and ``count`` simulator channels, created through ChannelService."""
    actor = core.local_actor()
    branch = await core.branches.add(actor, "Bench Centro")
    ids: list[int] = []
    for start in range(0, count, CREATE_CHUNK):
        specs = [
            ChannelSpec(
                branch.id, f"bench-{i:05d}", f"Bench {i}", "simulator",
                config={"simulator_url": sim_url, "account": f"bench-{i:05d}"},
            )
            for i in range(start, min(count, start + CREATE_CHUNK))
        ]  # fmt: skip
        views = await asyncio.gather(*(core.channels.create(actor, s) for s in specs))
        ids.extend(v.id for v in views)
    return ids


async def _start(core: Core, settings: SupervisorSettings) -> Supervisor:
    supervisor = build_supervisor(core, settings)
    core.channels.runtime = supervisor
    await supervisor.start()
    freeze_startup_objects()  # as app.engine.serve does after start-up
    return supervisor


async def _stop(core: Core, supervisor: Supervisor) -> float:
    started = time.perf_counter()
    core.channels.runtime = None
    await supervisor.stop()
    return time.perf_counter() - started


async def _settled_rss(meter: common.StallMeter) -> int:
    """RSS after a full collection (the collection's pause is the bench's, not the engine's)."""
    async with meter.excluded():
        gc.collect()
        return common.rss_kib()


async def _pair_all(core: Core, ids: list[int]) -> int:
    """Ask to pair every channel at once (as the demo does through the API); returns failures."""
    actor = core.local_actor()
    results = await asyncio.gather(
        *(core.channels.pair(actor, cid, None) for cid in ids), return_exceptions=True
    )
    return sum(isinstance(r, BaseException) for r in results)


async def _drop_all(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/control/fault", json={"kind": "drop", "channel": None})
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def run_benchmark(options: BenchOptions, workdir: Path) -> dict[str, Any]:
    """Run every phase in ``workdir`` (a fresh installation) and return the report."""
    n, settings = options.channels, options.settings
    report: dict[str, Any] = {
        "machine": common.machine(),
        "channels": n,
        "settings": {
            "connect_cap": settings.connect_cap,
            "channels_per_worker": settings.channels_per_worker,
            "connect_timeout_s": settings.connect_timeout,
            "backoff_s": [settings.backoff.base, settings.backoff.cap],
        },
        "checks": {},
        "errors": [],
    }
    old_key_dir = os.environ.get(ENV_KEY_DIR)
    os.environ[ENV_KEY_DIR] = str(workdir / "machine-keys")
    try:
        with common.simulator("--auto-pair") as sim:
            await _run_phases(options, workdir, sim, report)
    finally:
        if old_key_dir is None:
            os.environ.pop(ENV_KEY_DIR, None)
        else:
            os.environ[ENV_KEY_DIR] = old_key_dir
    report["figures"] = _figures(report, settings)
    return report


async def _run_phases(
    options: BenchOptions, workdir: Path, sim: common.SimulatorProcess, report: dict[str, Any]
) -> None:
    n, settings, deadline = options.channels, options.settings, options.deadline
    checks: dict[str, Any] = report["checks"]
    root = workdir / "data"
    admin = FirstAdmin("admin", "Bench Admin", "bench-password-0123456789")
    core, _recovery = await init_installation(root, admin)
    if options.engine_log:
        from app.infra.logging import configure_logging

        configure_logging(root / "logs", console=False)
    supervisor: Supervisor | None = None
    meter = common.StallMeter()
    tracer: common.StallTracer | None = None
    # Made (and used once) before the meter runs: its TLS context and lazy imports take ~0.1 s.
    http = httpx.AsyncClient(base_url=sim.url, timeout=120, trust_env=False)
    try:
        await http.get("/control/health")  # first request imports httpx's backends: not timed
        ids = await _seed(core, n, sim.url)
        tracker = Tracker(ids)
        core.bus.subscribe(tracker.on_event, None)

        # 1. floor: the simulator alone, N raw hellos from a bare client (own process).
        floor = await asyncio.to_thread(common.measure_floor, sim.url, n, settings.connect_cap)
        report["floor"] = floor
        checks["floor_all_answered"] = sum(floor["reasons"].values()) == n

        # 2. connect: start, all QR_REQUIRED, pair all, all CONNECTED.
        gc.collect()
        rss_before = common.rss_kib()
        cpu = CpuClock(sim.pid)
        meter.probe = lambda: supervisor.connects_in_flight if supervisor else 0
        meter.start()
        if options.trace_stalls:
            tracer = common.StallTracer(meter)
            tracer.start()
        meter.enter("connect")
        t0 = time.perf_counter()
        supervisor = await _start(core, settings)
        start_returned = time.perf_counter() - t0
        to_qr = await until(lambda: tracker.all_in(QR_REQUIRED), deadline)
        t_pair = time.perf_counter()
        pair_failures = await _pair_all(core, ids)
        pair_calls = time.perf_counter() - t_pair
        to_connected = await until(lambda: tracker.all_in(CONNECTED), deadline)
        t_end = time.perf_counter()
        connect_all = None if to_qr is None or to_connected is None else t_end - t0
        cpu.lap("connect")
        rss_after = await _settled_rss(meter)
        workers = common.children_of(os.getpid(), "channel-worker")
        worker_rss = [common.rss_of_kib(p) for p in workers]
        report["connect"] = {
            "start_returned_s": round(start_returned, 3),
            "start_to_all_qr_required_s": _r(to_qr),
            "pair_calls_s": round(pair_calls, 3),
            "pair_to_all_connected_s": _r(None if to_connected is None else t_end - t_pair),
            "all_connected_s": _r(connect_all),
            "pair_failures": pair_failures,
            "peak_connects_in_flight": supervisor.peak_connects_in_flight,
            "states": tracker.histogram(),
            "workers": len(workers),
        }
        report["memory"] = {
            "rss_before_kib": rss_before,
            "rss_all_connected_kib": rss_after,
            "growth_per_channel_kib": round((rss_after - rss_before) / n, 1),
            "workers_rss_kib": [r for r in worker_rss if r is not None],
        }
        checks["all_connected"] = connect_all is not None
        checks["workers_expected"] = len(workers) == -(-n // settings.channels_per_worker)
        checks["connect_peak_within_cap"] = (
            supervisor.peak_connects_in_flight <= settings.connect_cap
        )

        # 3. storm: the simulator drops every socket; all must come back under the cap.
        meter.enter("storm")
        running = supervisor
        await until(lambda: running.connects_in_flight == 0, 10.0)
        # Supervisor has no public reset of its peak: count the storm's own peak from here.
        running._peak = running.connects_in_flight
        tracker.mark()
        t0 = time.perf_counter()
        dropped = await _drop_all(http)
        fault_answered = time.perf_counter() - t0
        back = await until(tracker.all_back, deadline)
        storm = None if back is None else time.perf_counter() - t0
        cpu.lap("storm")
        report["storm"] = {
            "accounts_dropped": len(dropped.get("accounts", [])),
            "fault_answered_s": round(fault_answered, 3),
            "all_connected_again_s": _r(storm),
            "peak_connects_in_flight": supervisor.peak_connects_in_flight,
            "sampled_max_in_flight": meter.probe_max.get("storm"),
            "left_connected": len(tracker.left),
            "transitions": tracker.transitions,
            "reasons": dict(tracker.reasons),
            "states": tracker.histogram(),
        }
        report["memory"]["rss_after_storm_kib"] = await _settled_rss(meter)
        checks["storm_all_connected"] = storm is not None
        checks["storm_peak_within_cap"] = supervisor.peak_connects_in_flight <= settings.connect_cap

        # 4. restart: a new supervisor reconnects every channel with its stored session.
        if options.restart:
            meter.enter("restart")
            stop_s = await _stop(core, supervisor)
            old_workers = workers
            supervisor = None
            tracker.mark()
            t0 = time.perf_counter()
            supervisor = await _start(core, settings)
            back = await until(tracker.all_back, deadline)
            restart = None if back is None else time.perf_counter() - t0
            cpu.lap("restart")
            report["restart"] = {
                "stop_s": round(stop_s, 3),
                "old_workers_left": sum(common.alive(p) for p in old_workers),
                "all_connected_s": _r(restart),
                "peak_connects_in_flight": supervisor.peak_connects_in_flight,
                "reasons": dict(tracker.reasons),
                "states": tracker.histogram(),
            }
            checks["restart_all_connected"] = restart is not None
            checks["restart_peak_within_cap"] = (
                supervisor.peak_connects_in_flight <= settings.connect_cap
            )

        # 5. stop: everything ends; no worker remains.
        meter.enter("stop")
        workers = common.children_of(os.getpid(), "channel-worker")
        stop_s = await _stop(core, supervisor)
        supervisor = None
        cpu.lap("stop")
        left = [p for p in workers if common.alive(p)]
        left += common.children_of(os.getpid(), "channel-worker")
        report["stop"] = {"stop_s": round(stop_s, 3), "workers_left": sorted(set(left))}
        checks["no_worker_left"] = not left
        report["cpu_s"] = cpu.phases
    except Exception as exc:
        report["errors"].append(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        await meter.stop()
        if tracer is not None:
            tracer.stop()
            report["stall_traces"] = tracer.report()
        report["stall"] = {
            "max_ms": meter.max_ms,
            "per_phase_ms": meter.phase_ms(),
            "ticks": meter.ticks,
            "ticks_over_50ms": meter.over_50ms,
            "ticks_over_100ms": meter.over_100ms,
            "worst": [
                {"late_ms": round(1000 * late, 1), "phase": phase, "at_s": round(at, 2)}
                for late, phase, at in meter.top
            ],
        }
        report["gc"] = meter.gc_report()
        report["memory_peak_rss_kib"] = common.peak_rss_kib()
        if hasattr(os, "getloadavg"):
            report["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
        await http.aclose()
        if supervisor is not None:
            with contextlib.suppress(Exception):
                await _stop(core, supervisor)
        core.close()


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# ---- figures and ratios ------------------------------------------------------------------------


def _ratio(value: float | None, limit: float | None) -> float | None:
    if value is None or not limit:
        return None
    return round(value / limit, 3)


def _figures(report: dict[str, Any], settings: SupervisorSettings) -> list[dict[str, Any]]:
    """Each goal of issue 3 with its value, value / goal and (times) value / same-run floor."""
    floor = report.get("floor", {}).get("seconds")
    connect = report.get("connect", {})
    storm = report.get("storm", {})
    restart = report.get("restart", {})
    rows = [
        ("floor: N raw hellos, simulator alone (s)", floor, None, False, "s"),
        ("all CONNECTED from start, pairing included (s)", connect.get("all_connected_s"),
         GOAL_CONNECT_S, True, "s"),
        ("engine RSS growth per channel (KiB)",
         report.get("memory", {}).get("growth_per_channel_kib"), GOAL_RSS_PER_CHANNEL_KIB,
         False, "KiB"),
        ("storm: all CONNECTED again after drop (s)", storm.get("all_connected_again_s"),
         GOAL_STORM_S, True, "s"),
        ("storm: peak connects in flight", storm.get("peak_connects_in_flight"),
         float(settings.connect_cap), False, ""),
        # the issue states the stall goal for the reconnect storm; the whole-run maximum
        # (start-up pairing of every channel included) is shown beside it for information
        ("storm: event loop longest stall (ms)",
         report.get("stall", {}).get("per_phase_ms", {}).get("storm"), GOAL_STALL_MS, False, "ms"),
        ("whole run: event loop longest stall (ms)", report.get("stall", {}).get("max_ms"), None,
         False, "ms"),
    ]  # fmt: skip
    if restart:
        rows.append(("restart: all CONNECTED with stored sessions (s)",
                     restart.get("all_connected_s"), GOAL_CONNECT_S, True, "s"))  # fmt: skip
    figures = []
    for name, value, goal, vs_floor, unit in rows:
        figures.append(
            {
                "figure": name,
                "value": value,
                "unit": unit,
                "goal": goal,
                "value_per_goal": _ratio(value, goal),
                "value_per_floor": _ratio(value, floor) if vs_floor else None,
                "meets_goal": None if goal is None or value is None else value <= goal,
            }
        )
    return figures


def render(report: dict[str, Any]) -> str:
    """The report as text: machine, figures with ratios, then the details."""
    m = report["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']} "
        f"(kernel {m['kernel']}), Python {m['python']}, {m['sqlcipher']}; load average "
        f"{m.get('load_avg_1m_at_start')} at start, {m.get('load_avg_1m_at_end')} at end",
        f"channels: {report['channels']}, settings: {report['settings']}",
        "",
        f"{'figure':<50} {'value':>10} {'goal':>8} {'val/goal':>9} {'val/floor':>10}  ok",
    ]
    for f in report.get("figures", []):
        lines.append(
            f"{f['figure']:<50} {common.fmt(f['value']):>10} {common.fmt(f['goal']):>8} "
            f"{common.fmt(f['value_per_goal']):>9} {common.fmt(f['value_per_floor']):>10}  "
            f"{'-' if f['meets_goal'] is None else ('yes' if f['meets_goal'] else 'NO')}"
        )
    lines.append("")
    for key in ("floor", "connect", "memory", "storm", "restart", "stop", "stall", "gc", "cpu_s"):
        if key in report:
            lines.append(f"{key}: {json.dumps(report[key])}")
    for trace in report.get("stall_traces", []):
        lines.append(f"stall ~{trace['approx_ms']} ms in {trace['phase']} at {trace['at_s']} s:")
        lines.extend(f"    {st['samples']:>3} x {st['stack']}" for st in trace["stacks"])
    lines.append(f"checks: {json.dumps(report['checks'])}")
    if report["errors"]:
        lines.append(f"errors: {report['errors']}")
    return "\n".join(lines)


passed = common.passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_channels", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-restart", action="store_true", help="skip the restart phase")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--trace-stalls",
        action="store_true",
        help="sample the loop's stack during stalls and print the culprits (diagnosis)",
    )
    args = parser.parse_args(argv)
    if args.channels < 1:
        parser.error("--channels must be >= 1")
    options = BenchOptions(
        channels=args.channels, restart=not args.no_restart, trace_stalls=args.trace_stalls
    )
    workdir = Path(tempfile.mkdtemp(prefix="clinicdesk-bench-"))
    try:
        report = asyncio.run(run_benchmark(options, workdir))
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if passed(report) else 1


__all__ = ["BenchOptions", "passed", "render", "run_benchmark"]

if __name__ == "__main__":
    sys.exit(main())
