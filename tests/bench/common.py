"""Shared benchmark plumbing: machine description, memory and CPU readings, the event-loop
stall meter, the simulator process, and the same-run floor (a bare WebSocket client).

Benchmarks print ratios against limits measured in the same run, never bare seconds: the
floor here is how long the simulator alone needs to answer N raw ``hello`` frames from a
client with no engine behind it. ``python -m tests.bench.common floor --url URL`` runs that
client in its own process (so its memory and CPU never count as the engine's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
READY = "listening on "
LINUX = sys.platform.startswith("linux")
EXCLUDED = "(bench)"


# ---- machine -------------------------------------------------------------------------------


def fmt(value: object) -> str:
    """A figure for a report line: "-" when absent, three significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def passed(report: dict[str, Any]) -> bool:
    """Every behaviour check held and nothing failed (a missed goal is not a failure)."""
    return bool(report["checks"]) and all(report["checks"].values()) and not report["errors"]


def figure_lines(figures: list[dict[str, Any]]) -> list[str]:
    """The table of figures: value, goal, value/goal and whether the goal is met."""
    lines = [f"{'figure':<50} {'value':>10} {'goal':>10} {'val/goal':>9}  ok"]
    for f in figures:
        ok = "-" if f["meets_goal"] is None else ("yes" if f["meets_goal"] else "NO")
        lines.append(
            f"{f['figure']:<50} {fmt(f['value']):>10} {f['goal']:>10} "
            f"{fmt(f['value_per_goal']):>9}  {ok}"
        )
    return lines


def _first_line_with(path: str, prefix: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return None


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return f"{platform.system()} {platform.release()}"


def _sqlcipher_version() -> str:
    try:
        import sqlcipher3

        conn = sqlcipher3.connect(":memory:")
        try:
            cipher = conn.execute("PRAGMA cipher_version").fetchone()[0]
            sqlite = conn.execute("SELECT sqlite_version()").fetchone()[0]
        finally:
            conn.close()
        return f"SQLCipher {cipher} (SQLite {sqlite})"
    except Exception as exc:  # the description must never stop a benchmark
        return f"unknown ({type(exc).__name__})"


def machine() -> dict[str, Any]:
    """What the figures were measured on (recorded next to them in docs/PERFORMANCE.md)."""
    mem_kib = _first_line_with("/proc/meminfo", "MemTotal")
    mem_gib = round(int(mem_kib.split()[0]) / 1024 / 1024, 1) if mem_kib else None
    return {
        "cpu": _first_line_with("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": mem_gib,
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlcipher": _sqlcipher_version(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


# ---- memory and CPU --------------------------------------------------------------------------


def rss_kib() -> int:
    """This process's resident set size now (Linux: VmRSS), else its peak (getrusage)."""
    value = _first_line_with("/proc/self/status", "VmRSS")
    if value is not None:
        return int(value.split()[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


def peak_rss_kib() -> int:
    value = _first_line_with("/proc/self/status", "VmHWM")
    if value is not None:
        return int(value.split()[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def rss_of_kib(pid: int) -> int | None:
    """Another process's VmRSS (Linux only)."""
    value = _first_line_with(f"/proc/{pid}/status", "VmRSS")
    return int(value.split()[0]) if value else None


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of another live process (Linux only; None elsewhere/gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children_of(pid: int, marker: str) -> list[int]:
    """Live direct children of ``pid`` whose command line contains ``marker`` (Linux only)."""
    found: list[int] = []
    if not LINUX:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parts = stat.rsplit(")", 1)[1].split()
        if int(parts[1]) == pid and parts[0] != "Z" and marker in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    """Whether ``pid`` still exists and is not a zombie."""
    if LINUX:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# ---- event-loop stall meter -----------------------------------------------------------------


@dataclass
class StallMeter:
    """A ticker on the loop under test: wakes every ``period`` s and records how late it woke.

    The longest lateness is the longest time the loop could not run anything else (a stall).
    ``probe`` is sampled on every tick (e.g. connects in flight) and its maximum kept per phase.
    """

    period: float = 0.010
    phase: str = "setup"
    worst: dict[str, float] = field(default_factory=dict)
    probe_max: dict[str, int] = field(default_factory=dict)
    ticks: int = 0
    over_50ms: int = 0
    over_100ms: int = 0
    top: list[tuple[float, str, float]] = field(default_factory=list)  # (late, phase, at)
    probe: Any = None
    gc_count: dict[int, int] = field(default_factory=dict)  # collections per generation
    gc_worst_ms: dict[int, float] = field(default_factory=dict)
    gc_top: list[tuple[float, int, str, float]] = field(default_factory=list)  # (ms, gen, ...)
    beat: float = 0.0  # last tick (read by StallTracer)
    t0: float = 0.0
    _task: asyncio.Task[None] | None = None
    _gc_started: float = 0.0

    def start(self) -> None:
        self.t0 = self.beat = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="stall-meter")
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, stage: str, info: dict[str, int]) -> None:
        """Cyclic-GC pauses (they stop the loop like any other work): count, worst, when."""
        if stage == "start":
            self._gc_started = time.monotonic()
            return
        pause = 1000 * (time.monotonic() - self._gc_started)
        gen = info["generation"]
        self.gc_count[gen] = self.gc_count.get(gen, 0) + 1
        self.gc_worst_ms[gen] = max(self.gc_worst_ms.get(gen, 0.0), pause)
        if pause > 20.0:
            self.gc_top.append((pause, gen, self.phase, self._gc_started - self.t0))
            self.gc_top.sort(reverse=True)
            del self.gc_top[8:]

    def gc_report(self) -> dict[str, Any]:
        return {
            "collections": {f"gen{g}": n for g, n in sorted(self.gc_count.items())},
            "worst_ms": {f"gen{g}": round(v, 1) for g, v in sorted(self.gc_worst_ms.items())},
            "worst": [
                {"pause_ms": round(ms, 1), "gen": gen, "phase": phase, "at_s": round(at, 2)}
                for ms, gen, phase, at in self.gc_top
            ],
        }

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def enter(self, phase: str) -> None:
        self.phase = phase

    @contextlib.asynccontextmanager
    async def excluded(self) -> Any:
        """Work of the benchmark itself (gc.collect before reading RSS): the ticker's lateness
        caused by it is recorded under ``(bench)`` and left out of :attr:`max_ms`."""
        phase, self.phase = self.phase, EXCLUDED
        try:
            yield
            await asyncio.sleep(self.period * 2)  # let the ticker wake while still excluded
        finally:
            self.phase = phase

    @property
    def max_ms(self) -> float:
        engine = [v for k, v in self.worst.items() if k != EXCLUDED]
        return round(1000 * max(engine, default=0.0), 1)

    def phase_ms(self) -> dict[str, float]:
        return {k: round(1000 * v, 1) for k, v in self.worst.items()}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.period
            await asyncio.sleep(self.period)
            late = max(0.0, loop.time() - expected)
            self.beat = time.monotonic()
            self._record(late)

    def _record(self, late: float) -> None:
        self.ticks += 1
        phase = self.phase
        if late > self.worst.get(phase, -1.0):
            self.worst[phase] = late
        if phase != EXCLUDED:
            self.over_50ms += late > 0.050
            self.over_100ms += late > 0.100
        if late > 0.020:
            self.top.append((late, phase, time.monotonic() - self.t0))
            self.top.sort(reverse=True)
            del self.top[8:]
        if self.probe is not None:
            value = int(self.probe())
            if value > self.probe_max.get(phase, -1):
                self.probe_max[phase] = value


class StallTracer:
    """Optional (``--trace-stalls``): a thread that, while the loop has not ticked for
    ``threshold`` s, samples the loop thread's stack every ``every`` s. Each stall keeps the
    stacks it caught, so a long stall names the code that held the loop (or the GIL)."""

    def __init__(self, meter: StallMeter, threshold: float = 0.04, every: float = 0.005) -> None:
        self.meter, self.threshold, self.every = meter, threshold, every
        self.stalls: list[dict[str, Any]] = []
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-tracer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _watch(self) -> None:
        current: dict[str, Any] | None = None
        while not self._stop.wait(self.every):
            since = time.monotonic() - self.meter.beat
            if since < self.threshold:
                if current is not None:
                    current["ms"] = round(1000 * (time.monotonic() - current["t"]) + 40, 0)
                    self.stalls.append(current)
                    current = None
                continue
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            if current is None:
                current = {"t": time.monotonic(), "phase": self.meter.phase, "stacks": {}}
            key = _signature(frame)
            current["stacks"][key] = current["stacks"].get(key, 0) + 1

    def report(self, min_ms: float = 80.0, top: int = 3) -> list[dict[str, Any]]:
        out = []
        for stall in sorted(self.stalls, key=lambda s: -s["ms"]):
            if stall["ms"] < min_ms or stall["phase"] == EXCLUDED:
                continue
            stacks = sorted(stall["stacks"].items(), key=lambda kv: -kv[1])[:top]
            out.append(
                {
                    "approx_ms": stall["ms"],
                    "phase": stall["phase"],
                    "at_s": round(stall["t"] - self.meter.t0, 2),
                    "stacks": [{"samples": n, "stack": k} for k, n in stacks],
                }
            )
        return out[:10]


def _signature(frame: Any) -> str:
    """The innermost frames of a stack, ours first: ``file:line fn <- ...``."""
    frames = traceback.extract_stack(frame)[::-1]
    picked = []
    for f in frames:
        short = f.filename.split("/site-packages/")[-1].replace(str(REPO) + "/", "")
        picked.append(f"{short}:{f.lineno} {f.name}")
        if len(picked) >= 7:
            break
    return " <- ".join(picked)


# ---- simulator ---------------------------------------------------------------------------------


class SimulatorProcess:
    """``python -m app simulator serve --port 0 --auto-pair`` in a subprocess."""

    def __init__(self, *extra: str) -> None:
        args = [sys.executable, "-m", "app", "simulator", "serve", "--port", "0", *extra]
        self.proc = subprocess.Popen(  # our own interpreter and module
            args, cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if READY not in line:
            self.stop()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.url = line.split(READY, 1)[1].strip()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def simulator(*extra: str) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(*extra)
    try:
        yield sim
    finally:
        sim.stop()


# ---- the floor: a bare client saying hello ------------------------------------------------------


async def raw_hellos(url: str, count: int, concurrency: int, prefix: str) -> dict[str, Any]:
    """Open ``count`` sockets (``concurrency`` dialling at a time), say hello without a session
    and wait for each first ``state`` frame; every socket stays open until the last answered.
    Returns the elapsed seconds and what the simulator answered."""
    from websockets.asyncio.client import connect

    from app.simulator import protocol as p

    gate = asyncio.Semaphore(concurrency)
    sockets: list[Any] = []
    reasons: dict[str, int] = {}

    async def one(index: int) -> None:
        name = f"{prefix}{index:05d}"
        async with gate:
            ws = await connect(p.ws_url(url, name), compression=None, proxy=None, open_timeout=60)
            sockets.append(ws)
            await ws.send(p.encode(p.HELLO, account=name, session=None))
            frame = p.decode(await ws.recv())
        reason = str(frame.get("reason"))
        reasons[reason] = reasons.get(reason, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"seconds": elapsed, "count": count, "concurrency": concurrency, "reasons": reasons}


def measure_floor(url: str, count: int, concurrency: int, prefix: str = "floor-") -> dict[str, Any]:
    """Run :func:`raw_hellos` in a separate process and return its JSON answer."""
    args = [
        sys.executable, "-m", "tests.bench.common", "floor", "--url", url,
        "--count", str(count), "--concurrency", str(concurrency), "--prefix", prefix,
    ]  # fmt: skip
    out = subprocess.run(  # our own interpreter and module
        args, cwd=REPO, capture_output=True, text=True, timeout=600, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.common")
    sub = parser.add_subparsers(dest="command", required=True)
    floor = sub.add_parser("floor", help="N raw hellos against a running simulator")
    floor.add_argument("--url", required=True)
    floor.add_argument("--count", type=int, default=1000)
    floor.add_argument("--concurrency", type=int, default=32)
    floor.add_argument("--prefix", default="floor-")
    args = parser.parse_args(argv)
    result = asyncio.run(raw_hellos(args.url, args.count, args.concurrency, args.prefix))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
