"""The backup benchmark's code path at a tiny scale: behaviour only (every figure reported, the
archive written and verified, ingest kept going), never a time. The full run is
``python -m tests.bench.bench_backup`` (docs/PERFORMANCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.backup.ledger import LEDGER_PREFIX
from tests.bench.bench_backup import run_benchmark

pytestmark = pytest.mark.slow


async def test_backup_benchmark_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINICDESK_KEY_DIR", str(tmp_path / "keys"))
    report = await run_benchmark(0.001, tmp_path)
    figures = report["figures"]
    assert figures["archive_mb"] > 0 and figures["ingests_during_backup"] >= 0
    assert set(report["goals"]) == {"backup_over_copy<=2", "ingest_stall<=100ms"}
    assert all(
        value is not None
        for key, value in figures.items()
        if not key.startswith(("ingest_p", "ingest_max_during_at"))
    )
    written = sorted(p.name for p in (tmp_path / "target").iterdir())
    assert len(written) == 2  # the archive and, beside it, the erasure ledger (LGPD)
    assert written[0].endswith(".cdbk") and written[1].startswith(LEDGER_PREFIX)
