"""Command-line start-up: how long ``clinicdesk`` commands take, against the same run's floor.

The floor is what every Python command pays before its first line of its own: starting the
interpreter (``python -c pass``), and starting it and importing httpx, the least a command
that talks to the engine needs (``python -c "import httpx"``). Each figure is the best of
``--rounds`` runs (start-up noise only adds), for commands with the engine running (the usual
case on a front-desk PC) and without one (the store is opened by the command).

Run: ``python -m tests.bench.bench_cli [--rounds 5] [--json]`` (docs/PERFORMANCE.md).
There is no goal in an issue; docs/CLI.md, "Start-up time", says why it matters.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.common import fmt, machine
from tests.helpers.cli import EngineProcess, init_installation, run_cli

FLOORS = {"python -c pass": ["-c", "pass"], "python -c 'import httpx'": ["-c", "import httpx"]}


def best_of(args: list[str], rounds: int) -> tuple[float, int]:
    """The shortest wall time of ``python ARGS`` over ``rounds`` runs, and the last exit code."""
    best, code = float("inf"), 0
    for _ in range(rounds):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, *args], capture_output=True, check=False)
        best, code = min(best, time.perf_counter() - start), proc.returncode
    return best, code


def commands(data_dir: Path) -> dict[str, list[str]]:
    """The commands timed: ``-m app`` and their arguments."""
    dd = ["--data-dir", str(data_dir)]
    return {
        "--version": ["--version"],
        "status": ["status", *dd],
        "user list": ["user", "list", *dd],
        "queue list": ["queue", "list", *dd, "--branch", "Centro"],
    }


def time_commands(data_dir: Path, rounds: int, label: str) -> list[dict[str, Any]]:
    rows = []
    for name, args in commands(data_dir).items():
        seconds, code = best_of(["-m", "app", *args], rounds)
        rows.append({"command": f"{name} ({label})", "seconds": round(seconds, 3), "exit": code})
    return rows


def run_benchmark(workdir: Path, rounds: int) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "rounds": rounds}
    report["floors"] = {name: round(best_of(args, rounds)[0], 3) for name, args in FLOORS.items()}
    data_dir = workdir / "data"
    init_installation(workdir, data_dir)
    made = run_cli("branch", "add", "--data-dir", data_dir, "--name", "Centro")
    report["errors"] = [] if made.code == 0 else [made.err.strip()]
    rows = time_commands(data_dir, rounds, "no engine")
    engine = EngineProcess(data_dir)
    try:
        engine.wait_ready()
        rows += time_commands(data_dir, rounds, "engine running")
    finally:
        engine.stop()
    floor, client_floor = report["floors"].values()
    for row in rows:
        row["per_floor"] = round(row["seconds"] / floor, 1)
        row["per_httpx_floor"] = round(row["seconds"] / client_floor, 2)
    report["commands"] = rows
    return report


def render(report: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in report["machine"].items()]
    lines += [f"floor {name}: {seconds} s" for name, seconds in report["floors"].items()]
    lines.append(f"{'command':<32} {'seconds':>8} {'/python':>8} {'/httpx':>7}  exit")
    for row in report["commands"]:
        lines.append(
            f"{row['command']:<32} {fmt(row['seconds']):>8} {fmt(row['per_floor']):>8} "
            f"{fmt(row['per_httpx_floor']):>7}  {row['exit']}"
        )
    lines += [f"error: {e}" for e in report["errors"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cli-")))
        report = run_benchmark(workdir, args.rounds)
    print(json.dumps(report, indent=1) if args.json else render(report))
    return 0 if not report["errors"] and all(r["exit"] == 0 for r in report["commands"]) else 1


if __name__ == "__main__":
    sys.exit(main())
