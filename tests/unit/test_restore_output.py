"""What ``clinicdesk backup restore`` prints about the erasure ledger (LGPD)."""

from __future__ import annotations

import pytest

from app.backup.restore import RestoreReport
from app.cli.backup_cmd import print_restored


def _report(**changes: object) -> RestoreReport:
    report = RestoreReport("/dados", "2026-12-06T03:00:00+00:00", rows=10, media=2)
    for name, value in changes.items():
        setattr(report, name, value)
    return report


def test_replayed_erasures_are_said(capsys: pytest.CaptureFixture[str]) -> None:
    print_restored(_report(ledger="read", erasures_replayed=2))
    out = capsys.readouterr().out
    assert "Erased again 2 patient(s) listed in the erasure ledger" in out
    assert "Warning" not in out


def test_a_damaged_ledger_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    print_restored(_report(ledger="unreadable"))
    out = capsys.readouterr().out
    assert "Warning: the erasure ledger beside the archive is damaged" in out
    assert "Erased again" not in out


def test_nothing_is_said_without_a_ledger(capsys: pytest.CaptureFixture[str]) -> None:
    print_restored(_report())
    assert capsys.readouterr().out == (
        "Restored the backup of 2026-12-06T03:00:00+00:00 into /dados\n"
    )
