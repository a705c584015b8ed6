"""The channel benchmark's code path, small: 20 channels, real workers and simulator.

Asserts behaviour only (every channel CONNECTED after start, storm and restart; connects in
flight never above the cap; no worker left; every figure reported) — never a time. The
1,000-channel run is ``python -m tests.bench.bench_channels`` (docs/PERFORMANCE.md); pytest
does not collect ``bench_channels.py``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from app.channels.supervisor import SupervisorSettings
from tests.bench.bench_channels import BenchOptions, passed, render, run_benchmark

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
