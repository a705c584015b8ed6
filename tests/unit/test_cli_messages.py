"""Every core error code has an English line for IT staff (app/cli/messages.py)."""

from __future__ import annotations

import pytest

from app.cli.messages import _TEXT, message_for
from app.domain.errors import ClinicDeskError, ErrorCode


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_english_text(code: ErrorCode) -> None:
    assert code in _TEXT


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ClinicDeskError(ErrorCode.BACKUP_ARCHIVE_INVALID, reason="truncated"), "truncated"),
        (
            ClinicDeskError(ErrorCode.BACKUP_ARCHIVE_INVALID, reason="chunk_tampered", chunk=3),
            "chunk_tampered",
        ),
        (
            ClinicDeskError(
                ErrorCode.BACKUP_TARGET_FAILED, path="/mnt/usb", error="No space left on device"
            ),
            "No space left",
        ),
        (ClinicDeskError(ErrorCode.RESTORE_DIR_NOT_EMPTY, path="/data"), "--replace"),
        (ClinicDeskError(ErrorCode.BACKUP_WRONG_KEY, reason="recovery_key"), "does not open"),
    ],
)
def test_backup_messages_name_the_reason(error: ClinicDeskError, expected: str) -> None:
    assert expected in message_for(error)
