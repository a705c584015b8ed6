"""The benchmarks' code paths, small: channels (20 channels, real workers and simulator),
messaging (ingest, send, search, stall at a tiny scale) and command-line start-up (one round).

Asserts behaviour only (every channel CONNECTED after start, storm and restart; connects in
flight never above the cap; no worker left; every event stored and every send arrived; every
figure reported) — never a time. The full runs are ``python -m tests.bench.bench_channels``,
``python -m tests.bench.bench_messaging`` and ``python -m tests.bench.bench_cli``
(docs/PERFORMANCE.md); pytest does not collect
``bench_*.py``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from app.channels.supervisor import SupervisorSettings
from tests.bench.bench_channels import BenchOptions, passed, render, run_benchmark
from tests.bench.bench_messaging import SEARCHES
from tests.bench.bench_messaging import Options as MessagingOptions
from tests.bench.bench_messaging import passed as messaging_passed
from tests.bench.bench_messaging import render as render_messaging
from tests.bench.bench_messaging import run_benchmark as run_messaging

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="reads /proc; POSIX process checks"),
]

CHANNELS = 20
# A small cap and small workers, so 20 channels still queue behind the cap and span 2 workers.
SETTINGS = dataclasses.replace(SupervisorSettings(), connect_cap=4, channels_per_worker=10)


async def test_channel_benchmark_small(tmp_path: Path) -> None:
    options = BenchOptions(channels=CHANNELS, settings=SETTINGS, deadline=90.0, engine_log=False)
    report = await run_benchmark(options, tmp_path)
    text = render(report)

    assert passed(report), text
    assert report["connect"]["states"] == {"CONNECTED": CHANNELS}, text
    assert report["connect"]["workers"] == 2, text
    assert report["storm"]["left_connected"] == CHANNELS, text
    assert report["storm"]["reasons"].get("connection_lost") == CHANNELS, text
    assert report["restart"]["states"] == {"CONNECTED": CHANNELS}, text
    for phase in ("connect", "storm", "restart"):
        assert 1 <= report[phase]["peak_connects_in_flight"] <= SETTINGS.connect_cap, text
    assert report["stop"]["workers_left"] == [], text
    assert report["floor"]["reasons"] == {"not_paired": CHANNELS}, text
    # Every figure is there with a value and its ratios (whatever the values are).
    figures = {f["figure"]: f for f in report["figures"]}
    assert len(figures) == 8, text
    for figure in figures.values():
        assert figure["value"] is not None, figure
        assert figure["goal"] is None or figure["value_per_goal"] is not None, figure
    assert sum(f["value_per_floor"] is not None for f in figures.values()) == 3, text
    assert report["memory"]["rss_all_connected_kib"] > 0
    assert report["stall"]["ticks"] > 0


async def test_messaging_benchmark_small(tmp_path: Path) -> None:
    """Every messaging sub-benchmark at a tiny scale: all stored, all sent, every figure there
    with a value and its ratio to the goal (whatever the values are)."""
    options = MessagingOptions(scale=0.001, send_channels=2, search_rounds=2, ingest_channels=4)
    report = await run_messaging(options, tmp_path)
    text = render_messaging(report)

    assert messaging_passed(report), text
    assert report["ingest"]["stored_inbound"] == report["ingest"]["events"] == 40, text
    assert report["ingest"]["raw_per_s"] > 0 and report["ingest"]["pipeline_per_s"] > 0, text
    assert report["send"]["request_to_simulator"]["n"] == report["send"]["sends"] == 6, text
    assert report["search"]["messages"] == 2_000, text
    assert len(report["search"]["queries"]) == 2 * len(SEARCHES), text  # two readers
    assert report["stall"]["stored"] == 20 and report["stall"]["ticks"] > 0, text
    figures = {f["figure"]: f for f in report["figures"]}
    assert len(figures) == 5, text
    for figure in figures.values():
        assert figure["value"] is not None and figure["value_per_goal"] is not None, figure
        assert figure["meets_goal"] in (True, False), figure
    assert "figure" in text and "checks:" in text


def test_cli_benchmark_small(tmp_path: Path) -> None:
    from tests.bench import bench_cli

    report = bench_cli.run_benchmark(tmp_path, rounds=1)
    text = bench_cli.render(report)
    assert report["errors"] == [], text
    labels = {row["command"] for row in report["commands"]}
    for name in bench_cli.commands(tmp_path):
        assert {f"{name} (no engine)", f"{name} (engine running)"} <= labels, text
    assert all(row["exit"] == 0 for row in report["commands"]), text
    assert all(row["per_floor"] > 0 for row in report["commands"]), text


async def test_export_benchmark_small(tmp_path: Path) -> None:
    from tests.bench import bench_export

    report = await bench_export.run_benchmark(0.02, tmp_path)
    figures = report["figures"]
    assert (figures["messages"], figures["attachments"]) == (100, 4)  # every row, every file
    assert figures["export_s"] > 0 and figures["floor_s"] > 0
    assert set(report["goals"]) == {"export<=60s"}
    assert "export_over_goal" in bench_export.render(report)
