"""The desk benchmark's code paths, tiny: a seeded installation, a real engine, simulator and
worker, the real desk widgets offscreen on this qasync loop.

Asserts behaviour and shape only (rows painted, every switch showed messages, the rare word
found, every burst event seen, every figure reported) — never a time. The full run is
``python -m tests.bench.bench_desk`` (docs/PERFORMANCE.md); pytest does not collect
``bench_*.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bench.bench_desk import Options, passed, render, run_benchmark
from tests.bench.bench_messaging import SEARCHES

# Here (not in tests/bench) for tests/ui/conftest.py: the qasync loop the desk needs.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="worker processes: POSIX here"),
]


async def test_desk_benchmark_small(qapp: Any, tmp_path: Path) -> None:
    qapp.setQuitOnLastWindowClosed(False)
    report = await run_benchmark(Options(scale=0.001, rounds=1, switches=4), tmp_path)
    text = render(report)

    assert passed(report), text
    assert report["seed"]["messages"] == 2_000 and report["seed"]["tickets"] == 200, text
    assert report["first_paint"]["rows_loaded"] > 0, text
    assert report["switch"]["n"] == 4, text
    assert report["search"]["all"]["n"] == len(SEARCHES), text  # one search of each
    assert report["burst"]["events_seen"] == report["burst"]["burst"] == 20, text
    assert report["inject"]["events"] == 500 and report["inject"]["ticks"] > 0, text
    figures = {f["figure"]: f for f in report["figures"]}
    assert len(figures) == 5, text
    for figure in figures.values():
        assert figure["value"] is not None and figure["value_per_goal"] is not None, figure
