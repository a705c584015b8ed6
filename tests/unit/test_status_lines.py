"""``clinicdesk status``'s backup lines (the text IT staff read)."""

from __future__ import annotations

from app.cli.status import _backup_lines


def test_a_running_backup_is_named_with_its_step() -> None:
    backups = {
        "last_success": {"at": "2026-12-06T02:30:05+00:00"},
        "next_run": "2026-12-08T02:30:00-03:00",
        "running": {"step": "database", "index": 4, "total": 5,
                    "started_at": "2026-12-07T09:30:00+00:00"},
        "targets": [{"path": "/mnt/backup", "free_bytes": 3 * 2**30}],
    }  # fmt: skip
    assert _backup_lines(backups) == [
        "Backups: last success 2026-12-06T02:30:05+00:00, next run 2026-12-08T02:30:00-03:00",
        "Backups: last verify never, last restore test never",
        "Backups: running since 2026-12-07T09:30:00+00:00, step 4 of 5 (database)",
        "Backup target: /mnt/backup (3.0 GiB free)",
    ]


def test_no_backup_service_prints_nothing() -> None:
    assert _backup_lines(None) == []
